"""Signers: enrolling them (a key pair sealed under their PIN and a certificate), and revoking
their certificates."""

from __future__ import annotations

import uuid
from datetime import timedelta

from docgen.errors import Conflict
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import Signer, utcnow
from docgen.signers import repository
from docgen.signers.keys import SignerKeys
from docgen.signers.revocation import RevocationList
from docgen.signers.schemas import SignerIn

__all__ = ["enrol_signer", "revoke_signer"]


async def enrol_signer(db: Database, keys: SignerKeys, data: SignerIn) -> Signer:
    """Create a key pair and certificate; the key is kept only sealed under the PIN."""
    issued = await keys.issue(
        name=data.name, nip=data.nip, jabatan=data.jabatan, unit=data.unit, pin=data.pin
    )
    signer = Signer(
        id=uuid.uuid4().hex,
        name=data.name,
        nip=data.nip,
        jabatan=data.jabatan,
        pangkat=data.pangkat,
        unit=data.unit,
        certificate_pem=issued.certificate_pem,
        sealed_key=issued.sealed,
        failed_pins=0,
    )
    async with db.writing() as session:
        session.add(signer)
        await audit.record(session, "signer.enrolled", "signer", signer.id, nip=data.nip)
        await session.commit()
    return signer


async def revoke_signer(
    db: Database, revocations: RevocationList, signer_id: str, reason: str
) -> Signer:
    """Revoke the signer's certificate: it is listed in the CRL at once and cannot sign again.

    Signatures made before stay valid: their time stamps prove they predate the revocation.

    Raises NotFound, Conflict (409: already revoked).
    """
    async with db.writing() as session:
        signer = await repository.get(session, signer_id)
        if signer.revoked_at is not None:
            raise Conflict("Sertifikat penanda tangan sudah dicabut")
        # CRLs carry whole seconds: round up, so that a signature time-stamped a moment before
        # the revocation is not listed as made after it.
        now = utcnow()
        signer.revoked_at = now.replace(microsecond=0) + timedelta(
            seconds=1 if now.microsecond else 0
        )
        signer.revoke_reason = reason
        await audit.record(session, "signer.revoked", "signer", signer_id, reason=reason)
        await session.commit()
    await revocations.publish()
    return signer
