"""The job queue: procrastinate on the registry's PostgreSQL, with docgen's tasks and the
queue's own upkeep (``docgen worker`` runs them: :mod:`docgen.worker`).

Nothing is built at import time: :func:`job_app` makes one App per process from the settings,
and registers every task on it under an explicit name (names are stored in job rows, so they
must not follow the code around).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate.app import WorkerOptions
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status
from procrastinate.manager import JobManager
from sqlalchemy.engine import URL

from docgen.batches import tasks as batch_tasks
from docgen.registry.db import registry_url
from docgen.settings import Settings

__all__ = [
    "MAINTENANCE",
    "REMOVE_OLD",
    "RETRY_STALLED",
    "Reaped",
    "connector",
    "job_app",
    "retry_stalled_jobs",
    "worker_options",
]

log = logging.getLogger(__name__)

MAINTENANCE = "maintenance"  # the queue of the queue's own upkeep
RETRY_STALLED = "docgen.jobs.retry_stalled"
REMOVE_OLD = "docgen.jobs.remove_old"
REMOVE_OLD_CRON = "17 3 * * *"  # daily, at night
KEEP_FINISHED_HOURS = 90 * 24  # failed and aborted jobs stay this long for a person to read


def connector(url: str | URL, *, timeout: float, max_size: int = 4) -> PsycopgConnector:
    """A procrastinate connector on the registry at ``url``.

    The URL's parts go to psycopg one by one (``conninfo`` stays empty), never pasted into a
    connection string: any password works, ``@``, ``%`` and spaces included. ``timeout`` is how
    long a query waits for a pooled connection (while the registry is away) before it fails.
    """
    parsed = registry_url(url)
    parts: dict[str, object] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    for name, value in parsed.query.items():  # e.g. sslmode=verify-full
        parts[name] = value if isinstance(value, str) else value[-1]
    kwargs = {name: value for name, value in parts.items() if value is not None}
    return PsycopgConnector(
        conninfo="", kwargs=kwargs, min_size=1, max_size=max_size, timeout=timeout
    )


def job_retry(settings: Settings) -> RetryStrategy | bool:
    """How a failed job of docgen's is tried again: ``job_max_retries`` times, waiting
    ``job_retry_base_seconds`` to the power of the try (3, 9, 27, 81 s by default)."""
    if settings.job_max_retries == 0:
        return False  # (RetryStrategy takes max_attempts=0 for "no limit")
    return RetryStrategy(
        max_attempts=settings.job_max_retries, exponential_wait=settings.job_retry_base_seconds
    )


def _every(seconds: int) -> str:
    """A cron line (with procrastinate's sixth column, seconds) for every ``seconds`` s."""
    return f"* * * * * {'0' if seconds == 60 else f'*/{seconds}'}"


def job_app(url: str | URL, settings: Settings, *, pool_size: int = 4) -> App:
    """The job queue on the registry at ``url``, with docgen's tasks; open it to use it."""
    app = App(connector=connector(url, timeout=settings.worker_db_timeout, max_size=pool_size))

    # One waiting run at a time (queueing_lock): a run that waits behind a long job is enough.
    @app.periodic(cron=_every(settings.job_reaper_seconds), periodic_id="reaper")
    @app.task(name=RETRY_STALLED, queue=MAINTENANCE, queueing_lock=RETRY_STALLED, pass_context=True)
    async def retry_stalled(context: JobContext, timestamp: int) -> None:
        await retry_stalled_jobs(
            context.app.job_manager,
            stalled_seconds=settings.worker_stalled_seconds,
            max_retries=settings.job_max_retries,
        )

    @app.periodic(cron=REMOVE_OLD_CRON, periodic_id="daily")
    @app.task(
        name=REMOVE_OLD,
        queue=MAINTENANCE,
        queueing_lock=REMOVE_OLD,
        pass_context=True,
        retry=job_retry(settings),
    )
    async def remove_old(context: JobContext, timestamp: int) -> None:
        # Succeeded jobs go at once (delete_jobs="successful"); the rest after a while.
        await context.app.job_manager.delete_old_jobs(
            nb_hours=KEEP_FINISHED_HOURS,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )

    batch_tasks.register(
        app,
        retry=job_retry(settings),
        max_retries=settings.job_max_retries,
        requeue_cron=_every(60),
    )
    return app


@dataclass(frozen=True)
class Reaped:
    """What one look for stalled jobs did, by job id."""

    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


async def retry_stalled_jobs(
    manager: JobManager, *, stalled_seconds: float, max_retries: int
) -> Reaped:
    """Jobs still ``doing`` in a worker that sent no heartbeat for ``stalled_seconds`` (killed,
    or its machine gone): back to ``todo`` while they have retries left, else ``failed``.

    procrastinate retries nothing a dead worker held; without this such a job would wait for
    ever. A job that kills its worker every time ends failed after ``max_retries`` retries.

    Raises:
        procrastinate.exceptions.ConnectorException: the registry cannot be reached.
    """
    reaped = Reaped()
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        assert job.id is not None
        retry = job.attempts < max_retries
        try:
            if retry:
                await manager.retry_job(job)
            else:
                await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
        except ConnectorException as exc:  # e.g. it ended meanwhile: no longer `doing`
            log.warning("stalled job %s (%s) left as it is: %s", job.id, job.task_name, exc)
            continue
        (reaped.retried if retry else reaped.failed).append(job.id)
        log.warning(
            "job %s (%s) %s: its worker %s stopped sending heartbeats (after %d retries)",
            job.id,
            job.task_name,
            "retried" if retry else "failed",
            job.worker_id,
            job.attempts,
        )
    return reaped


def worker_options(
    settings: Settings, *, name: str, concurrency: int | None = None, queues: Sequence[str] = ()
) -> WorkerOptions:
    """How ``docgen worker`` runs procrastinate's worker (signals are its own, not these)."""
    options: WorkerOptions = {
        "name": name,
        "concurrency": concurrency or settings.worker_concurrency,
        "delete_jobs": "successful",
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.worker_stalled_seconds,
        "install_signal_handlers": False,
    }
    if queues:  # (none: every queue)
        options["queues"] = list(queues)
    return options
