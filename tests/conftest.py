"""Shared fixtures: one real docgen service (real S3 server, LibreOffice, CA) per test session."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
from minio import Minio
from minio.datatypes import Object
from playwright.sync_api import Browser, BrowserContext, sync_playwright

import signing.fast
from docgen.kit.object_storage import start_embedded
from docgen.pipeline.convert import free_port
from docgen.registry.db import migrate
from docgen.settings import Settings
from storage import EmbeddedS3Server
from tests.people import PIN, People, SignerAccount, http_client
from tests.postgres import database_url, registry, stop_session_cluster

if TYPE_CHECKING:
    from tests.mail import Office

__all__ = [
    "PIN",
    "People",
    "Service",
    "SignerAccount",
    "create_pakta",
    "database_url",
    "pakta_data",
    "registry",
    "sign_pakta",
]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def postgres_cluster() -> Iterator[None]:
    """Stops the session's PostgreSQL cluster and the services' S3 servers at the end."""
    yield
    stop_shared_storage()
    stop_session_cluster()


@dataclass
class Service:
    url: str
    data_dir: Path
    log: Path
    pid: int
    database_url: str
    worker_environ: dict[str, str]  # what its workers start with

    def registry(self) -> psycopg.Connection[tuple[object, ...]]:
        """A plain connection to the service's registry (see :func:`registry`)."""
        return registry(self.database_url)

    def client(self) -> httpx.Client:
        return http_client(self.url)

    def object_store(self) -> Minio:
        """A raw S3 client on the service's embedded server, with its own credentials."""
        # The log holds a banner per start of the data dir, and each start picks a new port.
        found = re.findall(r"penyimpanan objek\s+: (\S+)", self.log.read_text())
        assert found, "start-up banner names no object storage"
        keys = json.loads((self.data_dir / "s3" / "credentials.json").read_text())
        return Minio(found[-1], keys["access_key"], keys["secret_key"], secure=False)

    def stored_objects(self, prefix: str = "") -> list[Object]:
        """Every version of every object in the bucket under ``prefix``."""
        return list(
            self.object_store().list_objects(
                "docgen", prefix=prefix, recursive=True, include_version=True
            )
        )


def start_service(
    data_dir: Path,
    *,
    workers: int = 0,
    up: bool = False,
    serve_args: tuple[str, ...] = (),
    lean: bool = True,
    **env: str,
) -> tuple[subprocess.Popen[bytes], Service]:
    """`docgen migrate`, then `docgen serve` on a free port and ``workers`` `docgen worker`
    processes beside it (none unless the test makes batches: each runs its own LibreOffice),
    sharing its registry, object storage (an S3 server of the data dir's, run by this process,
    unless ``env`` names one), secret and public URL, each worker with a data dir of its own
    under ``data_dir/nodes``. ``up``: `docgen up` instead (as `make run`:
    it starts the embedded PostgreSQL and S3 server, migrates, and runs the API and a worker).
    ``serve_args``: more arguments of `docgen serve`. ``lean``: one LibreOffice per instance and
    one bulk process per worker (see LEAN), with TEST_DEFAULTS; else the settings' defaults (as
    deployed, for the benches).

    Tried again on another port if the one picked was taken in the meantime (the service's own
    parts pick free ports while it starts)."""
    for _ in range(3):
        started = _start_service(data_dir, workers, up, serve_args, lean, env)
        if started is not None:
            return started
    raise RuntimeError("docgen found no free port in three tries")


# The S3 servers this process runs for services (by data dir), and the workers of each service
# (by the pid of its `docgen serve`).
_S3_SERVERS: dict[Path, EmbeddedS3Server] = {}
_WORKERS: dict[int, list[subprocess.Popen[bytes]]] = {}
_WORKER_DIRS: dict[int, Path] = {}  # by the worker's pid

# A test service runs one LibreOffice, and each of its workers one LibreOffice and one bulk
# process: a test converts a few documents at a time, and on two cores more would only slow
# the starts (each costs ~2-3 s of CPU). The benches run as deployed (``lean=False``).
# (The service keeps its two bulk processes: with one, the last signature of the web journey
# hung once in a full run, see the stop notes of 2026-12-07.)
# Every test service (``lean``) runs with these unless its test says otherwise
# (test_multi_instance runs the defaults): every test talks to its services from 127.0.0.1,
# the whole suite's worth in minutes, so the limits per client are far above that; and a test
# reads a public view again right after changing its document, which a process would
# otherwise keep for a second.
TEST_DEFAULTS = {
    "DOCGEN_RATE_LIMIT_READS": "1000000",
    "DOCGEN_RATE_LIMIT_UPLOADS": "1000000",
    "DOCGEN_RATE_LIMIT_LOGINS": "1000000",
    "DOCGEN_VERIFY_CACHE_SECONDS": "0",
    "DOCGEN_RENDER_SECONDS": "2",
    # As `docgen up` runs: e-Meterai from the local provider (the deployment default is none).
    "DOCGEN_EMETERAI_PROVIDER": "local",
    # argon2id at its least cost: the suite makes and checks passwords by the hundred, each
    # ~170 ms of CPU at the deployment's cost; what a login does with the answer is the same.
    "DOCGEN_PASSWORD_TIME_COST": "1",
    "DOCGEN_PASSWORD_MEMORY_KIB": "1024",
}
LEAN = {"DOCGEN_CONVERTER_WORKERS": "1"}
LEAN_WORKER = {**LEAN, "DOCGEN_BULK_WORKERS": "1"}


