"""Bulk signing over several instances of one deployment: a signing runs under a lease in the
registry, held by the instance whose process checked the PIN; a document is signed by one
signature at a time, whichever instance signs it (a lock in the registry).

The tests hold a document's lock themselves, as a signature in progress elsewhere would, to
keep a signing running (it waits for that document at the end of its run) or to line several
signatures up behind one document. The last tests need no service: the schema's upgrade,
and the lease in process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest

from docgen.batches.lease import LeaseLost, SigningLease
from docgen.pipeline.convert import free_port
from docgen.registry.db import Database, migrate
from docgen.registry.locks import document_lock_key
from tests.conftest import People, Service, SignerAccount, start_service, stop_service
from tests.people import http_client
from tests.postgres import database_url, registry, upgrade
from tests.test_batch_chunks import add_batch
from tests.test_bulk import (
    OFFICIAL_NIK,
    generated,
    inauguration_csv,
    post_batch,
    wait_for,
)
from tests.test_bulk_resume import processes_naming
from tests.test_multi_instance import shared_parts
from tests.test_templates_content import BA

LEASE = 3  # seconds: renewed every second


class Deployment:
    """Two instances on one registry and object store, the first's accounts, and the three
    signers of a berita acara."""

    def __init__(self, where: Path, own: dict[str, str]) -> None:
        self.where = where
        self.own = own
        self.processes: list[subprocess.Popen[bytes]] = []

    def open(self) -> None:
        self.first = self.start("first", joining=False)
        self.second = self.start("second")
        self.people = People(self.first.url, self.first.data_dir)
        self.signers = {
            "saksi_1": self.people.signer(BA["nip_saksi_1"], name=BA["nama_saksi_1"]),
            "saksi_2": self.people.signer(BA["nip_saksi_2"], name=BA["nama_saksi_2"]),
            "pejabat_pelantik": self.people.signer(
                nik=OFFICIAL_NIK,
                name=BA["nama_pejabat_pelantik"],
                pangkat=None,
                jabatan="Bupati Sidoarjo",
            ),
        }

    def start(self, name: str, *, joining: bool = True) -> Service:
        """An API instance; the first has the deployment's one queue worker beside it."""
        env = {**self.own, **(shared_parts(self.first) if joining else {})}
        process, service = start_service(self.where / name, workers=0 if joining else 1, **env)
        self.processes.append(process)
        return service

    def on(self, service: Service, account: SignerAccount) -> SignerAccount:
        """The same signer, calling ``service``."""
        client = http_client(service.url, headers=account.client.headers)
        return SignerAccount(
            account.id, account.username, client, signer_id=account.signer_id, pin=account.pin
        )

    def batch(self, rows: int) -> list[str]:
        """A batch of ``rows`` berita acara made; its id and its documents' ids, in row order."""
        client = self.people.operator.client
        official = {"pejabat_pelantik": self.signers["pejabat_pelantik"].signer_id}
        response = post_batch(client, inauguration_csv(rows), signers=official)
        assert response.status_code == 202, response.text
        made = generated(client, response.json()["id"])
        assert made["done"] == rows, made["errors"]
        return [made["id"], *(d["id"] for d in made["documents"])]

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_service(process)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    own = {
        "DOCGEN_SECRET_KEY": "lease-tests-" + "k" * 32,
        "DOCGEN_SIGNING_LEASE_SECONDS": str(LEASE),
        "DOCGEN_CONVERTER_WORKERS": "1",
        "DOCGEN_BULK_WORKERS": "1",
    }
    where = tmp_path_factory.mktemp("sewa")
    made = Deployment(where, own)
    try:
        made.open()
        yield made
    finally:
        made.stop()


@contextmanager
def holding(service: Service, document_ids: list[str]) -> Iterator[psycopg.Connection[Any]]:
    """The documents' locks, held as a signature in progress would hold them."""
    with service.registry() as db:
        for document_id in document_ids:
            db.execute(
                "SELECT pg_advisory_xact_lock(%s::bigint)", (document_lock_key(document_id),)
            )
        try:
            yield db
        finally:
            db.rollback()


