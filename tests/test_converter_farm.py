"""A farm of converter nodes: two real `docgen converter` processes (one LibreOffice each) and a
service whose DOCGEN_CONVERTER_URLS names both. The service and its worker run no LibreOffice
of their own; a node refuses callers without the deployment's token; a document LibreOffice
cannot read is that document's failure; with one node killed the other converts, with both
killed a document is a 502 and /readyz says the converter is down."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from docgen.converter import RemoteConverter, node_token
from docgen.errors import ConversionFailed, ErrorOut
from docgen.pipeline.convert import BatchConversionFailed, free_port
from docgen.pipeline.render import render_docx
from docgen.settings import Settings
from docgen.templating.catalogue import load_templates
from tests.conftest import REPO, People, Service, create_pakta, pakta_data, start_service
from tests.conftest import stop_service as stop_service_and_workers
from tests.pdftools import pages_text
from tests.test_bulk import generated, pakta_csv, post_batch
from tests.test_lifecycle import processes_under
from tests.test_templates_content import nip_of

SECRET = secrets.token_hex(32)  # the deployment's DOCGEN_SECRET_KEY, for nodes and service
# A node's limits, small here so that tests reach them (the service is given the same).
LIMITS = {"DOCGEN_CONVERTER_MAX_DOCUMENTS": "4", "DOCGEN_CONVERTER_MAX_REQUEST_BYTES": "1048576"}
NIP = "198609262015051001"  # pakta_data's


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path

    def kill(self) -> None:
        """As a crash would: the node and its LibreOffice get SIGKILL."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        for group in (self.data_dir / "converter" / "servers.pid").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(group), signal.SIGKILL)

    def conversions(self) -> int:
        """Conversion requests the node has answered with conversions (its access log)."""
        return (self.data_dir / "node.log").read_text().count('POST /api/v1/convert HTTP/1.1" 200')


def start_node(data_dir: Path) -> Node:
    """`docgen converter` on a free port, with one LibreOffice (see :func:`wait_ready`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environ = {
        **os.environ,
        "DOCGEN_DATA_DIR": str(data_dir),
        "DOCGEN_SECRET_KEY": SECRET,
        "DOCGEN_CONVERTER_WORKERS": "1",
        **LIMITS,
    }
    with (data_dir / "node.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "docgen", "converter", "--port", str(port)],
            cwd=REPO,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Node(process, f"http://127.0.0.1:{port}", data_dir)


def wait_ready(node: Node) -> None:
    process, data_dir = node.process, node.data_dir
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / "node.log").read_text()[-4000:])
        try:
            if httpx.get(f"{node.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_node(node)
    raise RuntimeError("docgen converter did not get ready")


def stop_node(node: Node) -> None:
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    # Started side by side: each waits seconds for its LibreOffice.
    started = [start_node(tmp_path_factory.mktemp(f"konverter-{i}")) for i in (1, 2)]
    try:
        for node in started:
            wait_ready(node)
        yield started
    finally:
        for node in started:
            stop_node(node)
        for node in started:  # SIGTERM stopped its LibreOffice too
            assert processes_under(node.data_dir) == []


@pytest.fixture(scope="module")
def farm(nodes: list[Node], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service and its worker on both nodes."""
    process, service = start_service(
        tmp_path_factory.mktemp("docgen-farm"),
        workers=1,
        DOCGEN_CONVERTER_URLS=",".join(node.url for node in nodes),
        DOCGEN_SECRET_KEY=SECRET,
        **LIMITS,
    )
    try:
        yield service
    finally:
        stop_service_and_workers(process)


@pytest.fixture(scope="module")
def farm_people(farm: Service) -> People:
    """The farm service's accounts, with the signer of pakta_data's NIP."""
    people = People(farm.url, farm.data_dir)
    people.signer(NIP)
    return people


@pytest.fixture(scope="module")
def docxs() -> list[bytes]:
    pakta = load_templates(REPO / "templates")["pakta-integritas"]
    return [
        render_docx(pakta, pakta_data(nip=nip_of(i)), nomor=f"800.1.12/{i}/BKPSDM/VI/2024")
        for i in (801, 802, 803)
    ]