def shared_storage(data_dir: Path) -> dict[str, str]:
    """The DOCGEN_S3_* of the data dir's S3 server (kept in ``data_dir/s3``, as `docgen up`
    keeps it, its bucket ready), started unless it runs."""
    server = _S3_SERVERS.get(data_dir)
    if server is None or not server.running:
        server, _ = start_embedded(Settings(data_dir=data_dir))
        _S3_SERVERS[data_dir] = server
    return {
        "DOCGEN_S3_ENDPOINT": server.endpoint,
        "DOCGEN_S3_ACCESS_KEY": server.access_key,
        "DOCGEN_S3_SECRET_KEY": server.secret_key,
    }


def stop_shared_storage(data_dir: Path | None = None) -> None:
    """Stop the S3 server of ``data_dir`` (None: of every data dir)."""
    for where in [data_dir] if data_dir else list(_S3_SERVERS):
        server = _S3_SERVERS.pop(where, None)
        if server is not None:
            server.stop()


def _start_service(
    data_dir: Path,
    workers: int,
    up: bool,
    serve_args: tuple[str, ...],
    lean: bool,
    env: dict[str, str],
) -> tuple[subprocess.Popen[bytes], Service] | None:
    port = free_port()
    url = env.get("DOCGEN_PUBLIC_URL", f"http://127.0.0.1:{port}")
    local = f"http://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "service.log"
    environ = {
        **os.environ,
        "DOCGEN_DATA_DIR": str(data_dir),
        "DOCGEN_PORT": str(port),
        "DOCGEN_PUBLIC_URL": url,
        # Its own database in the session's cluster (`docgen up`: its own embedded cluster).
        "DOCGEN_DATABASE_URL": "" if up else database_url(data_dir),
        **({**TEST_DEFAULTS, **LEAN} if lean else {}),
        **env,
    }
    if not up:
        migrate(environ["DOCGEN_DATABASE_URL"])
        if "DOCGEN_S3_ENDPOINT" not in env:
            environ.update(shared_storage(data_dir))
        if not ({"DOCGEN_SECRET_KEY", "DOCGEN_SECRET_KEY_FILE"} & env.keys()):
            secret = data_dir / "secret.key"
            if not secret.exists():
                secret.write_bytes(os.urandom(32))
            environ["DOCGEN_SECRET_KEY_FILE"] = str(secret)
    with log.open("ab") as out:
        offset = out.tell()
        process = subprocess.Popen(
            [sys.executable, "-m", "docgen", "up" if up else "serve", *serve_args],
            cwd=REPO,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker_environ = {**environ, **(LEAN_WORKER if lean else {}), **env}
    _WORKERS[process.pid] = [
        start_worker(data_dir / "nodes" / f"worker-{i}", worker_environ)
        for i in range(1, 1 + (0 if up else workers))
    ]
    deadline = time.monotonic() + 180
    with http_client(local, timeout=2) as poll:
        while time.monotonic() < deadline:
            if (started := _started(process, poll, log, offset)) is not False:
                if started is None:
                    return None
                service = Service(
                    local,
                    data_dir,
                    log,
                    process.pid,
                    environ["DOCGEN_DATABASE_URL"],
                    worker_environ,
                )
                return process, service
            time.sleep(0.3)
    stop_service(process)
    raise RuntimeError(f"docgen did not start:\n{log.read_text()[-4000:]}")


def _started(
    process: subprocess.Popen[bytes], poll: httpx.Client, log: Path, offset: int
) -> bool | None:
    """True: the service answers; False: not yet; None: it found its port taken.

    Raises RuntimeError: it exited on start for another reason."""
    if process.poll() is not None:
        stop_service(process)
        output = log.read_bytes()[offset:].decode(errors="replace")
        if "address already in use" in output:
            return None
        raise RuntimeError(f"docgen exited on start:\n{output[-4000:]}")
    try:
        return poll.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def start_worker(data_dir: Path, environ: dict[str, str]) -> subprocess.Popen[bytes]:
    """`docgen worker` with its own data dir and log (``data_dir/worker.log``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if "DOCGEN_SMTP_HOST" not in environ:  # its mail goes where the API's goes
        environ = {"DOCGEN_MAIL_DIR": str(Path(environ["DOCGEN_DATA_DIR"]) / "mail"), **environ}
    with (data_dir / "worker.log").open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "docgen", "worker"],
            cwd=REPO,
            env={**environ, "DOCGEN_DATA_DIR": str(data_dir)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _WORKER_DIRS[worker.pid] = data_dir
    return worker


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker, and its LibreOffice as the end of its container would (they run in
    sessions of their own; on a machine, the next worker of that data dir would end them)."""
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    end_libreoffice_of(worker)


def end_libreoffice_of(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the LibreOffice servers a (dead) worker left running."""
    pid_file = _WORKER_DIRS[worker.pid] / "converter" / "servers.pid"
    for group in pid_file.read_text(encoding="ascii").split() if pid_file.exists() else []:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(group), signal.SIGKILL)


def workers_of(process: subprocess.Popen[bytes]) -> list[subprocess.Popen[bytes]]:
    """The `docgen worker` processes started beside a service."""
    return _WORKERS.get(process.pid, [])


def add_worker(process: subprocess.Popen[bytes], service: Service) -> subprocess.Popen[bytes]:
    """One more `docgen worker` beside the service (stopped with it)."""
    started = _WORKERS.setdefault(process.pid, [])
    worker = start_worker(
        service.data_dir / "nodes" / f"worker-{len(started) + 1}", service.worker_environ
    )
    started.append(worker)
    return worker


def stop_service(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the service and its workers; killed if they do not end within a minute."""
    everyone = [process, *_WORKERS.pop(process.pid, [])]
    for one in everyone:
        if one.poll() is None:
            one.send_signal(signal.SIGINT)  # what Ctrl-C does
    for one in everyone:
        try:
            one.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(one.pid, signal.SIGKILL)
            one.wait(10)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    process, svc = start_service(tmp_path_factory.mktemp("docgen"), workers=1)
    try:
        yield svc
    finally:
        stop_service(process)


@pytest.fixture()
def reachable_dir() -> Iterator[Path]:
    """A data dir the postgres system user can reach, for a service on its own embedded
    cluster (pytest's temp dirs are private to root)."""
    where = Path(tempfile.mkdtemp(prefix="docgen-own-cluster-"))
    where.chmod(0o755)
    yield where / "var"
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="session")
def mail_office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    """A second service, whose mail goes to a real SMTP server on loopback; one for the session,
    shared by the modules that read mail."""
    from tests.mail import mailing_office  # (tests.mail builds on this module)

    with mailing_office(tmp_path_factory.mktemp("surel")) as office:
        yield office


@pytest.fixture(scope="session")
def people(service: Service) -> People:
    """The accounts of the session's service: an admin, a unit, its operator, signers."""
    return People(service.url, service.data_dir)


@pytest.fixture()
def client(people: People) -> httpx.Client:
    """The shared unit's operator: prepares documents and batches."""
    return people.operator.client


@pytest.fixture()
def anonymous(service: Service) -> Iterator[httpx.Client]:
    """Nobody logged in: the public."""
    with service.client() as c:
        yield c


@contextlib.contextmanager
def library_paths_taken() -> Iterator[None]:
    """signing.fast's switch on the libraries' paths, then back on the fast ones."""
    signing.fast.use(False)
    try:
        yield
    finally:
        signing.fast.use(True)


@pytest.fixture()
def library_path() -> Iterator[None]:
    """The test runs on the libraries' paths instead of the fast ones (signing.fast's switch,
    which docgen's fast paths follow too)."""
    with library_paths_taken():
        yield


@pytest.fixture(params=["fast", "library"])
def either_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test once with the fast paths on (the default), once on the libraries' paths."""
    signing.fast.use(request.param == "fast")
    try:
        yield request.param
    finally:
        signing.fast.use(True)


def pakta_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "nama": "Drs. Budi Santoso, M.Si.",
        "nip": "198609262015051001",
        "pangkat": "III/a",
        "jabatan": "Kepala Subbagian Umum dan Kepegawaian",
        "instansi": "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Kabupaten Sidoarjo",
        "tempat": "Sidoarjo",
        "tanggal": "2024-06-27",
    }
    data.update(overrides)
    return data


def create_pakta(client: httpx.Client, nip: str, **body: object) -> dict[str, object]:
    """A new pakta integritas for ``nip`` (``body`` adds request keys such as ``signers``)."""
    response = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip=nip), **body},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def sign_pakta(signer: SignerAccount, document_id: str) -> httpx.Response:
    return signer.sign(document_id, "pembuat_pernyataan")


CHROMIUM = "/usr/bin/chromium"  # Debian's package (Makefile APT_TEST); no browser download


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture()
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts opened by a test (each its own cookies), closed after it."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()