def waiting_on(db: psycopg.Connection[Any], document_ids: list[str]) -> int:
    """How many wait for the locks of the documents (PostgreSQL's view of advisory locks shows a
    64-bit key as its high and low halves)."""
    halves = set()
    for document_id in document_ids:
        key = document_lock_key(document_id) & (2**64 - 1)
        halves.add((key >> 32, key & 0xFFFF_FFFF))
    with psycopg.connect(db.info.dsn, password=db.info.password, autocommit=True) as other:
        waiting = other.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 1 AND NOT granted"
        ).fetchall()
    return sum(1 for pair in waiting if pair in halves)


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def signing_of(client: httpx.Client, batch_id: str, signing_id: str) -> dict[str, Any]:
    batch = client.get(f"/api/v1/batches/{batch_id}", params={"documents": "false"}).json()
    return dict(next(s for s in batch["signings"] if s["id"] == signing_id))


def ended(client: httpx.Client, batch_id: str, signing_id: str) -> dict[str, Any]:
    wait_for(
        client,
        batch_id,
        lambda b: next(s for s in b["signings"] if s["id"] == signing_id)["status"] != "berjalan",
        timeout=120,
    )
    return signing_of(client, batch_id, signing_id)


def signatures_per_document(service: Service, document_ids: list[str]) -> dict[str, list[str]]:
    """Each document's signed roles, one entry per signed revision registered."""
    with service.registry() as db:
        rows = db.execute(
            "SELECT r.document_id, s.role FROM revisions r JOIN signature_slots s "
            "ON s.revision_id = r.id "
            "WHERE r.kind = 'signed' AND r.document_id = ANY(%s) ORDER BY r.seq",
            (document_ids,),
        ).fetchall()
    found: dict[str, list[str]] = {d: [] for d in document_ids}
    for document_id, role in rows:
        found[document_id].append(role)
    return found


def test_starting_another_instance_leaves_a_running_signing_running(
    deployment: Deployment,
) -> None:
    batch_id, *documents = deployment.batch(3)
    witness = deployment.signers["saksi_1"]
    client = witness.client
    with holding(deployment.first, documents[-1:]):
        response = witness.sign_batch(batch_id, "saksi_1")
        assert response.status_code == 202, response.text
        signing_id = response.json()["id"]
        # It signs the others, then waits for the held one.
        eventually(lambda: signing_of(client, batch_id, signing_id)["done"] == 2, 60, "2 signed")
        third = deployment.start("third")
        # The new instance touched nothing of it, and its lease outlives several renewals.
        time.sleep(LEASE + 1)
        for service in (deployment.first, third):
            on_it = deployment.on(service, witness).client
            running = signing_of(on_it, batch_id, signing_id)
            assert (running["status"], running["done"]) == ("berjalan", 2)
    done = ended(client, batch_id, signing_id)
    assert (done["status"], done["done"], done["failed"]) == ("selesai", 3, 0)
    assert signatures_per_document(deployment.first, documents) == {
        d: ["saksi_1"] for d in documents
    }


