"""Revoking documents (withdrawn, perhaps replaced) and signers (their certificates)."""

from __future__ import annotations

from docgen import audit
from docgen.documents import DICABUT, get_document
from docgen.errors import Conflict, DataInvalid, FieldProblem
from docgen.models import Document, utcnow
from docgen.runtime import Runtime


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
            await get_document(rt, document_id)  # raises the usual NotFound
        assert document is not None
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
