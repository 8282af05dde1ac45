"""Making the documents of accepted batches in the background, chunk by chunk
(``docgen.batches.making``), also those a previous run of the service left unfinished.

Two chunks are in flight at once, so LibreOffice converts one while the workers render or stamp
the other. Every instance runs this loop over every unfinished batch; a chunk another instance
is working on is left to it (a PostgreSQL advisory lock held while the chunk is made, released
when that instance ends, however it ends), so two instances share a batch's chunks rather than
superseding each other's claims over and over. Correctness does not rest on that lock: if it is
lost (the registry restarted under a running chunk) and another instance claims the chunk
again, the chunk's fencing still registers it once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from docgen.batches import repository
from docgen.batches.making import ChunkMaker
from docgen.kit.chunks import in_chunks
from docgen.registry.db import Database

__all__ = ["BatchRunner"]

log = logging.getLogger(__name__)

CHUNKS_IN_FLIGHT = 2
# After an unexpected failure (storage unreachable...), wait before trying the batch again.
RETRY_AFTER = 5.0
IDLE_POLL = 1.0


class BatchRunner:
    """Makes the chunks of unfinished batches, oldest batch first."""

    def __init__(self, db: Database, maker: ChunkMaker) -> None:
        self.db = db
        self.maker = maker
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
                progressed = False
                async with self.db.session() as session:
                    batch_ids = await repository.unfinished(session)
                for batch_id in batch_ids:
                    progressed = await self.generate(batch_id) or progressed
                if not progressed:  # nothing waits, or others make all that does
                    with anyio.move_on_after(IDLE_POLL):
                        await self._posted.wait()
                    self._posted = anyio.Event()
            except Exception:
                log.exception("batch %s stopped; trying again in %.0f s", batch_id, RETRY_AFTER)
                await anyio.sleep(RETRY_AFTER)

    async def generate(self, batch_id: str) -> bool:
        """Make the batch's open chunks that no other instance is making; whether any was
        (or the batch, with no chunk open, was finished here)."""
        async with self.db.session() as session:
            chunks = await repository.open_chunks(session, batch_id)
        if not chunks:
            return await self.maker.finish(batch_id)
        worked = False

        async def make(one: Sequence[int]) -> None:
            nonlocal worked
            (chunk,) = one
            async with self._working_on(batch_id, chunk) as ours:
                if ours:
                    worked = True
                    await self.maker.make_chunk(batch_id, chunk)

        await in_chunks(chunks, 1, CHUNKS_IN_FLIGHT, make)
        return worked

    @asynccontextmanager
    async def _working_on(self, batch_id: str, chunk: int) -> AsyncIterator[bool]:
        """Whether no other instance works on the chunk; if none does, it is this one's until
        the block ends. A session-level advisory lock on a connection of its own: PostgreSQL
        drops it with the connection, so a killed instance's chunk is free at once."""
        key = (func.hashtext(batch_id), chunk)  # the two-int keys: apart from WRITE_LOCK's
        async with self.db.engine.connect() as connection:
            ours = bool(await connection.scalar(select(func.pg_try_advisory_lock(*key))))
            await connection.commit()
            try:
                yield ours
            finally:
                if ours:
                    with anyio.CancelScope(shield=True):
                        try:
                            await connection.execute(select(func.pg_advisory_unlock(*key)))
                            await connection.commit()
                        except DBAPIError:
                            pass  # the connection is gone, and the lock with it