def test_a_killed_instances_signing_runs_out_and_is_resumed_on_another(
    deployment: Deployment,
) -> None:
    batch_id, *documents = deployment.batch(4)
    doomed = deployment.start("doomed")
    witness = deployment.signers["saksi_1"]
    on_doomed = deployment.on(doomed, witness)
    held = documents[-2:]
    with holding(deployment.first, held):
        response = on_doomed.sign_batch(batch_id, "saksi_1")
        assert response.status_code == 202, response.text
        signing_id = response.json()["id"]
        eventually(
            lambda: signing_of(witness.client, batch_id, signing_id)["done"] == 2, 60, "2 signed"
        )
        # The instance and everything it started, as a container's end would take them (its
        # LibreOffice servers run in sessions of their own).
        os.killpg(doomed.pid, signal.SIGKILL)
        killed = time.monotonic()
        for pid in processes_naming(doomed.data_dir):
            os.kill(pid, signal.SIGKILL)
        # Another instance reads it interrupted once its lease ran out, before anything marks
        # it so in the registry.
        eventually(
            lambda: signing_of(witness.client, batch_id, signing_id)["status"] == "terputus",
            LEASE + 3,
            "read as terputus",
        )
        assert time.monotonic() - killed > 1  # (not at once: its lease still held)
        with deployment.first.registry() as db:
            (stored,) = db.execute(
                "SELECT status FROM batch_signings WHERE id = %s", (signing_id,)
            ).fetchone()
        assert stored == "berjalan"
    # Posting it again on another instance signs exactly the rest.
    on_second = deployment.on(deployment.second, witness)
    response = on_second.sign_batch(batch_id, "saksi_1")
    assert response.status_code == 202, response.text
    rest = ended(on_second.client, batch_id, response.json()["id"])
    assert (rest["status"], rest["total"], rest["done"], rest["failed"]) == ("selesai", 2, 2, 0)
    assert signatures_per_document(deployment.first, documents) == {
        d: ["saksi_1"] for d in documents
    }
    with deployment.first.registry() as db:
        swept = db.execute(
            "SELECT status, finished_at IS NOT NULL FROM batch_signings WHERE id = %s",
            (signing_id,),
        ).fetchone()
    assert swept == ("terputus", True)


def test_a_signing_whose_lease_is_lost_stops_and_signs_no_more(deployment: Deployment) -> None:
    batch_id, *documents = deployment.batch(3)
    witness = deployment.signers["saksi_1"]
    with holding(deployment.first, documents[-1:]) as db:
        response = witness.sign_batch(batch_id, "saksi_1")
        assert response.status_code == 202, response.text
        signing_id = response.json()["id"]
        eventually(lambda: waiting_on(db, documents[-1:]) == 1, 60, "waiting for the last")
        with deployment.first.registry() as other:  # as if the holder had been silent too long
            other.execute(
                "UPDATE batch_signings SET lease_until = now() WHERE id = %s", (signing_id,)
            )

        def ended_by_its_holder() -> bool:
            with deployment.first.registry() as other:
                found = other.execute(
                    "SELECT status, finished_at IS NOT NULL FROM batch_signings WHERE id = %s",
                    (signing_id,),
                ).fetchone()
            return found == ("terputus", True)

        # Its next renewal finds the lease gone: it stops waiting and marks itself ended.
        eventually(ended_by_its_holder, LEASE, "ended by its holder")
        eventually(lambda: waiting_on(db, documents[-1:]) == 0, 5, "no longer waiting")
    time.sleep(1)
    assert signatures_per_document(deployment.first, documents) == {
        **{d: ["saksi_1"] for d in documents[:-1]},
        documents[-1]: [],
    }
    assert signing_of(witness.client, batch_id, signing_id)["done"] == 2


def test_single_signatures_elsewhere_never_abort_a_running_bulk_signing(
    deployment: Deployment,
) -> None:
    rows = 4
    batch_id, *documents = deployment.batch(rows)
    witness = deployment.signers["saksi_1"]
    other_witness = deployment.on(deployment.second, deployment.signers["saksi_2"])
    # (The pool outlives the held locks: leaving it waits for the signatures.)
    with ThreadPoolExecutor(rows) as pool, holding(deployment.first, documents) as db:
        # The second witness signs each document on the other instance: each waits for its
        # document.
        singles = [pool.submit(other_witness.sign, d, "saksi_2") for d in documents]
        eventually(lambda: waiting_on(db, documents) == rows, 60, "single signatures waiting")
        # The bulk signing finds every document held: it leaves them all for the end of its
        # run, and there waits for the first.
        response = witness.sign_batch(batch_id, "saksi_1")
        assert response.status_code == 202, response.text
        signing_id = response.json()["id"]
        eventually(lambda: waiting_on(db, documents) == rows + 1, 60, "the bulk signing waiting")
        assert signing_of(witness.client, batch_id, signing_id)["status"] == "berjalan"
    assert [s.result().status_code for s in singles] == [200] * rows, [
        s.result().text for s in singles
    ]
    done = ended(witness.client, batch_id, signing_id)
    assert (done["status"], done["done"], done["failed"]) == ("selesai", rows, 0)
    signed = signatures_per_document(deployment.first, documents)
    assert all(sorted(roles) == ["saksi_1", "saksi_2"] for roles in signed.values()), signed
    batch = witness.client.get(f"/api/v1/batches/{batch_id}").json()
    assert all(d["pending_roles"] == ["pejabat_pelantik"] for d in batch["documents"])


