"""Batches on the job queue: one job per chunk, deferred in the transaction that accepts the
batch, run by ``docgen worker`` processes on any node (:mod:`docgen.batches.making` makes each
chunk exactly once, whoever else tries it).

A failing chunk is tried again with growing waits (the queue's retry strategy); after its last
try its waiting rows fail with the reason, so the batch ends and says why. A periodic look
defers the open chunks that have no job (batches accepted before the queue, a job removed by
hand) and ends those whose job failed for good without ending them (its worker died each time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from procrastinate import App, JobContext, RetryStrategy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.batches import repository
from docgen.batches.making import ChunkMaker
from docgen.errors import translate
from docgen.registry.statuses import ChunkStatus

__all__ = [
    "BATCHES",
    "MAKE_CHUNK",
    "REQUEUE_WAITING",
    "BatchJobs",
    "ChunkQueue",
    "Requeued",
    "register",
    "requeue_waiting",
]

log = logging.getLogger(__name__)

BATCHES = "batches"  # the queue of batch work
MAKE_CHUNK = "docgen.batches.make_chunk"
REQUEUE_WAITING = "docgen.batches.requeue_waiting"
CONTEXT_KEY = "batches"  # where a worker's additional_context holds its BatchJobs

# The latest job of each open chunk (none for a chunk deferred by nobody).
_OPEN_CHUNKS = text(
    """
    SELECT c.batch_id, c.chunk, j.status::text, j.attempts
    FROM batch_chunks c
    LEFT JOIN LATERAL (
        SELECT status, attempts FROM procrastinate_jobs
        WHERE task_name = :task
          AND args ->> 'batch_id' = c.batch_id
          AND (args ->> 'chunk')::int = c.chunk
        ORDER BY id DESC
        LIMIT 1
    ) j ON true
    WHERE c.status IN (:waiting, :running)
    ORDER BY c.batch_id, c.chunk
    """
).bindparams(
    task=MAKE_CHUNK, waiting=ChunkStatus.MENUNGGU.value, running=ChunkStatus.BERJALAN.value
)
_ENDED_FOR_GOOD = {"failed", "cancelled", "aborted"}


class ChunkQueue:
    """Defers chunk jobs (on an App that need not be open: the jobs go in the caller's
    transaction)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def enqueue(self, session: AsyncSession, batch_id: str, chunks: Iterable[int]) -> None:
        """One job per chunk, written in ``session``'s transaction: it commits with what the
        jobs refer to, or neither does; the workers are woken at the commit. Earlier chunks
        first, also ahead of later chunks of older batches."""
        connection = await (await session.connection()).get_raw_connection()
        raw = connection.driver_connection  # psycopg's AsyncConnection, in our transaction
        for chunk in chunks:
            deferrer = self.app.configure_task(MAKE_CHUNK, connection=raw, priority=-chunk)
            await deferrer.defer_async(batch_id=batch_id, chunk=chunk)


@dataclass(frozen=True)
class BatchJobs:
    """What a worker's batch jobs run on."""

    maker: ChunkMaker
    queue: ChunkQueue


@dataclass(frozen=True)
class Requeued:
    """What one look at the open chunks did: chunks as (batch id, chunk)."""

    deferred: list[tuple[str, int]] = field(default_factory=list)
    given_up: list[tuple[str, int]] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # batches with nothing left open


async def requeue_waiting(jobs: BatchJobs) -> Requeued:
    """Defer the open chunks without a job; fail the rows of open chunks whose last job ended
    for good; finish the unfinished batches with no chunk open.

    Raises what the registry raises when it cannot be reached.
    """
    done = Requeued()
    db = jobs.maker.db
    async with db.writing() as session:
        found = (await session.execute(_OPEN_CHUNKS)).all()
        orphans = [(b, c) for b, c, status, _ in found if status is None]
        by_batch: dict[str, list[int]] = {}
        for batch_id, chunk in orphans:
            by_batch.setdefault(batch_id, []).append(chunk)
        for batch_id, chunks in by_batch.items():
            await jobs.queue.enqueue(session, batch_id, chunks)
        await session.commit()
    done.deferred.extend(orphans)
    for batch_id, chunk, status, attempts in found:
        if status in _ENDED_FOR_GOOD:
            message = (
                f"bagian ini tidak selesai dibuat setelah {attempts + 1} percobaan "
                "(pekerja berhenti di tengah jalan); lihat log pekerja"
            )
            if await jobs.maker.give_up(batch_id, chunk, message):
                done.given_up.append((batch_id, chunk))
    async with db.session() as session:
        idle = await repository.idle_unfinished(session)
    for batch_id in idle:
        if await jobs.maker.finish(batch_id):
            done.finished.append(batch_id)
    for what, items in vars(done).items():
        if items:
            log.warning("batch chunks looked after (%s): %s", what, items)
    return done


def _batch_jobs(context: JobContext) -> BatchJobs:
    jobs = context.additional_context.get(CONTEXT_KEY)
    if not isinstance(jobs, BatchJobs):
        raise RuntimeError("this worker was started without the parts batch jobs run on")
    return jobs


def _reason(exc: Exception) -> str:
    translated = translate(exc)
    if translated is not None:
        return translated.detail
    return f"kesalahan tak terduga ({type(exc).__name__}); lihat log pekerja"


def register(app: App, *, retry: RetryStrategy | bool, max_retries: int, requeue_cron: str) -> None:
    """Add the batch tasks to ``app`` (a worker runs them with a :class:`BatchJobs` under
    ``additional_context["batches"]``)."""

    @app.task(name=MAKE_CHUNK, queue=BATCHES, pass_context=True, retry=retry)
    async def make_chunk(context: JobContext, batch_id: str, chunk: int) -> None:
        maker = _batch_jobs(context).maker
        try:
            await maker.make_chunk(batch_id, chunk)
        except Exception as exc:
            tries = context.job.attempts + 1
            if tries > max_retries:  # no retry follows: the rows say why, and the batch ends
                message = f"gagal setelah {tries} percobaan: {_reason(exc)}"
                await maker.give_up(batch_id, chunk, message)
            raise

    # One waiting run at a time (queueing_lock).
    @app.periodic(cron=requeue_cron, periodic_id="batches")
    @app.task(name=REQUEUE_WAITING, queue=BATCHES, queueing_lock=REQUEUE_WAITING, pass_context=True)
    async def requeue(context: JobContext, timestamp: int) -> None:
        await requeue_waiting(_batch_jobs(context))
