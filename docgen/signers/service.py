"""Enrolling signers and unlocking their keys with a PIN (with lockout)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import BaseModel, Field, field_validator

from docgen.errors import SignerLocked, WrongPin
from docgen.indonesia import validate_nomor_induk, validate_pangkat
from docgen.registry import audit
from docgen.registry.models import Signer, utcnow
from docgen.runtime import Runtime
from signing.errors import InvalidPin
from signing.pades.sign import SigningIdentity
from signing.pki.keys import generate_private_key, seal_private_key, unseal_private_key
from signing.waktu import format_waktu_wib


class SignerIn(BaseModel):
    name: str = Field(min_length=2, max_length=200, examples=["Drs. BUDI SANTOSO, M.Si."])
    nip: str | None = Field(default=None, examples=["198609262015051001"])
    jabatan: str = Field(min_length=2, max_length=200)
    pangkat: str | None = Field(default=None, examples=["III/a"])
    unit: str = Field(min_length=2, max_length=200)
    pin: str = Field(min_length=6, max_length=64, description="at least 6 characters")

    @field_validator("nip")
    @classmethod
    def _nip(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_nomor_induk(value)

    @field_validator("pangkat")
    @classmethod
    def _pangkat(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_pangkat(value)


def _issue(rt: Runtime, data: SignerIn) -> tuple[bytes, str]:
    key = generate_private_key()
    cert = rt.ca.issue_signer_certificate(
        key.public_key(),
        name=data.name,
        nip=data.nip,
        jabatan=data.jabatan,
        unit=data.unit,
        crl_url=rt.crl_url,
    )
    sealed = seal_private_key(key, data.pin, rt.pepper)
    return sealed, cert.public_bytes(serialization.Encoding.PEM).decode()


async def enrol_signer(rt: Runtime, data: SignerIn) -> Signer:
    """Create a key pair and certificate; the key is kept only sealed under the PIN."""
    sealed, cert_pem = await anyio.to_thread.run_sync(_issue, rt, data)
    signer = Signer(
        id=uuid.uuid4().hex,
        name=data.name,
        nip=data.nip,
        jabatan=data.jabatan,
        pangkat=data.pangkat,
        unit=data.unit,
        certificate_pem=cert_pem,
        sealed_key=sealed,
        failed_pins=0,
    )
    async with rt.write_lock, rt.db.session() as session:
        session.add(signer)
        await audit.record(session, "signer.enrolled", "signer", signer.id, nip=data.nip)
        await session.commit()
    return signer


async def get_signer(rt: Runtime, signer_id: str) -> Signer:
    """Raises NotFound."""
    return await rt.fetch(Signer, signer_id, "Penanda tangan tidak ditemukan")


async def unlock_identity(rt: Runtime, signer_id: str, pin: str) -> tuple[Signer, SigningIdentity]:
    """Open the signer's key with ``pin``.

    Raises NotFound, SignerLocked (423) while locked, WrongPin (403) for a wrong PIN; the
    ``pin_max_attempts``-th wrong PIN in a row locks the signer for ``pin_lock_minutes``.
    """
    settings = rt.settings
    signer = await get_signer(rt, signer_id)
    now = utcnow()
    if signer.locked_until is not None and signer.locked_until > now:
        raise SignerLocked(
            "Penanda tangan dikunci sementara karena PIN salah berulang kali; "
            f"coba lagi setelah {format_waktu_wib(signer.locked_until)}"
        )
    try:
        key: RSAPrivateKey = await anyio.to_thread.run_sync(
            unseal_private_key, signer.sealed_key, pin, rt.pepper
        )
    except InvalidPin:
        async with rt.write_lock, rt.db.session() as session:
            current = await session.get(Signer, signer_id)
            assert current is not None
            current.failed_pins += 1
            left = settings.pin_max_attempts - current.failed_pins
            await audit.record(session, "signer.wrong_pin", "signer", signer_id)
            if left <= 0:
                current.failed_pins = 0
                current.locked_until = now + timedelta(minutes=settings.pin_lock_minutes)
                await audit.record(session, "signer.locked", "signer", signer_id)
            await session.commit()
        raise WrongPin(
            f"PIN salah; sisa {left} percobaan"
            if left > 0
            else f"PIN salah; penanda tangan dikunci {settings.pin_lock_minutes} menit"
        ) from None
    if signer.failed_pins:
        async with rt.write_lock, rt.db.session() as session:
            current = await session.get(Signer, signer_id)
            assert current is not None
            current.failed_pins = 0
            await session.commit()
    cert = x509.load_pem_x509_certificate(signer.certificate_pem.encode())
    identity = SigningIdentity(private_key=key, certificate=cert, chain=rt.ca.chain)
    return signer, identity