def test_the_same_role_posted_twice_at_once_starts_one_signing(deployment: Deployment) -> None:
    batch_id, *documents = deployment.batch(2)
    witness = deployment.signers["saksi_2"]
    posts = [witness, deployment.on(deployment.second, witness)]
    together = threading.Barrier(2)

    def post(signer: SignerAccount) -> httpx.Response:
        together.wait()
        return signer.sign_batch(batch_id, "saksi_2")

    # A held document keeps the first signing running while the second one is posted.
    with holding(deployment.first, documents[-1:]), ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(post, posts))
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    [refused] = [a for a in answers if a.status_code == 409]
    assert refused.json()["error"] == "Conflict"
    assert "sedang berjalan" in refused.json()["detail"]
    [started] = [a.json()["id"] for a in answers if a.status_code == 202]
    done = ended(witness.client, batch_id, started)
    assert (done["status"], done["done"]) == ("selesai", 2)
    with deployment.first.registry() as db:
        (count,) = db.execute(
            "SELECT count(*) FROM batch_signings WHERE batch_id = %s", (batch_id,)
        ).fetchone()
    assert count == 1


def test_two_roles_of_one_turn_signing_one_document_at_once_both_sign(
    deployment: Deployment,
) -> None:
    _, document = deployment.batch(1)
    first = deployment.signers["saksi_1"]
    second = deployment.on(deployment.second, deployment.signers["saksi_2"])
    with ThreadPoolExecutor(2) as pool, holding(deployment.first, [document]) as db:
        answers = [
            pool.submit(first.sign, document, "saksi_1"),
            pool.submit(second.sign, document, "saksi_2"),
        ]
        # Both wait for the document, one on each instance, and nothing is signed meanwhile.
        eventually(lambda: waiting_on(db, [document]) == 2, 60, "both waiting")
        assert signatures_per_document(deployment.first, [document]) == {document: []}
    # Released: one signs, the other waits for it and signs the revision it made.
    assert [a.result().status_code for a in answers] == [200, 200], [
        a.result().text for a in answers
    ]
    assert sorted(signatures_per_document(deployment.first, [document])[document]) == [
        "saksi_1",
        "saksi_2",
    ]
    shown = first.client.get(f"/api/v1/documents/{document}").json()
    assert shown["pending_roles"] == ["pejabat_pelantik"]


