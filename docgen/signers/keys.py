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
from docgen.people.profiles import zone_of
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
from signing.waktu import format_waktu

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

        Each try first takes one of the ``max_attempts`` tries left, in one statement in the
        registry, so however many tries arrive at once, at most that many PINs are checked
        before the ``max_attempts``-th wrong one locks the signer for ``lock_minutes``.

        Raises NotFound, SignerLocked (423) while locked, WrongPin (403) for a wrong PIN.
        """
        policy = self._policy
        now = utcnow()
        async with self._db.writing() as session:
            attempt = await repository.take_pin_try(session, signer_id, policy.max_attempts, now)
            await session.commit()
            signer = await repository.get(session, signer_id)
            zona = await zone_of(session, signer.unit_id)  # the signer's unit writes its times
        if attempt is None:
            raise SignerLocked(
                "Penanda tangan dikunci sementara karena PIN salah berulang kali; "
                f"coba lagi setelah {format_waktu(signer.locked_until or now, zona)}"
            )
        if signer.sealed_key is None or signer.certificate_pem is None:
            raise SignerLocked("Penanda tangan belum mengaktifkan akunnya")
        try:
            key: RSAPrivateKey = await anyio.to_thread.run_sync(
                unseal_private_key, signer.sealed_key, pin, self._pepper
            )
        except InvalidPin:
            left = policy.max_attempts - attempt
            async with self._db.writing() as session:
                await audit.record(session, "signer.wrong_pin", "signer", signer_id)
                if left <= 0:
                    until = now + timedelta(minutes=policy.lock_minutes)
                    await repository.lock(session, signer_id, until)
                    await audit.record(session, "signer.locked", "signer", signer_id)
                await session.commit()
            raise WrongPin(
                f"PIN salah; sisa {left} percobaan"
                if left > 0
                else f"PIN salah; penanda tangan dikunci {policy.lock_minutes} menit"
            ) from None
        async with self._db.writing() as session:
            await repository.reset_pin_tries(session, signer_id)
            await session.commit()
        cert = x509.load_pem_x509_certificate(signer.certificate_pem.encode())
        return signer, SigningIdentity(private_key=key, certificate=cert, chain=self._ca.chain)

    async def reseal(self, key: RSAPrivateKey, pin: str) -> bytes:
        """The same key sealed under a new PIN."""
        return await anyio.to_thread.run_sync(seal_private_key, key, pin, self._pepper)
