"""Crash safety of bulk work: kill the service signing a batch in the middle, or have a batch
wait for a worker; the service started again, or the worker that comes, loses nothing and does
nothing twice. (A worker killed in the middle of a batch: test_multi_instance.)"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.conftest import (
    People,
    Service,
    SignerAccount,
    add_worker,
    start_service,
    stop_service,
    stop_shared_storage,
)
from tests.test_batch_chunks import assert_every_pack_named
from tests.test_bulk import OFFICIAL_NIK, bulk_sign, generated, inauguration_csv, post_batch
from tests.test_templates_content import BA

# Three chunks: two run at once, so the third is still to come when the first are done and the
# kill lands between chunks.
CHUNK_ROWS = 40  # (a bulk signing's chunk is 40 documents too)
ROWS = 3 * CHUNK_ROWS


def kill_when(
    process: Any, client: httpx.Client, batch_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """SIGKILL ``process`` (the service or a worker: only its own process, as the OOM killer
    would) once ``ready``."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        batch: dict[str, Any] = client.get(f"/api/v1/batches/{batch_id}").json()
        if ready(batch):
            workers = worker_processes(process.pid)
            assert workers, "bulk work runs in processes of its own"
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            # The workers die with the service, even idle ones waiting for work.
            deadline = time.monotonic() + 10
            while any(alive(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not any(alive(w) for w in workers)
            return batch
        time.sleep(0.05)
    raise AssertionError(f"never got there: {batch}")


def worker_processes(pid: int) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(pid).children()
        if "multiprocessing" in " ".join(child.cmdline())
    ]


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def witness_and_batch(people: People, rows: int = ROWS) -> tuple[SignerAccount, str]:
    """The first witness with their own account, and a batch of ``rows`` berita acara
    accepted from the operator. The second witness and the official are entered by the admin:
    their roles are bound at acceptance (by the NIP in the rows, by the operator's choice)."""
    witness = people.signer(BA["nip_saksi_1"], name=BA["nama_saksi_1"])
    people.enrol(BA["nip_saksi_2"], name=BA["nama_saksi_2"])
    official = people.enrol(
        nik=OFFICIAL_NIK, name=BA["nama_pejabat_pelantik"], pangkat=None, jabatan="Bupati Sidoarjo"
    )
    response = post_batch(
        people.operator.client,
        inauguration_csv(rows),
        signers={"pejabat_pelantik": official["id"]},
    )
    assert response.status_code == 202, response.text
    return witness, response.json()["id"]


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"{pid} (ended)"


def processes_naming(path: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


# A killed service's signing is interrupted once its lease runs out (it reads so from then on);
# a killed worker's job is taken for stalled after 3 s without its heartbeat, and retried.
LEASE = {
    "DOCGEN_BATCH_CHUNK_ROWS": str(CHUNK_ROWS),
    "DOCGEN_SIGNING_LEASE_SECONDS": "3",
    "DOCGEN_WORKER_HEARTBEAT_SECONDS": "1",
    "DOCGEN_WORKER_STALLED_SECONDS": "3",
    "DOCGEN_JOB_REAPER_SECONDS": "1",
}


def test_a_killed_service_leaves_its_signing_to_be_resumed_exactly_once(tmp_path: Path) -> None:
    # (A worker killed in the middle of a batch: test_multi_instance, two workers, 300 rows.)
    data_dir = tmp_path / "docgen"
    process, service = start_service(data_dir, workers=1, **LEASE)
    try:
        people = People(service.url, service.data_dir)
        witness, batch_id = witness_and_batch(people)
        client = people.operator.client
        batch = generated(client, batch_id)
        assert (batch["total"], batch["done"], batch["failed"]) == (ROWS, ROWS, 0)
        # Numbers were reserved on acceptance: 1..ROWS, in row order, no gap, no repeat.
        docs = batch["documents"]
        assert [int(d["number"].split("/")[1]) for d in docs] == list(range(1, ROWS + 1))
        assert_registry_holds_each_row_once(service, batch_id)

        # Kill the service in the middle of the witness's bulk signing.
        response = witness.sign_batch(batch_id, "saksi_1")
        assert response.status_code == 202, response.text
        signing_id = response.json()["id"]

        def halfway(b: dict[str, Any]) -> bool:
            signing = next(s for s in b["signings"] if s["id"] == signing_id)
            return 0 < signing["done"] < ROWS

        kill_when(process, client, batch_id, halfway)
        stop_service(process)  # (its workers)

        process, service = start_service(data_dir, **LEASE)  # (signing needs no worker)
        people.moved_to(service.url)
        # The key went with the process, which renews the lease no more (the start took longer
        # than the lease).
        batch = client.get(f"/api/v1/batches/{batch_id}").json()
        [interrupted] = batch["signings"]
        assert interrupted["status"] == "terputus"
        signed_before = sum(1 for d in batch["documents"] if "saksi_1" not in d["pending_roles"])
        assert 0 < signed_before < ROWS
        # Posting it again signs exactly the rest.
        rest = bulk_sign(witness, batch_id, "saksi_1")
        assert (rest["status"], rest["done"], rest["failed"]) == (
            "selesai",
            ROWS - signed_before,
            0,
        )
        batch = client.get(f"/api/v1/batches/{batch_id}").json()
        assert all(
            d["pending_roles"] == ["saksi_2", "pejabat_pelantik"] for d in batch["documents"]
        )
        with service.registry() as db:
            per_document = db.execute(
                "SELECT r.document_id, count(*) FROM revisions r JOIN batch_rows b "
                "ON b.document_id = r.document_id WHERE r.kind = 'signed' GROUP BY r.document_id"
            ).fetchall()
        assert len(per_document) == ROWS and {n for _, n in per_document} == {1}
    finally:
        stop_service(process)
    # The LibreOffice servers and worker processes of the killed runs are gone too.
    stop_shared_storage(data_dir)  # (the S3 server, which this process runs)
    deadline = time.monotonic() + 10
    while processes_naming(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [command_line(pid) for pid in processes_naming(data_dir)] == []


def assert_registry_holds_each_row_once(service: Service, batch_id: str) -> None:
    """Each row made once, and every pack under the batch's prefix named in the registry: a
    chunk's current pack, holding its registered revisions, or an abandoned attempt's."""
    with service.registry() as db:
        rows = db.execute(
            "SELECT count(*), count(DISTINCT document_id), count(DISTINCT number) "
            "FROM batch_rows WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()
        documents = db.execute("SELECT count(*), count(DISTINCT number) FROM documents").fetchone()
        stored = [o.object_name for o in service.stored_objects(f"batches/{batch_id}/dibuat-")]
        assert_every_pack_named(db, batch_id, stored)
    assert rows == (ROWS, ROWS, ROWS)
    assert documents == (ROWS, ROWS)  # no document made twice for a row


def test_a_service_stopped_with_ctrl_c_marks_its_bulk_signing_interrupted(
    tmp_path: Path,
) -> None:
    # Three chunks of ten: still signing when the stop comes right after the signing began.
    rows = 30
    data_dir = tmp_path / "docgen"
    process, service = start_service(data_dir, workers=1, DOCGEN_BATCH_CHUNK_ROWS="10")
    try:
        people = People(service.url, service.data_dir)
        witness, batch_id = witness_and_batch(people, rows)
        generated(people.operator.client, batch_id)
        response = witness.sign_batch(batch_id, "saksi_1")
        assert response.status_code == 202, response.text
        signing_id = response.json()["id"]
    finally:
        stop_service(process)  # SIGINT, as Ctrl-C, while it signs
    with service.registry() as db:
        status, done = db.execute(
            "SELECT status, done FROM batch_signings WHERE id = %s", (signing_id,)
        ).fetchone()
    assert (status, done < rows) == ("terputus", True)


def test_a_resumed_batch_makes_its_rows_from_the_data_checked_on_acceptance(
    tmp_path: Path,
) -> None:
    rows = 20
    data_dir = tmp_path / "docgen"
    process, service = start_service(data_dir, workers=0)  # the batch waits in the queue
    try:
        people = People(service.url, service.data_dir)
        _, batch_id = witness_and_batch(people, rows)
        client = people.operator.client
        with service.client() as anonymous:
            ready = anonymous.get("/readyz")
        assert ready.status_code == 503
        assert "pekerja: tidak ada pekerja antrean yang hidup" in ready.json()["detail"]
        # The rows' data as read from the file is gone; what was checked on acceptance stays.
        with service.registry() as db:
            db.execute("UPDATE batch_rows SET data = '{}' WHERE batch_id = %s", (batch_id,))
            (checked,) = db.execute(
                "SELECT clean FROM batch_rows WHERE batch_id = %s AND row = 2", (batch_id,)
            ).fetchone()
        add_worker(process, service)  # a worker comes, and makes the batch
        batch = generated(client, batch_id)
        assert (batch["done"], batch["failed"]) == (rows, 0)
        first = client.get(f"/api/v1/documents/{batch['documents'][0]['id']}").json()
        assert first["data"] == checked
        assert first["data"]["peserta"][0]["nip"].isdigit()
    finally:
        stop_service(process)