def test_the_upgrade_ends_the_signings_left_running_and_allows_one_running_per_role(
    tmp_path: Path,
) -> None:
    url = database_url(tmp_path)
    upgrade(url, "0014")
    with registry(url) as db:
        batch_id = add_batch(db, "selesai", [])
        db.execute(
            "INSERT INTO signers (id, name, nomor_kind, jabatan, unit, status, failed_pins, "
            "created_at) VALUES ('s1', 'Saksi', 'nip', 'Camat', 'Kecamatan', 'aktif', 0, now())"
        )
        for signing_id, status in (("left", "berjalan"), ("over", "selesai")):
            db.execute(
                "INSERT INTO batch_signings (id, batch_id, role, signer_id, status, total, "
                "done, failed, errors, created_at) "
                "VALUES (%s, %s, 'saksi_1', 's1', %s, 3, 1, 0, '[]', now())",
                (signing_id, batch_id, status),
            )
    upgrade(url, "head")
    with registry(url) as db:
        ended = db.execute(
            "SELECT id, status, finished_at IS NOT NULL, holder, lease_until "
            "FROM batch_signings ORDER BY id"
        ).fetchall()
        assert ended == [
            ("left", "terputus", True, None, None),
            ("over", "selesai", False, None, None),
        ]
        running = (
            "INSERT INTO batch_signings (id, batch_id, role, signer_id, status, total, done, "
            "failed, errors, created_at, holder, lease_until) "
            "VALUES (%s, %s, 'saksi_1', 's1', 'berjalan', 3, 0, 0, '[]', now(), 'h', now())"
        )
        db.execute(running, ("again", batch_id))
        with pytest.raises(psycopg.errors.UniqueViolation, match="uq_batch_signings_running"):
            db.execute(running, ("twice", batch_id))


# --- the lease in process -------------------------------------------------------------------


def running_signing(url: str, holder: str, seconds: float) -> str:
    """A signing row running under ``holder``'s lease of ``seconds`` from now."""
    migrate(url)
    signing_id = uuid.uuid4().hex
    with registry(url) as db:
        batch_id = add_batch(db, "selesai", [])
        signer_id = uuid.uuid4().hex
        db.execute(
            "INSERT INTO signers (id, name, nomor_kind, jabatan, unit, status, failed_pins, "
            "created_at) VALUES (%s, 'Saksi', 'nip', 'Camat', 'Kecamatan', 'aktif', 0, now())",
            (signer_id,),
        )
        db.execute(
            "INSERT INTO batch_signings (id, batch_id, role, signer_id, status, total, done, "
            "failed, errors, created_at, holder, lease_until) VALUES (%s, %s, 'saksi_1', %s, "
            "'berjalan', 3, 0, 0, '[]', now(), %s, now() + make_interval(secs => %s))",
            (signing_id, batch_id, signer_id, holder, seconds),
        )
    return signing_id


def test_a_kept_lease_is_renewed_and_is_lost_once_another_holds_it(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    signing_id = running_signing(url, "me", LEASE)

    async def scenario() -> float:
        db = Database(url)
        try:
            lease = SigningLease(db, signing_id, "me", LEASE, anyio.current_time())
            with anyio.move_on_after(2 * LEASE):  # twice as long as one lease: renewed
                await lease.keep()
            with registry(url) as plain:
                (left,) = plain.execute(
                    "SELECT extract(epoch FROM lease_until - now()) FROM batch_signings "
                    "WHERE id = %s",
                    (signing_id,),
                ).fetchone()
                assert LEASE * 2 / 3 - 0.5 < float(left) <= LEASE
                plain.execute(
                    "UPDATE batch_signings SET holder = 'another' WHERE id = %s", (signing_id,)
                )
            taken = anyio.current_time()
            with pytest.raises(LeaseLost), anyio.fail_after(LEASE):
                await SigningLease(db, signing_id, "me", LEASE, anyio.current_time()).keep()
            return anyio.current_time() - taken
        finally:
            await db.close()

    assert anyio.run(scenario) <= LEASE / 3 + 0.5  # at the next renewal


def test_a_holder_cut_off_from_the_registry_gives_its_lease_up_before_it_runs_out() -> None:
    nowhere = Database(f"postgresql://docgen@127.0.0.1:{free_port()}/docgen")

    async def scenario() -> float:
        taken = anyio.current_time()
        with pytest.raises(LeaseLost), anyio.fail_after(LEASE):
            await SigningLease(nowhere, "s", "me", LEASE, taken).keep()
        return anyio.current_time() - taken

    # Renewals failed at 1 s and 2 s; given up at the lease less its margin (a third of it).
    assert LEASE * 2 / 3 - 0.1 <= anyio.run(scenario) < LEASE