def _error(response: httpx.Response, status: int, name: str) -> ErrorOut:
    assert response.status_code == status, response.text
    body = ErrorOut.model_validate(response.json())
    assert body.error == name and body.detail
    return body


def test_a_node_refuses_a_caller_without_the_deployments_token(
    nodes: list[Node], docxs: list[bytes]
) -> None:
    files = [("dokumen", ("0.docx", docxs[0]))]
    node = nodes[0]
    other_deployment = node_token(b"rahasia deployment lain")
    for headers in (
        {},
        {"Authorization": f"Bearer {other_deployment}"},
        {"Authorization": f"Bearer {SECRET}"},  # the secret itself is not the token
        {"Authorization": f"Basic {node_token(SECRET.encode())}"},
    ):
        response = httpx.post(f"{node.url}/api/v1/convert", files=files, headers=headers)
        assert "Token node konverter" in _error(response, 401, "NotAuthenticated").detail
    assert node.conversions() == 0
    # Health checks need no token.
    assert httpx.get(f"{node.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{node.url}/readyz").json() == {"status": "siap"}


def test_a_document_libreoffice_cannot_read_is_that_documents_failure(
    nodes: list[Node], docxs: list[bytes]
) -> None:
    batch = [docxs[0], b"PK\x03\x04 not really a zip", docxs[1], docxs[2][: len(docxs[2]) // 2]]
    settings = Settings(
        converter_urls=",".join(node.url for node in nodes), secret_key=SECRET, _env_file=None
    )

    async def convert() -> BatchConversionFailed:
        async with RemoteConverter.of(settings) as converter:
            with pytest.raises(BatchConversionFailed) as caught:
                await converter.to_pdfs(batch)
            with pytest.raises(ConversionFailed):
                await converter.to_pdf(batch[1])
            single = await converter.to_pdf(docxs[0])
            assert single.startswith(b"%PDF")
            return caught.value

    before = sum(node.conversions() for node in nodes)
    failed = anyio.run(convert)
    assert sorted(failed.failures) == [1, 3]
    assert all(error.detail for error in failed.failures.values())
    assert [i for i, pdf in enumerate(failed.pdfs) if pdf is None] == [1, 3]
    for i in (0, 2):
        pdf = failed.pdfs[i]
        assert pdf is not None and pdf.startswith(b"%PDF")
    # A document's failure is not the node's: each request was made once, none failed over.
    assert sum(node.conversions() for node in nodes) - before == 3


def formatted_nip(nip: str) -> str:
    return f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"


def test_a_node_bounds_requests_and_a_larger_call_goes_in_several(
    nodes: list[Node], docxs: list[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {node_token(SECRET.encode())}"}
    url = f"{nodes[0].url}/api/v1/convert"
    five = [("dokumen", (f"{i}.docx", docxs[0])) for i in range(5)]
    response = httpx.post(url, files=five, headers=headers)
    assert "paling banyak 4 dokumen" in _error(response, 413, "UploadTooLarge").detail
    too_large = b"PK" + os.urandom(1 << 20)
    response = httpx.post(url, files=[("dokumen", ("0.docx", too_large))], headers=headers)
    _error(response, 413, "UploadTooLarge")

    # The remote converter cuts a call into requests that fit (two documents each here); a
    # document too large for any request fails alone, without being sent.
    settings = Settings(
        converter_urls=",".join(node.url for node in nodes),
        secret_key=SECRET,
        converter_max_documents=2,
        converter_max_request_bytes=1 << 20,
        _env_file=None,
    )
    call = [docxs[0], docxs[1], too_large, docxs[2], docxs[0]]

    async def convert() -> BatchConversionFailed:
        async with RemoteConverter.of(settings) as converter:
            with pytest.raises(BatchConversionFailed) as caught:
                await converter.to_pdfs(call)
            return caught.value

    before = sum(node.conversions() for node in nodes)
    failed = anyio.run(convert)
    assert sum(node.conversions() for node in nodes) - before == 2
    assert list(failed.failures) == [2]
    assert "batas" in failed.failures[2].detail
    for index, nip in [(0, 801), (1, 802), (3, 803), (4, 801)]:
        pdf = failed.pdfs[index]
        assert pdf is not None
        assert formatted_nip(nip_of(nip)) in "\n".join(pages_text(pdf)), index


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["converter"], {}),
        (["serve"], {"DOCGEN_CONVERTER_URLS": "http://127.0.0.1:9"}),
        (["worker"], {"DOCGEN_CONVERTER_URLS": "http://127.0.0.1:9"}),
    ],
)
def test_without_the_deployments_secret_a_node_and_its_callers_refuse_to_start(
    command: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    # A secret generated into its own data dir would be known to no other node.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DOCGEN_")}
    environ.update(DOCGEN_DATA_DIR=str(tmp_path), DOCGEN_S3_ENDPOINT="127.0.0.1:9", **env)
    done = subprocess.run(
        [sys.executable, "-m", "docgen", *command],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "memerlukan rahasia server deployment" in done.stderr
    assert _libreoffice_under(tmp_path) == []


def _libreoffice_under(data_dir: Path) -> list[int]:
    found = []
    for pid in processes_under(data_dir):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"soffice" in cmdline or b"unoserver" in cmdline:
            found.append(pid)
    return found


def test_a_service_on_the_farm_makes_documents_without_libreoffice_of_its_own(
    farm: Service, farm_people: People, nodes: list[Node]
) -> None:
    rows = [pakta_data(nip=nip_of(i), nama=f"Pegawai {i}") for i in (811, 812, 813)]
    for row in rows:
        farm_people.signer(str(row["nip"]), name=row["nama"])
    client = farm_people.operator.client
    with farm.client() as anonymous:
        assert anonymous.get("/readyz").json()["checks"]["konverter"] == "ok"
    before = [node.conversions() for node in nodes]
    document = create_pakta(client, NIP)
    assert client.get(f"/api/v1/documents/{document['id']}/pdf").content.startswith(b"%PDF")
    response = post_batch(client, pakta_csv(rows), "pakta-integritas")
    assert response.status_code == 202, response.text
    batch = generated(client, response.json()["id"])
    assert (batch["total"], batch["done"], batch["failed"]) == (3, 3, 0)
    # The API converted one call and its worker another, on the nodes.
    assert sum(node.conversions() for node in nodes) - sum(before) == 2
    # Neither the service nor its worker (under data_dir/nodes) started LibreOffice.
    assert (farm.data_dir / "nodes" / "worker-1").is_dir()
    assert _libreoffice_under(farm.data_dir) == []
    assert not (farm.data_dir / "converter").exists()
    assert not (farm.data_dir / "nodes" / "worker-1" / "converter").exists()


def test_one_node_killed_the_other_converts_both_killed_is_502_and_not_ready(
    farm: Service, farm_people: People, nodes: list[Node]
) -> None:
    # (the last test of the module: it leaves no node running)
    client = farm_people.operator.client
    nodes[0].kill()
    before = nodes[1].conversions()
    with farm.client() as anonymous:
        for _ in range(3):  # each call may pick the dead node first: it fails over
            create_pakta(client, NIP)
        assert anonymous.get("/readyz").json()["checks"]["konverter"] == "ok"
        rows = [pakta_data(nip=nip_of(814), nama="Pegawai 814")]
        farm_people.signer(str(rows[0]["nip"]), name=rows[0]["nama"])
        response = post_batch(client, pakta_csv(rows), "pakta-integritas")
        assert response.status_code == 202, response.text
        batch = generated(client, response.json()["id"])
        assert (batch["done"], batch["failed"]) == (1, 0)
        assert nodes[1].conversions() - before == 4  # the API's three, the worker's one

        # SIGTERM, as compose stops a container: the node stops its LibreOffice too.
        stop_node(nodes[1])
        assert nodes[1].process.returncode == 0
        assert processes_under(nodes[1].data_dir) == []
        failed = client.post(
            "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data()}
        )
        assert "node konverter" in _error(failed, 502, "ConversionFailed").detail
        ready = anonymous.get("/readyz")
        assert "konverter: " in _error(ready, 503, "NotReady").detail
