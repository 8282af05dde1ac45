"""Signer keys: made at enrolment and sealed under the signer's PIN; unsealed to sign, with a
lockout after wrong PINs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from docgen.errors import SignerLocked, WrongPin
from docgen.kit.links import Links
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import Signer, utcnow
from docgen.signers import repository
from signing.errors import InvalidPin
from signing.pades import SigningIdentity
from signing.pki import (
    CertificateAuthority,
    generate_private_key,
    seal_private_key,
    unseal_private_key,
)
from signing.waktu import format_waktu_wib

__all__ = ["IssuedKey", "PinPolicy", "SignerKeys"]


@dataclass(frozen=True)
class PinPolicy:
    """How many wrong PINs in a row lock a signer, and for how long."""

    max_attempts: int
    lock_minutes: int


@dataclass(frozen=True)
class IssuedKey:
    """A new key pair: the private key sealed under the PIN, and its certificate (PEM)."""

    sealed: bytes
    certificate_pem: str


class SignerKeys:
    """Issues signer keys and certificates, and unseals a key for the one who knows its PIN."""

    def __init__(
        self,
        db: Database,
        ca: CertificateAuthority,
        pepper: bytes,
        policy: PinPolicy,
        links: Links,
    ) -> None:
        self._db = db
        self._ca = ca
        self._pepper = pepper
        self._policy = policy
        self._links = links

    async def issue(
        self, *, name: str, nip: str | None, jabatan: str, unit: str, pin: str
    ) -> IssuedKey:
        """A key pair and a certificate from the internal CA; the key only sealed under ``pin``."""

        def issue() -> IssuedKey:
            key = generate_private_key()
            cert = self._ca.issue_signer_certificate(
                key.public_key(),
                name=name,
                nip=nip,
                jabatan=jabatan,
                unit=unit,
                crl_url=self._links.crl_url,
            )
            return IssuedKey(
                seal_private_key(key, pin, self._pepper),
                cert.public_bytes(serialization.Encoding.PEM).decode(),
            )

        return await anyio.to_thread.run_sync(issue)

    async def unlock(self, signer_id: str, pin: str) -> tuple[Signer, SigningIdentity]:
        """Open the signer's key with ``pin``.

        Raises NotFound, SignerLocked (423) while locked, WrongPin (403) for a wrong PIN; the
        ``max_attempts``-th wrong PIN in a row locks the signer for ``lock_minutes``.
        """
        policy = self._policy
        async with self._db.session() as session:
            signer = await repository.get(session, signer_id)
        now = utcnow()
        if signer.locked_until is not None and signer.locked_until > now:
            raise SignerLocked(
                "Penanda tangan dikunci sementara karena PIN salah berulang kali; "
                f"coba lagi setelah {format_waktu_wib(signer.locked_until)}"
            )
        try:
            key: RSAPrivateKey = await anyio.to_thread.run_sync(
                unseal_private_key, signer.sealed_key, pin, self._pepper
            )
        except InvalidPin:
            async with self._db.writing() as session:
                current = await repository.get(session, signer_id)
                current.failed_pins += 1
                left = policy.max_attempts - current.failed_pins
                await audit.record(session, "signer.wrong_pin", "signer", signer_id)
                if left <= 0:
                    current.failed_pins = 0
                    current.locked_until = now + timedelta(minutes=policy.lock_minutes)
                    await audit.record(session, "signer.locked", "signer", signer_id)
                await session.commit()
            raise WrongPin(
                f"PIN salah; sisa {left} percobaan"
                if left > 0
                else f"PIN salah; penanda tangan dikunci {policy.lock_minutes} menit"
            ) from None
        if signer.failed_pins:
            async with self._db.writing() as session:
                current = await repository.get(session, signer_id)
                current.failed_pins = 0
                await session.commit()
        cert = x509.load_pem_x509_certificate(signer.certificate_pem.encode())
        return signer, SigningIdentity(private_key=key, certificate=cert, chain=self._ca.chain)
