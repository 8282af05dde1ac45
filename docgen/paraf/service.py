"""Paraf: verifikator initial a document, in order, before its first signature.

A template asks for it (``[paraf] steps`` in its manifest) or a document names its verifikator
when it is made (``"paraf": [user ids]`` in its request, for any template). Such a document is
issued MENUNGGU_PARAF: its PDF is made and numbered as any other, but nobody signs it yet. Each
verifikator in turn reads it and initials it (paraf) or returns it to its operator with a note;
after the last paraf it is MENUNGGU (waiting for signatures) and its first signers are told. A
returned document is DIKEMBALIKAN: nobody initials or signs it any more; the operator reads the
note, revokes it and makes a corrected one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from docgen.documents import repository as documents
from docgen.documents.service import DocumentService
from docgen.errors import Conflict, Forbidden, NotFound
from docgen.paraf import repository
from docgen.paraf.steps import waiting_before
from docgen.people.policies import Caller
from docgen.registry import audit
from docgen.registry.models import Document, ParafStep, utcnow
from docgen.registry.statuses import DocumentStatus, ParafState

__all__ = ["Paraf", "Pending"]


@dataclass(frozen=True)
class Pending:
    """A paraf a verifikator still has to make; ``before``: the steps that come first."""

    document: Document
    step: ParafStep
    before: list[ParafStep]


async def _record(session: AsyncSession, action: str, step: ParafStep, **details: object) -> None:
    """The audit entry of a step's paraf or return, naming its verifikator."""
    await audit.record(
        session,
        action,
        "document",
        step.document_id,
        step=step.step,
        label=step.label,
        verifikator=step.user_id,
        **details,
    )


class Paraf:
    """The verifikator's part: what waits for them, paraf, return."""

    def __init__(self, documents: DocumentService) -> None:
        self.db = documents.db
        self.locks = documents.locks
        self.notifier = documents.notifier

    async def pending(self, caller: Caller) -> list[Pending]:
        """The caller's steps not initialled yet, oldest document first."""
        async with self.db.session() as session:
            found = await repository.pending_for(session, caller.id)
        return [Pending(d, step, waiting_before(d, step)) for d, step in found]

    async def approve(self, caller: Caller, document_id: str) -> None:
        """The caller initials the document at their step; after the last step the document
        waits for its signatures and its first signers are told.

        Raises NotFound, Forbidden (403: the caller is no verifikator of it), Conflict (409: not
        their turn, already initialled, returned, revoked, or no paraf is awaited).
        """
        async with self.locks.holding(document_id), self.db.writing() as session:
            document, step = await self._turn(session, caller, document_id)
            step.state = ParafState.DIPARAF
            step.done_at = utcnow()
            complete = all(s.state == ParafState.DIPARAF for s in document.paraf_steps)
            if complete:
                document.status = DocumentStatus.MENUNGGU
            await _record(session, "document.paraf", step, complete=complete)
            await session.commit()
        if complete:
            self.notifier.issued(document_id)
        else:
            self.notifier.paraf_turn(document_id)

    async def send_back(self, caller: Caller, document_id: str, note: str) -> None:
        """The caller returns the document to its operator with ``note``: DIKEMBALIKAN, nobody
        initials or signs it any more (the operator revokes it and makes a corrected one).

        Raises NotFound, Forbidden (403), Conflict (409), as :meth:`approve`.
        """
        async with self.locks.holding(document_id), self.db.writing() as session:
            document, step = await self._turn(session, caller, document_id)
            step.state = ParafState.DIKEMBALIKAN
            step.done_at = utcnow()
            step.note = note
            document.status = DocumentStatus.DIKEMBALIKAN
            await _record(session, "document.paraf_returned", step, note=note)
            await session.commit()
        self.notifier.paraf_returned(document_id)

    @staticmethod
    async def _turn(
        session: AsyncSession, caller: Caller, document_id: str
    ) -> tuple[Document, ParafStep]:
        document = await documents.get(session, document_id)
        step = next((s for s in document.paraf_steps if s.user_id == caller.id), None)
        if step is None:
            if caller.in_unit(document.unit_id):
                raise Forbidden("Anda bukan verifikator dokumen ini")
            raise NotFound("Dokumen tidak ditemukan")
        if document.status == DocumentStatus.DIKEMBALIKAN:
            raise Conflict("Dokumen sudah dikembalikan ke operator; paraf tidak diperlukan lagi")
        if document.status == DocumentStatus.DICABUT:
            raise Conflict("Dokumen telah dicabut dan tidak dapat diparaf")
        if step.state == ParafState.DIPARAF:
            raise Conflict("Anda sudah memaraf dokumen ini")
        if document.status != DocumentStatus.MENUNGGU_PARAF:
            raise Conflict("Dokumen ini tidak menunggu paraf")
        before = waiting_before(document, step)
        if before:
            names = ", ".join(f"{s.label} ({s.user.username})" for s in before)
            raise Conflict(f"Belum giliran Anda: {names} harus memaraf lebih dahulu")
        return document, step
