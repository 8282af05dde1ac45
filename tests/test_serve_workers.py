"""`docgen serve --workers 2`: two processes answer on one port, each with its own LibreOffice and
data dir (nodes/api-1, nodes/api-2); one that dies is started again in its place, in the same
data dir, while the other answers; Ctrl-C stops them and all they started."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from tests.conftest import People, create_pakta, start_service, stop_service, stop_shared_storage
from tests.people import http_client
from tests.test_bulk_resume import command_line, processes_naming

NIP = "197505202001041751"  # this module's own service: no other test shares it
CREATIONS = 8


def eventually(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def app_processes(supervisor: int) -> list[psutil.Process]:
    """The processes uvicorn's supervisor runs the app in (alive)."""
    found = []
    for child in psutil.Process(supervisor).children():
        try:
            command = " ".join(child.cmdline())
            alive = child.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue
        if alive and "multiprocessing.spawn" in command and "resource_tracker" not in command:
            found.append(child)
    return found


def libreoffice_in(node: Path) -> set[int]:
    """The soffice processes running in a data dir."""
    return {pid for pid in processes_naming(node) if "soffice" in command_line(pid)}


def both_nodes_run_libreoffice(data_dir: Path) -> bool:
    return all(libreoffice_in(data_dir / "nodes" / name) for name in ("api-1", "api-2"))


def node_of(app: psutil.Process) -> Path:
    """The data dir a process of the app holds (by the lock it keeps open there)."""
    (lock,) = [Path(f.path) for f in app.open_files() if f.path.endswith("/.lock")]
    return lock.parent


def test_two_processes_serve_one_port_each_in_a_data_dir_of_its_own(tmp_path: Path) -> None:
    data_dir = tmp_path / "docgen"
    process, service = start_service(
        data_dir,
        serve_args=("--workers", "2"),
        DOCGEN_CONVERTER_WORKERS="1",
        DOCGEN_BULK_WORKERS="1",
    )
    try:
        eventually("both processes started", lambda: len(app_processes(process.pid)) == 2)
        eventually("each with its LibreOffice", lambda: both_nodes_run_libreoffice(data_dir))
        people = People(service.url, data_dir)
        people.signer(NIP)
        operator = people.operator.client

        with ThreadPoolExecutor(CREATIONS) as pool:
            made = list(pool.map(lambda _: create_pakta(operator, NIP), range(CREATIONS)))
        assert len({d["number"] for d in made}) == CREATIONS  # one sequence for both

        # One process dies; the other answers meanwhile (on new connections: the client's
        # kept-alive ones to the dead process are gone), and a new one takes its place: its
        # data dir (no third one), where it ends what the dead one left running and starts
        # LibreOffice afresh.
        doomed = app_processes(process.pid)[0]
        node = node_of(doomed)
        left_behind = libreoffice_in(node)
        assert left_behind
        os.kill(doomed.pid, signal.SIGKILL)
        operator = http_client(service.url, headers=operator.headers)
        create_pakta(operator, NIP)
        eventually(
            "a new process in its place",
            lambda: (
                len(pids := {p.pid for p in app_processes(process.pid)}) == 2
                and doomed.pid not in pids
            ),
        )
        eventually(
            "its LibreOffice afresh",
            lambda: bool(now := libreoffice_in(node)) and not now & left_behind,
        )
        assert sorted(p.name for p in (data_dir / "nodes").iterdir()) == ["api-1", "api-2"]
        create_pakta(operator, NIP)
    finally:
        stop_service(process)
    stop_shared_storage(data_dir)  # (the S3 server, which this process runs)
    deadline = time.monotonic() + 60
    while (left := processes_naming(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [command_line(pid) for pid in left] == []
