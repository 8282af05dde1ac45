"""Making the documents of accepted batches, in the background, fast, and exactly once.

Rows go through in chunks: the pipeline makes a chunk's documents together (rendered in the
worker processes, converted merged into few LibreOffice calls, stamped, stored as one pack
object), and the chunk's documents and row states are registered in one transaction. Two chunks
are in flight at once, so LibreOffice converts one while the workers render or stamp the other.

Exactly once: a row's number was reserved when the batch was accepted, and a row becomes done
in the same transaction that registers its document. A crash before that commit leaves the row
waiting; after a restart it is made again, with the same number and a new document id (objects
already stored for the lost attempt stay in storage, unreferenced, as object lock demands).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio
from sqlalchemy import update

from docgen.batches import repository
from docgen.documents import repository as documents
from docgen.documents.service import new_verify_code
from docgen.errors import ConversionFailed, DataInvalid, DocgenError, TemplateNotFound
from docgen.kit.chunks import in_chunks
from docgen.kit.links import Links
from docgen.notifications import Notifier
from docgen.pipeline.orchestration import Draft, Pipeline
from docgen.pipeline.store import pack_key
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import Batch, BatchRow, utcnow
from docgen.registry.statuses import BatchStatus, RowStatus
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import Template
from docgen.templating.validation import restored, validate_data

__all__ = ["BatchRunner"]

log = logging.getLogger(__name__)

# Rows per chunk: rendered, converted in one LibreOffice call, stamped, stored and registered
# together. bench/bulk.py, 1,000 berita acara, paired runs: 50 -> 100 rows took generating from
# 24.4 to 20.2 s (LibreOffice CPU 18.2 -> 13.7 ms per document: its fixed cost per call spreads
# over more documents).
CHUNK_ROWS = 100
CHUNKS_IN_FLIGHT = 2
# After an unexpected failure (storage unreachable...), wait before trying the batch again.
RETRY_AFTER = 5.0
IDLE_POLL = 1.0


class BatchRunner:
    """Makes the documents of waiting batches, oldest first (also those a previous run of the
    service left unfinished)."""

    def __init__(
        self,
        db: Database,
        catalogue: TemplateCatalogue,
        pipeline: Pipeline,
        links: Links,
        notifier: Notifier,
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.pipeline = pipeline
        self.links = links
        self.notifier = notifier
        self._posted = anyio.Event()

    def wake(self) -> None:
        """A batch was accepted: look now rather than at the next poll."""
        self._posted.set()

    async def run(self) -> None:
        """Forever: a failure (the registry restarting, storage away) is logged and the loop
        goes on after a pause, never ends."""
        while True:
            batch_id: str | None = None
            try:
                batch_id = await self._next_batch()
                if batch_id is None:
                    with anyio.move_on_after(IDLE_POLL):
                        await self._posted.wait()
                    self._posted = anyio.Event()
                    continue
                await self.generate(batch_id)
            except Exception:
                log.exception("batch %s stopped; trying again in %.0f s", batch_id, RETRY_AFTER)
                await anyio.sleep(RETRY_AFTER)

    async def _next_batch(self) -> str | None:
        async with self.db.session() as session:
            return await repository.next_waiting(session)

    async def generate(self, batch_id: str) -> None:
        """Make every waiting row's document; the batch is done when no row waits."""
        async with self.db.writing() as session:
            batch = await repository.get(session, batch_id)
            batch.status = BatchStatus.BERJALAN
            await session.commit()
        try:
            template = self.catalogue.get(batch.template_id, batch.template_version)
        except TemplateNotFound:
            # Its folder was changed since the batch was accepted: nothing can be made from it.
            message = f"templat {batch.template_id} versi {batch.template_version} tidak ada lagi"
            await self._fail_waiting_rows(batch_id, message)
        else:
            async with self.db.session() as session:
                rows = await repository.waiting_rows(session, batch_id)

            async def generate(chunk: Sequence[BatchRow]) -> None:
                await self._generate_chunk(batch, template, chunk)

            await in_chunks(rows, CHUNK_ROWS, CHUNKS_IN_FLIGHT, generate)
        async with self.db.writing() as session:
            await session.execute(
                update(Batch)
                .where(Batch.id == batch_id)
                .values(status=BatchStatus.SELESAI, finished_at=utcnow())
            )
            await audit.record(session, "batch.finished", "batch", batch_id)
            await session.commit()
        # Once for the whole batch: one message per first signer, not one per document.
        self.notifier.batch_made(batch_id)

    async def _generate_chunk(
        self,
        batch: Batch,
        template: Template,
        rows: Sequence[BatchRow],
    ) -> None:
        batch_id = batch.id
        failed: dict[int, str] = {}  # row id -> why
        drafts: dict[int, Draft] = {}
        for row in rows:
            try:
                clean = self._clean(template, row)
            except DataInvalid as exc:  # a row accepted before its checked data was kept
                failed[row.id] = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
                continue
            assert row.number is not None
            code = new_verify_code()
            # Rows accepted before each was bound carry the batch's choice only.
            signers = row.signers if row.signers is not None else batch.signers
            drafts[row.id] = Draft(
                template, clean, row.number, code, self.links.verify_url(code), signers
            )
        row_of_draft = {draft.id: row_id for row_id, draft in drafts.items()}
        outcome = await self.pipeline.make(list(drafts.values()), pack=pack_key(batch_id, "dibuat"))
        for draft_id, error in outcome.failed.items():
            failed[row_of_draft[draft_id]] = _reason(error)
        row_number = {row.id: row.row for row in rows}
        async with self.db.writing() as session:
            # The documents first: the rows point to them.
            await documents.register_made(
                session,
                outcome.done,
                unit_id=batch.unit_id,
                created_by=batch.created_by or audit.SYSTEM,
            )
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
            if states:
                # One UPDATE per chunk (executemany by primary key), not one per row.
                await session.execute(update(BatchRow), states)
            await session.commit()

    @staticmethod
    def _clean(template: Template, row: BatchRow) -> dict[str, object]:
        """The row's data as checked when the batch was accepted. Raises DataInvalid for a
        row accepted before the checked data was kept, which is checked now instead."""
        if row.clean is not None:
            return restored(template.manifest, row.clean)
        return validate_data(template.manifest, row.data)

    async def _fail_waiting_rows(self, batch_id: str, message: str) -> None:
        async with self.db.writing() as session:
            for row in await repository.waiting_rows(session, batch_id):
                row.status = RowStatus.GAGAL
                row.errors = [{"row": row.row, "column": "-", "message": message}]
            await session.commit()


def _reason(error: DocgenError) -> str:
    """Why a row's document could not be made, as its row's problem says it."""
    if isinstance(error, ConversionFailed):
        return f"konversi PDF gagal: {error.detail}"
    return error.detail
