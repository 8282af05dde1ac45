"""``docgen up`` (``make run``): a whole deployment on one machine, on the embedded defaults.

It starts what the settings leave empty (a private PostgreSQL cluster, the S3 server) under the
data dir, brings the schema up to date, and runs ``docgen serve`` and ``docgen worker``
processes that share them as separate instances would: the same registry, object storage,
server secret and public URL, each its own data dir (``data_dir`` for the API, beside the
embedded servers' data as before; ``data_dir/nodes/worker-N`` for the workers). Ctrl-C (or
SIGTERM) reaches each of them; once they ended, the embedded servers stop.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TextIO

from docgen.kit.object_storage import start_embedded
from docgen.kit.secret import load_pepper
from docgen.registry.db import migrate, registry_running, require_current_schema
from docgen.settings import Settings

__all__ = ["claim_node_dir", "run_everything", "shared_parts"]

log = logging.getLogger(__name__)

STOP_WAIT = 90.0  # seconds a process has to end after the signal, before it is killed


def run_everything(settings: Settings, *, workers: int = 1) -> int:
    """Run the API and ``workers`` queue workers until a signal; returns the exit status
    (that of the first process that ended by itself, else 0).

    Raises what :func:`shared_parts` raises.
    """
    with shared_parts(settings, migrating=True) as env:
        if "emeterai_provider" not in settings.model_fields_set:
            # The embedded default: e-Meterai from the local provider, which says on every
            # stamp and page that it is not Peruri's (a deployment's default is none).
            env["DOCGEN_EMETERAI_PROVIDER"] = "local"
        nodes = settings.data_dir.resolve() / "nodes"
        commands = [("serve", settings.data_dir.resolve())] + [
            ("worker", nodes / f"worker-{i}") for i in range(1, workers + 1)
        ]
        log.info("memulai API dan %d pekerja", workers)
        with _signals() as received:
            processes = [
                subprocess.Popen(
                    [sys.executable, "-m", "docgen", command],
                    env={**os.environ, **env, "DOCGEN_DATA_DIR": str(data_dir)},
                )
                for command, data_dir in commands
            ]
            status = _watch(processes, received)
        return status


@contextlib.contextmanager
def shared_parts(settings: Settings, *, migrating: bool) -> Iterator[dict[str, str]]:
    """What processes of one deployment on this machine share, as DOCGEN_* variables: the
    registry, the object storage, the server secret, the public URL and the mail folder; the
    embedded PostgreSQL and S3 server started for the block where the settings name none.
    ``migrating``: bring the schema up to date first (else it must be current already).

    Raises:
        docgen.registry.db.SchemaNotCurrent: not ``migrating``, and the schema is not current.
        docgen.registry.cluster.ClusterError, storage.errors.StorageError: an embedded part
            cannot start.
        ValueError: the server secret file cannot be read.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(registry_running(settings))
        if migrating:
            migrate(url)
        revision = require_current_schema(url)
        log.info("registri pada revisi %s", revision)
        yield {
            "DOCGEN_DATABASE_URL": url.render_as_string(hide_password=False),
            "DOCGEN_PUBLIC_URL": settings.base_url,
            "DOCGEN_MAIL_DIR": str((settings.mail_dir or settings.data_dir / "mail").resolve()),
            **stack.enter_context(_object_storage(settings)),
            **_secret(settings),
        }


def claim_node_dir(parent: Path, prefix: str) -> Path:
    """A data dir of this process's own under ``parent``: ``<prefix>-1``, ``-2``, ... the first
    no other running process holds (a lock held until this process ends, however it ends), so a
    process started again in place of one that died finds that one's dir (and stops what it
    left running there)."""
    parent.mkdir(parents=True, exist_ok=True)
    slot = 1
    while True:
        node = parent / f"{prefix}-{slot}"
        node.mkdir(exist_ok=True)
        handle = (node / ".lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            slot += 1
            continue
        _held_locks.append(handle)  # open for the process's lifetime
        return node


_held_locks: list[TextIO] = []


@contextlib.contextmanager
def _object_storage(settings: Settings) -> Iterator[dict[str, str]]:
    """The DOCGEN_S3_* the processes share: the settings', else the embedded server's."""
    if settings.s3_endpoint:
        yield {}
        return
    server, _ = start_embedded(settings)
    try:
        yield {
            "DOCGEN_S3_ENDPOINT": server.endpoint,
            "DOCGEN_S3_ACCESS_KEY": server.access_key,
            "DOCGEN_S3_SECRET_KEY": server.secret_key,
            "DOCGEN_S3_SECURE": "false",
        }
    finally:
        server.stop()


def _secret(settings: Settings) -> dict[str, str]:
    """The server secret as the processes find it: the settings' own, else the data dir's file
    (made now if missing)."""
    if settings.secret_key or settings.secret_key_file:
        return {}
    load_pepper(settings)  # makes data_dir/secret.key on a first start
    return {"DOCGEN_SECRET_KEY_FILE": str((settings.data_dir / "secret.key").resolve())}


@contextlib.contextmanager
def _signals() -> Iterator[list[int]]:
    """The SIGINT and SIGTERM this process receives, recorded instead of raised."""
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _watch(processes: list[subprocess.Popen[bytes]], received: list[int]) -> int:
    """Wait for a signal (passed on to each process) or for a process to end by itself (then
    the others are stopped); returns the status to exit with."""
    status = 0
    while not received:
        ended = [p for p in processes if p.poll() is not None]
        if ended:
            status = ended[0].returncode or 1
            log.error(
                "proses %s berhenti sendiri (%s); yang lain dihentikan", ended[0].args, status
            )
            break
        time.sleep(0.2)
    signum = received[0] if received else signal.SIGTERM
    for process in processes:
        if process.poll() is None:
            # (Ctrl-C in a terminal reached them already; once more changes nothing.)
            process.send_signal(signum)
    deadline = time.monotonic() + STOP_WAIT
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return status
