"""Making one chunk of a batch's rows, exactly once, whoever else tries the same chunk.

A batch's valid rows are split into chunks when it is accepted (``batch_chunks``,
``batch_rows.chunk``). A chunk is made in three steps:

1. **Claim** (a short transaction, the chunk's row locked): a chunk already made, or failed for
   good, ends here. Otherwise its attempt count goes up, the previous attempt's pack key moves
   to ``abandoned_packs`` and the chunk gets a new one, named from the batch, the chunk and the
   attempt. The pack key is the claim's fencing token.
2. **Make**: render, convert, stamp, and store the chunk's revisions as one pack under that key,
   written create-only.
3. **Register** (one transaction, the chunk's row locked again): if the chunk's pack key is no
   longer ours, a later claim superseded this one (its maker took us for dead), so nothing is
   registered and our pack stays listed in ``abandoned_packs``. Otherwise the documents, the
   rows' states and the chunk's end are registered together, and the batch ends with its last
   chunk: its row locked, the one registration that finds no chunk left open finishes it.

So each row is registered once, and every pack under ``batches/<id>/dibuat-`` is named in the
registry: a current ``pack_key`` whose documents are registered, or an abandoned one.

A row's number was reserved when the batch was accepted: a row made again keeps it (with a new
document id and verification code, since the abandoned attempt's never became public).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.batches import repository
from docgen.documents import repository as documents
from docgen.documents.service import new_verify_code
from docgen.errors import ConversionFailed, DataInvalid, DocgenError, TemplateNotFound
from docgen.kit.links import Links
from docgen.notifications import Notifier
from docgen.people.profiles import kop_of_unit
from docgen.pipeline.orchestration import Draft, Made, Pipeline
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import Batch, BatchChunk, BatchRow, utcnow
from docgen.registry.statuses import BatchStatus, ChunkStatus, RowStatus
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import Template
from docgen.templating.validation import restored, validate_data

__all__ = [
    "ChunkEnd",
    "ChunkMaker",
    "Claim",
    "MadeChunk",
    "RowsTaken",
    "chunk_pack_key",
    "claimant",
]

log = logging.getLogger(__name__)


_OPEN = (ChunkStatus.MENUNGGU, ChunkStatus.BERJALAN)


def chunk_pack_key(batch_id: str, chunk: int, attempt: int) -> str:
    """Where attempt ``attempt`` (from 1) of a chunk stores its pack: one key per attempt, so a
    superseded attempt's pack never collides with the next one's."""
    return f"batches/{batch_id}/dibuat-{chunk:04d}-{attempt}.zip"


def claimant() -> str:
    """Who claims, as ``claimed_by`` records it: this process, ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ChunkEnd(Enum):
    """How one try at a chunk ended."""

    ALREADY_FINAL = "already final"  # made (or failed for good) before: nothing done
    REGISTERED = "registered"  # its documents and rows are in the registry
    FAILED = "failed"  # it cannot be made: its rows are marked failed with the reason
    SUPERSEDED = "superseded"  # claimed again meanwhile: nothing registered, our pack abandoned


class RowsTaken(RuntimeError):
    """Rows of a claimed chunk were no longer waiting at its registration: something outside
    the chunk's claims changed them. Nothing was registered; the next claim makes what still
    waits."""


@dataclass(frozen=True)
class Claim:
    """One attempt at a chunk: its batch, its waiting rows (in row order), and the pack key
    that proves the attempt is still the current one."""

    batch: Batch
    chunk: int
    attempt: int
    pack_key: str
    rows: Sequence[BatchRow]


@dataclass(frozen=True)
class MadeChunk:
    """What an attempt made, to be registered: the documents, and each row's new state."""

    documents: Sequence[Made]
    rows: Sequence[dict[str, Any]]  # id, status, and document_id or errors


