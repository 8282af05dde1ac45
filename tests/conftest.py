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
from playwright.sync_api import Browser, sync_playwright

import signing.fast
from docgen.pipeline.convert import free_port
from docgen.registry.db import migrate
from tests.people import PIN, People, SignerAccount
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
    """Stops the session's PostgreSQL cluster at the end, if a test started it."""
    yield
    stop_session_cluster()


@dataclass
class Service:
    url: str
    data_dir: Path
    log: Path
    pid: int
    database_url: str

    def registry(self) -> psycopg.Connection[tuple[object, ...]]:
        """A plain connection to the service's registry (see :func:`registry`)."""
        return registry(self.database_url)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)

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


def start_service(data_dir: Path, **env: str) -> tuple[subprocess.Popen[bytes], Service]:
    """`docgen migrate`, then `docgen serve` on a free port; tried again on another port if the
    one picked was taken in the meantime (the service's own parts pick free ports while it
    starts)."""
    for _ in range(3):
        started = _start_service(data_dir, **env)
        if started is not None:
            return started
    raise RuntimeError("docgen found no free port in three tries")


def _start_service(data_dir: Path, **env: str) -> tuple[subprocess.Popen[bytes], Service] | None:
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
        # Its own database in the session's cluster; "" for the embedded cluster of its own.
        "DOCGEN_DATABASE_URL": (
            env["DOCGEN_DATABASE_URL"] if "DOCGEN_DATABASE_URL" in env else database_url(data_dir)
        ),
        **env,
    }
    if environ["DOCGEN_DATABASE_URL"]:
        migrate(environ["DOCGEN_DATABASE_URL"])
    else:  # the service's own embedded cluster: the command starts and stops it
        subprocess.run(
            [sys.executable, "-m", "docgen", "migrate"],
            cwd=REPO,
            env=environ,
            check=True,
            capture_output=True,
            timeout=120,
        )
    with log.open("ab") as out:
        offset = out.tell()
        process = subprocess.Popen(
            [sys.executable, "-m", "docgen", "serve"],
            cwd=REPO,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_bytes()[offset:].decode(errors="replace")
            if "address already in use" in output:
                return None
            raise RuntimeError(f"docgen exited on start:\n{output[-4000:]}")
        try:
            if httpx.get(f"{local}/healthz", timeout=2).status_code == 200:
                service = Service(local, data_dir, log, process.pid, environ["DOCGEN_DATABASE_URL"])
                return process, service
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_service(process)
    raise RuntimeError(f"docgen did not start:\n{log.read_text()[-4000:]}")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    process, svc = start_service(tmp_path_factory.mktemp("docgen"))
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
