"""`docgen up` (`make run`) on the embedded defaults (its own PostgreSQL cluster and S3 server,
the API and a queue worker) reuses what exists when started again, and Ctrl-C stops all it
started."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx

from docgen.registry.cluster import find_bin_dir
from tests.conftest import People, pakta_data, sign_pakta, start_service, stop_service
from tests.test_bulk import generated, pakta_csv, post_batch, wait_for
from tests.test_template_upload import manifest_text, pakta_docx, upload

NIP = str(pakta_data()["nip"])  # this service's own registry: no other test shares it


def processes_under(data_dir: Path) -> list[int]:
    """Live processes whose command line names the data dir (weed, unoserver, soffice,
    postgres)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(data_dir).encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def _pg_ctl(data_dir: Path, *args: str) -> None:
    """pg_ctl on the service's own cluster, as the user it runs as."""
    cluster = data_dir / "postgres" / "cluster"
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    command = [*as_owner, str(find_bin_dir() / "pg_ctl"), *args, "-D", str(cluster)]
    subprocess.run(command, check=True, timeout=60, capture_output=True)


def postgres_stop(data_dir: Path) -> str:
    """Stop the service's PostgreSQL (fast: its connections are cut); the options it ran with."""
    opts = (data_dir / "postgres" / "cluster" / "postmaster.opts").read_text()
    # postgres "-D" "<dir>" "-c" "name=value" ...: what follows the data dir
    options = shlex.join(shlex.split(opts)[3:])
    _pg_ctl(data_dir, "stop", "-m", "fast", "-w")
    return options


def postgres_start(data_dir: Path, options: str) -> None:
    # -l: the server's output to its log, not to our pipe (which would never close)
    log = data_dir / "postgres" / "server.log"
    _pg_ctl(data_dir, "start", "-w", "-l", str(log), "-o", options)


def bucket_volumes(data_dir: Path) -> list[int]:
    """The writable volumes SeaweedFS's master holds for the service's bucket."""
    log = (data_dir / "s3" / "weed.log").read_text()
    port = re.search(r"-master\.port=(\d+)", log.rsplit("--- starting: ", 1)[1])
    assert port, "weed was started without a master port"
    layouts = httpx.get(f"http://127.0.0.1:{port[1]}/dir/status").json()["Topology"]["Layouts"]
    return [
        v
        for layout in layouts or []
        if layout["collection"] == "docgen"
        for v in layout["writables"]
    ]


# Small chunks, so the batch is still being made when PostgreSQL stops; the job its worker lost
# with the registry is taken for stalled 3 s after the worker's last heartbeat.
QUICK_QUEUE = {
    "DOCGEN_BATCH_CHUNK_ROWS": "5",
    "DOCGEN_WORKER_HEARTBEAT_SECONDS": "1",
    "DOCGEN_WORKER_STALLED_SECONDS": "3",
    "DOCGEN_JOB_REAPER_SECONDS": "1",
}
BATCH_ROWS = 40


def test_restart_reuses_state_and_ctrl_c_stops_everything(reachable_dir: Path) -> None:
    data_dir = reachable_dir
    process, service = start_service(data_dir, up=True)
    try:
        # weed, postgres, the API and the worker, each with its unoserver and soffice
        assert len(processes_under(data_dir)) >= 8
        assert (data_dir / "postgres" / "cluster" / "PG_VERSION").exists()
        # The bucket has its volume before its first upload, which would otherwise wait for it.
        volumes = bucket_volumes(data_dir)
        assert len(volumes) == 1
        # The first admin from the command line, on the service's running cluster.
        people = People(service.url, data_dir, database_url="")
        signer = people.signer(NIP)
        operator = people.operator.client
        root = operator.get("/api/v1/trust/ca.pem").content
        document = operator.post(
            "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data()}
        ).json()
        uploaded = upload(people.admin.client, manifest_text("uji-restart"), pakta_docx())
        assert uploaded.status_code == 201, uploaded.text
    finally:
        stopping = service.log.stat().st_size
        # Ctrl-C as a terminal sends it: to every process of the group, the API's and the
        # worker's own worker processes included.
        os.killpg(process.pid, signal.SIGINT)
        stop_service(process)  # waits for it to end
    # Each process ends quietly: no KeyboardInterrupt traceback from any of them.
    assert b"Traceback" not in service.log.read_bytes()[stopping:]
    deadline = time.monotonic() + 10
    while processes_under(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_under(data_dir) == []

    process, service = start_service(
        data_dir, up=True, DOCGEN_PUBLIC_URL=service.url, **QUICK_QUEUE
    )
    try:
        # The accounts and their API tokens are still there (the service has a new port).
        people.moved_to(service.url)
        me = signer.client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == signer.id
        with service.client() as anonymous:
            assert anonymous.get("/api/v1/trust/ca.pem").content == root
            code = document["verify_code"]
            assert anonymous.get(f"/api/v1/verify/{code}").json()["status"] == (
                "menunggu_tanda_tangan"
            )
        template = operator.get("/api/v1/templates/uji-restart").json()
        assert (template["versions"], template["sha256"]) == ([1], uploaded.json()["sha256"])
        # The key sealed under the signer's PIN before the restart still signs.
        signed = sign_pakta(signer, document["id"])
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "sah"
        again = operator.post(
            "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data()}
        ).json()
        assert again["number"] != document["number"]  # the sequence went on, not back
        assert bucket_volumes(data_dir) == volumes  # none grown for the uploads or the restart

        # Its PostgreSQL stops in the middle of a batch: the service is alive but says it is
        # not ready, and why; once PostgreSQL is back, it is ready again and the batch is made
        # to its end, each row once.
        batch_id = post_batch(
            operator, pakta_csv([pakta_data(nip=NIP)] * BATCH_ROWS), "pakta-integritas"
        ).json()["id"]
        with service.client() as anonymous:
            assert anonymous.get("/readyz").json() == {
                "status": "siap",
                "checks": {
                    "registri": "ok",
                    "penyimpanan": "ok",
                    "konverter": "ok",
                    "pekerja": "ok",
                },
            }
            begun = wait_for(operator, batch_id, lambda b: b["done"] > 0, timeout=120)
            options = postgres_stop(data_dir)
            assert begun["done"] < BATCH_ROWS  # (stopped in the middle)
            down = anonymous.get("/readyz")
            assert down.status_code == 503
            assert down.json() == {
                "error": "NotReady",
                "detail": "Belum siap; registri: basis data tidak menjawab; "
                "pekerja: antrean di registri tidak dapat dibaca",
            }
            assert anonymous.get("/healthz").status_code == 200
            deadline = time.monotonic() + 30
            while "pekerja antrean terhenti" not in service.log.read_text():
                assert time.monotonic() < deadline, "the worker never met the registry away"
                time.sleep(0.3)
            postgres_start(data_dir, options)
            deadline = time.monotonic() + 30
            while (ready := anonymous.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.5)
        made = generated(operator, batch_id)
        assert (made["done"], made["failed"]) == (BATCH_ROWS, 0), made["errors"]
        documents = made["documents"]
        assert len({d["id"] for d in documents}) == len({d["number"] for d in documents})
        assert len(documents) == BATCH_ROWS
        assert process.poll() is None  # `docgen up` and its processes lived through it
    finally:
        stop_service(process)
