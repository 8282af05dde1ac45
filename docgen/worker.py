"""``docgen worker``: runs jobs from the queue in the registry (:mod:`docgen.jobs`) until told
to stop, on the parts batch jobs need (object storage, LibreOffice, the bulk processes).

A registry outage does not end it: procrastinate's worker stops on the first failed query (its
issue #1116), so it is started again, with backoff, in the same process, whose LibreOffice and
processes stay warm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Sequence

import psycopg
from procrastinate import App
from procrastinate.app import WorkerOptions
from procrastinate.exceptions import ConnectorException
from sqlalchemy.engine import URL

from docgen.batches.tasks import BATCHES, CONTEXT_KEY, BatchJobs, ChunkQueue
from docgen.converter.auth import configured_secret
from docgen.jobs import job_app, worker_options
from docgen.registry.db import require_current_schema, running_registry, where
from docgen.settings import Settings
from docgen.wiring import start_worker_parts

__all__ = ["SharedStorageMissing", "run_worker"]

log = logging.getLogger(__name__)

# Its loop starts again after a registry outage: 1 s, doubling to 15 s; a run that lasted a
# minute counts as recovered.
RESTART_FIRST = 1.0
RESTART_MAX = 15.0
RESTART_STEADY = 60.0


class SharedStorageMissing(ValueError):
    """A worker that makes batches was given no object storage of the deployment's."""

    def __init__(self) -> None:
        super().__init__(
            "pekerja yang membuat batch memerlukan penyimpanan objek deployment: setel "
            "DOCGEN_S3_ENDPOINT, DOCGEN_S3_ACCESS_KEY dan DOCGEN_S3_SECRET_KEY seperti pada "
            "docgen serve (make run memberikannya sendiri)"
        )


async def run_worker(
    settings: Settings, *, concurrency: int | None = None, queues: Sequence[str] = ()
) -> None:
    """Run jobs until SIGINT or SIGTERM, then let the running ones end.

    Raises:
        SharedStorageMissing: it would take batch jobs, and no S3 endpoint is set.
        ValueError: it would take batch jobs on converter nodes, and no server secret is set.
        docgen.registry.db.SchemaNotCurrent: the registry needs ``docgen migrate`` first.
        docgen.signers.authority.WrongSecretKey: the server secret is not the deployment's.
        docgen.registry.cluster.ClusterError: the embedded cluster cannot start.
    """
    makes_batches = not queues or BATCHES in queues
    if makes_batches and not settings.s3_endpoint:
        raise SharedStorageMissing()
    if makes_batches and settings.converter_nodes:
        configured_secret(settings)  # (raises ValueError: the nodes' token needs it)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with running_registry(settings) as url:
            revision = await asyncio.to_thread(require_current_schema, url)
            options = worker_options(
                settings,
                name=f"{socket.gethostname()}:{os.getpid()}",
                concurrency=concurrency,
                queues=queues,
            )
            # Each running job may hold a connection; the heartbeat and fetching one more.
            app = job_app(url, settings, pool_size=options.get("concurrency", 1) + 2)
            async with _batch_parts(settings, url, app, makes_batches) as context:
                options["additional_context"] = context
                async with app.open_async():
                    log.info(_banner(options, f"{where(url)} (revisi {revision})"))
                    await _keep_working(app, options, stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info("pekerja antrean berhenti")


@contextlib.asynccontextmanager
async def _batch_parts(
    settings: Settings, url: URL, app: App, makes_batches: bool
) -> AsyncIterator[dict[str, object]]:
    """What the worker's jobs find in their context: the batch parts, if it makes batches."""
    if not makes_batches:
        yield {}
        return
    async with start_worker_parts(settings, url) as core:
        yield {CONTEXT_KEY: BatchJobs(core.chunk_maker(), ChunkQueue(app))}


def _banner(options: WorkerOptions, registry: str) -> str:
    queues = ", ".join(options.get("queues") or []) or "semua"
    return "\n".join(
        [
            f"pekerja antrean docgen berjalan ({options.get('name')})",
            f"  basis data : {registry}",
            f"  antrean    : {queues}",
            f"  serentak   : {options.get('concurrency')} pekerjaan",
            "Tekan Ctrl-C untuk berhenti.",
        ]
    )


async def _keep_working(app: App, options: WorkerOptions, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    delay = RESTART_FIRST
    while not stop.is_set():
        started = loop.time()
        run = asyncio.create_task(app.run_worker_async(**options))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():
            # Cancelled once, procrastinate's worker fetches nothing more, waits for its
            # running jobs and unregisters (never through a cancel scope, which would cancel
            # the jobs too).
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await run
                except (ConnectorException, psycopg.Error) as exc:
                    log.warning("pekerja tidak dapat keluar dari registri dengan rapi: %s", exc)
            return
        stopping.cancel()
        try:
            run.result()
            reason = "ia berhenti sendiri"  # a side task (listener, heartbeat) failed
        except (ConnectorException, psycopg.Error) as exc:
            reason = f"registri tidak terjangkau: {exc.__cause__ or exc}"
        if stop.is_set():  # (it ended as the signal came)
            return
        if loop.time() - started > RESTART_STEADY:
            delay = RESTART_FIRST
        log.warning("pekerja antrean terhenti (%s); dimulai lagi dalam %.0f detik", reason, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, RESTART_MAX)
