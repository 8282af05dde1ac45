"""The job queue on a real PostgreSQL: the reaper of jobs whose worker died, and `docgen worker`
as a process (it registers, runs jobs, ends on SIGTERM, refuses an old schema, and outlives a
restart of its PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import psycopg
import pytest
from alembic.script import ScriptDirectory
from procrastinate.jobs import Status
from sqlalchemy.engine import make_url

from docgen.jobs import REMOVE_OLD, RETRY_STALLED, Reaped, job_app, retry_stalled_jobs
from docgen.registry.cluster import EmbeddedPostgres
from docgen.registry.db import MIGRATIONS, migrate
from docgen.settings import Settings
from tests.postgres import database_url, registry

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parent.parent
# What a worker in these tests is told: quick heartbeats, a reaper every second.
FAST_WORKER = {
    "DOCGEN_WORKER_HEARTBEAT_SECONDS": "1",
    "DOCGEN_WORKER_STALLED_SECONDS": "3",
    "DOCGEN_JOB_REAPER_SECONDS": "1",
}


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def rows(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with registry(url) as connection:
        return connection.execute(query, params).fetchall()


def job_status(url: str, job_id: int) -> tuple[str, int] | None:
    """(status, attempts) of a job; None once it is deleted (a worker deletes what succeeds)."""
    found = rows(url, "SELECT status::text, attempts FROM procrastinate_jobs WHERE id = %s", job_id)
    return (str(found[0][0]), int(str(found[0][1]))) if found else None


def defer_remove_old(url: str) -> int:
    """Defers a job by hand: the daily removal of old jobs (a real task, quick to run)."""

    async def defer() -> int:
        app = job_app(url, Settings())
        async with app.open_async():
            return await app.configure_task(REMOVE_OLD).defer_async(timestamp=0)

    return anyio.run(defer)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


# --- the reaper ---------------------------------------------------------------------------


async def test_the_reaper_requeues_a_dead_workers_job_and_fails_it_at_the_cap(
    tmp_path: Path,
) -> None:
    url = database_url(tmp_path)
    migrate(url)
    app = job_app(url, Settings(job_max_retries=2))
    async with app.open_async():
        manager = app.job_manager
        job_id = await app.configure_task(REMOVE_OLD).defer_async(timestamp=0)
        worker = await manager.register_worker()

        async def reap() -> Reaped:
            return await retry_stalled_jobs(manager, stalled_seconds=30, max_retries=2)

        for attempt in range(3):
            taken = await manager.fetch_job(queues=None, worker_id=worker)
            assert taken is not None and taken.id == job_id and taken.attempts == attempt
            # Its worker is alive (a fresh heartbeat): the job is left to it.
            assert await reap() == Reaped()
            assert job_status(url, job_id) == ("doing", attempt)
            # The worker is killed: its heartbeat grows old.
            rows(
                url,
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '31 seconds' "
                "WHERE id = %s RETURNING id",
                worker,
            )
            if attempt < 2:
                assert await reap() == Reaped(retried=[job_id])
                assert job_status(url, job_id) == ("todo", attempt + 1)
                await manager.update_heartbeat(worker)  # another worker takes it next
        # Two retries spent: the third stall ends it.
        assert await reap() == Reaped(failed=[job_id])
        assert job_status(url, job_id) == (Status.FAILED.value, 3)  # three runs, all lost
        assert await reap() == Reaped()


# --- docgen worker ------------------------------------------------------------------------


def start_worker(url: str, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "DOCGEN_DATA_DIR": str(log.parent),
        "DOCGEN_DATABASE_URL": url,
        **FAST_WORKER,
        **env,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "docgen", "worker", *args],
            cwd=REPO,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture()
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes a test starts; any still running at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def alive(process: subprocess.Popen[bytes], log: Path) -> bool:
    """True while ``process`` runs; fails the test with its log once it has ended."""
    if process.poll() is not None:
        raise AssertionError(f"the worker ended ({process.returncode}):\n{log.read_text()}")
    return True


def worker_ids(url: str) -> list[int]:
    return [int(str(row[0])) for row in rows(url, "SELECT id FROM procrastinate_workers")]


def awkward_password_url(url: str, tmp_path: Path) -> str:
    """``url`` as a role of its own whose password has what breaks connection strings."""
    role = "w_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]
    password = "p@ss%word/ with:'quote'?#="
    with registry(url) as connection:
        connection.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                psycopg.sql.Identifier(role), psycopg.sql.Literal(password)
            )
        )
    awkward = make_url(url).set(username=role, password=password)
    return awkward.render_as_string(hide_password=False)


def test_a_worker_registers_runs_a_job_and_ends_on_sigterm(
    tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    url = awkward_password_url(database_url(tmp_path), tmp_path)
    migrate(url)
    log = tmp_path / "worker.log"
    process = start_worker(url, log, "--concurrency", "1", "--queue", "maintenance")
    workers.append(process)
    wait_for("the worker registers", lambda: len(worker_ids(url)) == 1)
    assert process.poll() is None

    job_id = defer_remove_old(url)
    # Deleted only by a worker that ran it to success (a failure stays, as failed or todo).
    wait_for("the job runs", lambda: job_status(url, job_id) is None, timeout=20)
    # The reaper is scheduled by the worker itself, every second here.
    wait_for(
        "the reaper is deferred",
        lambda: bool(
            rows(
                url,
                "SELECT 1 FROM procrastinate_periodic_defers WHERE task_name = %s",
                RETRY_STALLED,
            )
        ),
    )

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0, log.read_text()
    assert worker_ids(url) == []  # it unregistered on its way out
    output = log.read_text()
    assert "pekerja antrean docgen berjalan" in output and "antrean    : maintenance" in output
    assert "pekerja antrean berhenti" in output
    assert "Traceback" not in output and "ERROR" not in output, output


def test_a_worker_refuses_a_registry_that_is_not_migrated(tmp_path: Path) -> None:
    url = database_url(tmp_path)  # an empty database

    def docgen(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docgen", *command],
            cwd=REPO,
            env={**os.environ, "DOCGEN_DATABASE_URL": url, "DOCGEN_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = docgen("worker", "--queue", "maintenance")
    assert refused.returncode == 1
    assert "skema registri belum sesuai" in refused.stderr and "docgen migrate" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert rows(url, "SELECT to_regclass('procrastinate_workers')") == [(None,)]  # untouched

    # One that would make batches needs the deployment's object storage, said first.
    alone = docgen("worker")
    assert alone.returncode == 1 and "DOCGEN_S3_ENDPOINT" in alone.stderr, alone.stderr
    assert "Traceback" not in alone.stderr

    migrated = docgen("migrate")
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert migrated.returncode == 0 and f"pada revisi {head}" in migrated.stdout, migrated.stderr
    assert rows(url, "SELECT to_regclass('procrastinate_workers')") == [("procrastinate_workers",)]


def test_a_worker_keeps_running_across_a_restart_of_its_postgresql(
    reachable_dir: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    cluster = EmbeddedPostgres(
        reachable_dir / "postgres",
        settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
    )
    cluster.start()
    try:
        url = cluster.url().render_as_string(hide_password=False)
        port = cluster.port
        migrate(url)
        log = reachable_dir / "worker.log"
        process = start_worker(url, log, "--queue", "maintenance", DOCGEN_WORKER_DB_TIMEOUT="2")
        workers.append(process)
        wait_for("the worker registers", lambda: len(worker_ids(url)) == 1)
        (first,) = worker_ids(url)

        cluster.stop()
        # procrastinate's own worker would end here; ours logs it and starts again.
        wait_for(
            "restarts are logged",
            lambda: alive(process, log) and log.read_text().count("dimulai lagi") >= 2,
        )
        cluster.start(port=port)

        wait_for("it registers again", lambda: any(i > first for i in worker_ids(url)))
        job_id = defer_remove_old(url)
        wait_for("a job deferred after the restart runs", lambda: job_status(url, job_id) is None)
        assert alive(process, log)

        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, log.read_text()
        assert "registri tidak terjangkau" in log.read_text()
    finally:
        cluster.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"job_reaper_seconds": 7}, "harus membagi habis 60"),
        ({"worker_heartbeat_seconds": 30, "worker_stalled_seconds": 30}, "harus lebih besar"),
    ],
)
def test_settings_refuse_worker_timings_that_cannot_work(env: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**env)