class ChunkMaker:
    """Claims, makes and registers the chunks of accepted batches."""

    def __init__(
        self,
        db: Database,
        catalogue: TemplateCatalogue,
        pipeline: Pipeline,
        links: Links,
        notifier: Notifier,
        *,
        name: str | None = None,
        reload_templates: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.pipeline = pipeline
        self.links = links
        self.notifier = notifier
        self.name = name or claimant()
        # On a version this process has not loaded (uploaded after it started): the registry's
        # uploads read again, once, before the chunk's rows fail for want of it.
        self._reload_templates = reload_templates

    async def make_chunk(self, batch_id: str, chunk: int) -> ChunkEnd:
        """Claim the chunk, make it and register it (or its rows' failure).

        Raises LookupError (no such chunk), RowsTaken, and what making raises
        (StorageUnavailable, ObjectExists, a LibreOffice or registry failure): the chunk then
        stays claimed, and the next claim makes it again.
        """
        claim = await self.claim(batch_id, chunk)
        if claim is None:
            return ChunkEnd.ALREADY_FINAL
        batch = claim.batch
        template = await self._template(batch)
        if template is None:
            # Its folder was changed since the batch was accepted: nothing can be made from it.
            message = f"templat {batch.template_id} versi {batch.template_version} tidak ada lagi"
            return await self.fail(claim, message)
        return await self.register(claim, await self.make(claim, template))

    async def _template(self, batch: Batch) -> Template | None:
        """The batch's template version, read from the registry's uploads if this process
        does not hold it; None if it is nowhere."""
        try:
            return self.catalogue.get(batch.template_id, batch.template_version)
        except TemplateNotFound:
            if self._reload_templates is None:
                return None
        await self._reload_templates()
        try:
            return self.catalogue.get(batch.template_id, batch.template_version)
        except TemplateNotFound:
            return None

    async def claim(self, batch_id: str, chunk: int) -> Claim | None:
        """A new attempt at the chunk, superseding any earlier one; None if the chunk is final
        (made, or failed for good). Raises LookupError (no such chunk)."""
        async with self.db.session() as session:
            found = await _locked_chunk(session, batch_id, chunk)
            if found.status not in _OPEN:
                return None
            found.attempts += 1
            if found.pack_key is not None:
                found.abandoned_packs = [*found.abandoned_packs, found.pack_key]
            found.pack_key = chunk_pack_key(batch_id, chunk, found.attempts)
            found.status = ChunkStatus.BERJALAN
            found.claimed_by = self.name
            found.updated_at = utcnow()
            await session.execute(
                update(Batch)
                .where(Batch.id == batch_id, Batch.status == BatchStatus.ANTRE)
                .values(status=BatchStatus.BERJALAN)
            )
            batch = await repository.get(session, batch_id)
            rows = await repository.chunk_rows(session, batch_id, chunk)
            claim = Claim(batch, chunk, found.attempts, found.pack_key, rows)
            await session.commit()
        return claim

    async def make(self, claim: Claim, template: Template) -> MadeChunk:
        """The claimed rows' documents made and stored as one pack under the claim's key.

        Raises StorageUnavailable, ObjectExists, and a LibreOffice or worker failure that is
        not one document's.
        """
        batch = claim.batch
        failed: dict[int, str] = {}  # row id -> why
        drafts: dict[int, Draft] = {}
        async with self.db.session() as session:
            kop = await kop_of_unit(session, batch.unit_id)
        for row in claim.rows:
            try:
                clean = _clean(template, row)
            except DataInvalid as exc:  # a row accepted before its checked data was kept
                failed[row.id] = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
                continue
            assert row.number is not None
            code = new_verify_code()
            # Rows accepted before each was bound carry the batch's choice only.
            signers = row.signers if row.signers is not None else batch.signers
            drafts[row.id] = Draft(
                template, clean, row.number, code, self.links.verify_url(code), signers, kop=kop
            )
        row_of_draft = {draft.id: row_id for row_id, draft in drafts.items()}
        outcome = await self.pipeline.make(list(drafts.values()), pack=claim.pack_key)
        for draft_id, error in outcome.failed.items():
            failed[row_of_draft[draft_id]] = _reason(error)
        row_number = {row.id: row.row for row in claim.rows}
        states = [
            {
                "id": row_of_draft[made.draft.id],
                "status": RowStatus.SELESAI,
                "document_id": made.draft.id,
            }
            for made in outcome.done
        ] + [
            {
                "id": row_id,
                "status": RowStatus.GAGAL,
                "errors": [{"row": row_number[row_id], "column": "-", "message": message}],
            }
            for row_id, message in failed.items()
        ]
        return MadeChunk(outcome.done, states)

    async def register(self, claim: Claim, made: MadeChunk) -> ChunkEnd:
        """Register what the claim made, unless a later claim superseded it (then nothing).

        Raises RowsTaken.
        """
        batch = claim.batch
        async with self.db.writing() as session:
            if not await _still_current(session, claim):
                log.warning(
                    "batch %s chunk %d: attempt %d was superseded; its pack %s is abandoned",
                    batch.id,
                    claim.chunk,
                    claim.attempt,
                    claim.pack_key,
                )
                return ChunkEnd.SUPERSEDED
            await _rows_still_waiting(session, claim, [state["id"] for state in made.rows])
            # The documents first: the rows point to them.
            await documents.register_made(
                session,
                made.documents,
                unit_id=batch.unit_id,
                created_by=batch.created_by or audit.SYSTEM,
            )
            if made.rows:
                # One UPDATE per chunk (executemany by primary key), not one per row.
                await session.execute(update(BatchRow), list(made.rows))
            finished = await _end_chunk(
                session, claim.batch.id, claim.chunk, ChunkStatus.SELESAI, None
            )
            await session.commit()
        if finished:
            # Once for the whole batch: one message per first signer, not one per document.
            self.notifier.batch_made(batch.id)
        return ChunkEnd.REGISTERED

    async def fail(self, claim: Claim, message: str) -> ChunkEnd:
        """The claimed chunk cannot be made: its waiting rows fail with ``message``, unless a
        later claim superseded this one (then nothing)."""
        async with self.db.writing() as session:
            if not await _still_current(session, claim):
                return ChunkEnd.SUPERSEDED
            finished = await _fail_rows(session, claim.batch.id, claim.chunk, message)
            await session.commit()
        if finished:
            self.notifier.batch_made(claim.batch.id)
        return ChunkEnd.FAILED

    async def give_up(self, batch_id: str, chunk: int, message: str) -> bool:
        """The chunk's tries are spent: its waiting rows fail with ``message``, whoever claimed
        it last (a late registration of that claim then finds it ended and registers nothing).
        Whether it was still open. Raises LookupError (no such chunk)."""
        async with self.db.writing() as session:
            found = await _locked_chunk(session, batch_id, chunk)
            if found.status not in _OPEN:
                return False
            finished = await _fail_rows(session, batch_id, chunk, message)
            await session.commit()
        if finished:
            self.notifier.batch_made(batch_id)
        return True

    async def finish(self, batch_id: str) -> bool:
        """Finish the batch if none of its chunks is open (a batch whose rows were all made
        before it had chunks); whether this call finished it."""
        async with self.db.writing() as session:
            finished = await _finish_if_done(session, batch_id)
            await session.commit()
        if finished:
            self.notifier.batch_made(batch_id)
        return finished


async def _end_chunk(
    session: AsyncSession, batch_id: str, chunk: int, status: ChunkStatus, error: str | None
) -> bool:
    """The chunk ended with ``status``; the batch too if it was its last open one (whether)."""
    await session.execute(
        update(BatchChunk)
        .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk == chunk)
        .values(status=status, error=error, updated_at=utcnow())
    )
    return await _finish_if_done(session, batch_id)


