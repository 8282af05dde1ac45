"""Revoking documents (withdrawn, perhaps replaced) and signers (their certificates)."""

from __future__ import annotations

from datetime import timedelta

from docgen.documents.service import DICABUT, get_document
from docgen.errors import Conflict, DataInvalid, FieldProblem, NotFound
from docgen.registry import audit
from docgen.registry.models import Document, Signer, utcnow
from docgen.runtime import Runtime
from docgen.signers.crl import publish_crl
from docgen.signers.service import get_signer


async def revoke_document(
    rt: Runtime, document_id: str, reason: str, replaced_by: str | None = None
) -> Document:
    """Mark a document DICABUT with a reason and optionally the document that replaces it.

    Nothing stored is deleted: every revision stays retrievable and verifiable.

    Raises NotFound, Conflict (409: already revoked), DataInvalid (422: the replacement does not
    exist, is the document itself, or is revoked itself).
    """
    async with rt.document_lock(document_id), rt.write_lock, rt.db.session() as session:
        document = await session.get(Document, document_id)
        if document is None:
            raise NotFound("Dokumen tidak ditemukan")
        if document.status == DICABUT:
            raise Conflict("Dokumen sudah dicabut")
        if replaced_by is not None:
            replacement = await session.get(Document, replaced_by)
            problem = None
            if replacement is None or replaced_by == document_id:
                problem = "dokumen pengganti tidak ditemukan"
            elif replacement.status == DICABUT:
                problem = "dokumen pengganti sudah dicabut"
            if problem:
                raise DataInvalid([FieldProblem("replaced_by", problem)])
        document.status = DICABUT
        document.revoked_at = utcnow()
        document.revoke_reason = reason
        document.replaced_by_id = replaced_by
        await audit.record(
            session,
            "document.revoked",
            "document",
            document_id,
            reason=reason,
            replaced_by=replaced_by,
        )
        await session.commit()
    return await get_document(rt, document_id)


async def revoke_signer(rt: Runtime, signer_id: str, reason: str) -> Signer:
    """Revoke the signer's certificate: it is listed in the CRL at once and cannot sign again.

    Signatures made before stay valid: their time stamps prove they predate the revocation.

    Raises NotFound, Conflict (409: already revoked).
    """
    async with rt.write_lock, rt.db.session() as session:
        signer = await session.get(Signer, signer_id)
        if signer is None:
            raise NotFound("Penanda tangan tidak ditemukan")
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
    await publish_crl(rt)
    return await get_signer(rt, signer_id)
