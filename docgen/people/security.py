"""Passwords (argon2id), random tokens kept only as their SHA-256, TOTP codes (pyotp) and the
rules a PIN must follow."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import anyio
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "TOKEN_BYTES",
    "Passwords",
    "TotpCheck",
    "new_token",
    "new_totp_secret",
    "otpauth_uri",
    "password_problem",
    "pin_problem",
    "token_digest",
]

TOKEN_BYTES = 32  # 256 random bits in every session cookie, API token and activation link
ISSUER = "docgen"


class Passwords:
    """Password hashes: argon2id, ``time_cost`` passes over ``memory_kib`` KiB
    (DOCGEN_PASSWORD_TIME_COST, DOCGEN_PASSWORD_MEMORY_KIB; by default the library's RFC 9106
    low-memory parameters, 3 passes over 64 MiB: ~170 ms of CPU a hash or check here). A hash
    carries its parameters: one made at another cost still verifies."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified when the username is unknown, so the answer takes as long as for a known one.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        """The password's hash, made in a worker thread: argon2 holds no GIL, and the event
        loop goes on serving meanwhile."""
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; as slow for a missing hash as for a wrong password.
        Checked in a worker thread, as :meth:`hash`."""
        return await anyio.to_thread.run_sync(self._matches, password_hash, password)

    def _matches(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False


def new_token(prefix: str = "") -> tuple[str, str]:
    """A random token and its SHA-256 (what the registry keeps)."""
    token = prefix + secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


class TotpCheck:
    """A TOTP code checked against a secret: accepted within one step either side, and only if
    its step is newer than ``last_step`` (a code is good once)."""

    @staticmethod
    def step(secret: str, code: str | None, last_step: int, now: datetime) -> int | None:
        """The time step the code belongs to, or None when it is wrong or already used."""
        if not code or not code.isdigit() or len(code) != 6:
            return None
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        for step in (current, current - 1, current + 1):
            if step > last_step and secrets.compare_digest(totp.generate_otp(step), code):
                return step
        return None


def password_problem(password: str, username: str) -> str | None:
    """Why a password may not be used, in Bahasa Indonesia; None when it may."""
    if len(password) < 10:
        return "kata sandi minimal 10 karakter"
    if username.lower() in password.lower():
        return "kata sandi tidak boleh memuat nama pengguna"
    if len(set(password)) < 4:
        return "kata sandi terlalu sederhana"
    return None


def _is_run(digits: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({1}, {9})


def pin_problem(pin: str, nomor: str | None) -> str | None:
    """Why a PIN may not be used: fewer than 6 digits, one repeated digit, an ascending or
    descending run, or the birth date in the signer's NIP / NI PPPK / NIK. None when it may."""
    if not (pin.isascii() and pin.isdigit()) or len(pin) < 6:
        return "PIN harus berupa angka, minimal 6 digit"
    if len(set(pin)) == 1:
        return "PIN tidak boleh satu angka yang berulang"
    if _is_run(pin):
        return "PIN tidak boleh berupa deret angka naik atau turun"
    if nomor and any(part in pin for part in _birth_dates(nomor)):
        return "PIN tidak boleh memuat tanggal lahir Anda"
    return None


def _birth_dates(nomor: str) -> set[str]:
    """The birth date in a NIP / NI PPPK (YYYYMMDD) or a NIK (DDMMYY, women's day + 40), as
    the forms people type it."""
    if len(nomor) == 18:
        yyyy, mm, dd = nomor[0:4], nomor[4:6], nomor[6:8]
    elif len(nomor) == 16:
        day = int(nomor[6:8])
        dd, mm, yy = f"{day - 40 if day > 40 else day:02d}", nomor[8:10], nomor[10:12]
        return {dd + mm + yy, yy + mm + dd, nomor[6:12]}
    else:
        return set()
    return {yyyy + mm + dd, dd + mm + yyyy, dd + mm + yyyy[2:], yyyy[2:] + mm + dd}