async def _fail_rows(session: AsyncSession, batch_id: str, chunk: int, message: str) -> bool:
    """The chunk's waiting rows fail with ``message`` and the chunk ends failed (see
    ``_end_chunk``)."""
    for row in await repository.chunk_rows(session, batch_id, chunk):
        row.status = RowStatus.GAGAL
        row.errors = [{"row": row.row, "column": "-", "message": message}]
    return await _end_chunk(session, batch_id, chunk, ChunkStatus.GAGAL, message)


async def _locked_chunk(session: AsyncSession, batch_id: str, chunk: int) -> BatchChunk:
    found = await session.scalar(
        select(BatchChunk)
        .where(BatchChunk.batch_id == batch_id, BatchChunk.chunk == chunk)
        .with_for_update()
    )
    if found is None:
        raise LookupError(f"batch {batch_id} has no chunk {chunk}")
    return found


async def _still_current(session: AsyncSession, claim: Claim) -> bool:
    """Whether ``claim`` is the chunk's current attempt, still open; the chunk's row stays
    locked until the transaction ends, so no claim comes between."""
    found = await _locked_chunk(session, claim.batch.id, claim.chunk)
    return found.pack_key == claim.pack_key and found.status == ChunkStatus.BERJALAN


async def _rows_still_waiting(session: AsyncSession, claim: Claim, row_ids: list[int]) -> None:
    waiting = await session.scalar(
        select(func.count())
        .select_from(BatchRow)
        .where(BatchRow.id.in_(row_ids), BatchRow.status == RowStatus.MENUNGGU)
    )
    if waiting != len(row_ids):
        await session.rollback()
        raise RowsTaken(
            f"batch {claim.batch.id} chunk {claim.chunk}: {len(row_ids) - (waiting or 0)} of "
            f"its {len(row_ids)} rows were no longer waiting"
        )


async def _finish_if_done(session: AsyncSession, batch_id: str) -> bool:
    """Finish the batch (audited) if no chunk of it is open; whether this did. The batch's row
    is locked first, so of two last chunks registered at once one finishes it, after the other
    committed."""
    batch = await session.scalar(select(Batch).where(Batch.id == batch_id).with_for_update())
    if batch is None or batch.status == BatchStatus.SELESAI:
        return False
    still_open = await session.scalar(
        select(func.count())
        .select_from(BatchChunk)
        .where(BatchChunk.batch_id == batch_id, BatchChunk.status.in_(_OPEN))
    )
    if still_open:
        return False
    batch.status = BatchStatus.SELESAI
    batch.finished_at = utcnow()
    await audit.record(session, "batch.finished", "batch", batch_id)
    return True


def _clean(template: Template, row: BatchRow) -> dict[str, object]:
    """The row's data as checked when the batch was accepted. Raises DataInvalid for a row
    accepted before the checked data was kept, which is checked now instead."""
    if row.clean is not None:
        return restored(template.manifest, row.clean)
    return validate_data(template.manifest, row.data)


def _reason(error: DocgenError) -> str:
    """Why a row's document could not be made, as its row's problem says it."""
    if isinstance(error, ConversionFailed):
        return f"konversi PDF gagal: {error.detail}"
    return error.detail
