"""Each chunk of a batch is registered exactly once, and every pack it stores is named in the
registry: on real PostgreSQL, the S3 server and LibreOffice.

The chunks are driven in this process, on the parts a service runs on (``start_parts``), by hand
or by queue workers run here, so a test decides who claims what and when. The accounts and
signers are made first through a service of the same data dir, which is then stopped.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from minio import Minio

from docgen.batches.making import ChunkEnd, ChunkMaker
from docgen.batches.service import BatchService
from docgen.batches.tasks import (
    BATCHES,
    CONTEXT_KEY,
    BatchJobs,
    ChunkQueue,
    requeue_waiting,
)
from docgen.jobs import job_app, worker_options
from docgen.people.policies import Caller
from docgen.registry.models import User
from docgen.settings import Settings
from docgen.wiring import Parts, start_parts
from tests.conftest import People, registry, shared_storage, start_service, stop_service
from tests.postgres import database_url, upgrade
from tests.test_bulk import OFFICIAL_NIK, inauguration_csv
from tests.test_templates_content import BA

ROWS_PER_CHUNK = 2  # small chunks: several per batch at little cost


@dataclass
class Office:
    """The parts of a stopped service's data dir, running in this process (in ``portal``), and
    its operator, who accepts batches."""

    portal: BlockingPortal
    parts: Parts
    operator: Caller
    official_id: str
    database_url: str
    data_dir: Path

    def accept(self, rows: int) -> str:
        """A batch of ``rows`` berita acara, accepted in chunks of ``ROWS_PER_CHUNK``."""
        parts = self.parts
        batches = BatchService(
            parts.db,
            parts.catalogue,
            parts.store,
            parts.batches.chunks,
            chunk_rows=ROWS_PER_CHUNK,
        )
        return self.portal.call(
            lambda: batches.accept(
                self.operator,
                "berita-acara-pelantikan",
                "daftar.csv",
                inauguration_csv(rows),
                {"pejabat_pelantik": self.official_id},
                None,
            )
        )

    def maker(self, name: str) -> ChunkMaker:
        parts = self.parts
        pipeline = parts.documents.pipeline
        return ChunkMaker(
            parts.db, parts.catalogue, pipeline, parts.links, parts.notifier, name=name
        )

    def registry(self) -> psycopg.Connection[tuple[Any, ...]]:
        return registry(self.database_url)

    def raw_store(self) -> Minio:
        keys = json.loads((self.data_dir / "s3" / "credentials.json").read_text())
        return Minio(
            self.parts.store_endpoint, keys["access_key"], keys["secret_key"], secure=False
        )

    def objects(self, prefix: str) -> list[str]:
        """The keys of every stored version under ``prefix``."""
        listed = self.raw_store().list_objects(
            "docgen", prefix=prefix, recursive=True, include_version=True
        )
        return sorted(str(o.object_name) for o in listed)

    def run_workers(self, count: int, settings: Settings | None = None) -> None:
        """``count`` queue workers of batch jobs in this process, side by side, each running
        one job at a time, until no job is left to run now."""

        async def worker(i: int) -> None:
            chosen = settings or self.parts.settings
            app = job_app(self.database_url, chosen)
            # As `docgen worker` runs it, but ending when the queue is empty.
            options = worker_options(chosen, name=f"uji-{i}", concurrency=1, queues=[BATCHES])
            async with app.open_async():
                jobs = BatchJobs(self.maker(f"uji-{i}:{i}"), ChunkQueue(app))
                options["additional_context"] = {CONTEXT_KEY: jobs}
                await app.run_worker_async(**options, wait=False)

        async def run() -> None:
            async with anyio.create_task_group() as tg:
                for i in range(1, count + 1):
                    tg.start_soon(worker, i)

        self.portal.call(run)

    def jobs(self, batch_id: str) -> list[tuple[Any, ...]]:
        """(chunk, status, attempts, priority) of the batch's chunk jobs, by chunk."""
        with self.registry() as db:
            return db.execute(
                "SELECT (args ->> 'chunk')::int, status::text, attempts, priority "
                "FROM procrastinate_jobs WHERE args ->> 'batch_id' = %s ORDER BY 1, id",
                (batch_id,),
            ).fetchall()


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    data_dir = tmp_path_factory.mktemp("bagian") / "docgen"
    one_each = {"DOCGEN_CONVERTER_WORKERS": "1", "DOCGEN_BULK_WORKERS": "1"}
    process, service = start_service(data_dir, **one_each)
    try:
        people = People(service.url, data_dir)
        people.enrol(str(BA["nip_saksi_1"]), name=BA["nama_saksi_1"])
        people.enrol(str(BA["nip_saksi_2"]), name=BA["nama_saksi_2"])
        official = people.enrol(
            nik=OFFICIAL_NIK,
            name=BA["nama_pejabat_pelantik"],
            pangkat=None,
            jabatan="Bupati Sidoarjo",
        )
        operator_id, unit_id = people.operator.id, people.unit_id
    finally:
        stop_service(process)
    settings = Settings(
        data_dir=data_dir,
        database_url=service.database_url,
        converter_workers=1,
        bulk_workers=1,
        revision_cache_mb=0,
        secret_key_file=data_dir / "secret.key",
        **{k.removeprefix("DOCGEN_").lower(): v for k, v in shared_storage(data_dir).items()},
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(start_parts(settings)) as parts,
    ):

        async def operator() -> Caller:
            async with parts.db.session() as session:
                user = await session.get(User, operator_id)
            return Caller(user, None, frozenset({unit_id}))

        yield Office(
            portal,
            parts,
            portal.call(operator),
            official["id"],
            service.database_url,
            data_dir,
        )


def chunk_of(office: Office, batch_id: str, chunk: int) -> tuple[Any, ...]:
    """(status, attempts, pack_key, abandoned_packs, claimed_by) of a chunk."""
    with office.registry() as db:
        found = db.execute(
            "SELECT status, attempts, pack_key, abandoned_packs, claimed_by FROM batch_chunks "
            "WHERE batch_id = %s AND chunk = %s",
            (batch_id, chunk),
        ).fetchone()
    assert found is not None
    return tuple(found)


def rows_of(office: Office, batch_id: str) -> list[tuple[Any, ...]]:
    """(row, chunk, status, document_id) of each row of the batch, in row order."""
    with office.registry() as db:
        return db.execute(
            "SELECT row, chunk, status, document_id FROM batch_rows WHERE batch_id = %s "
            "ORDER BY row",
            (batch_id,),
        ).fetchall()


def assert_every_pack_named(db: psycopg.Connection[Any], batch_id: str, stored: list[str]) -> None:
    """Every chunk of the batch made, and every pack stored under its prefix (``stored``: the
    key of each version under ``batches/<id>/dibuat-``) written once and named in the registry:
    a chunk's current pack, holding exactly the batch's registered revisions, or an abandoned
    attempt's."""
    chunks = db.execute(
        "SELECT status, attempts, pack_key, abandoned_packs FROM batch_chunks WHERE batch_id = %s",
        (batch_id,),
    ).fetchall()
    in_packs = db.execute(
        "SELECT DISTINCT v.object_key FROM revisions v JOIN batch_rows r "
        "ON r.document_id = v.document_id WHERE r.batch_id = %s",
        (batch_id,),
    ).fetchall()
    assert {c[0] for c in chunks} == {"selesai"}
    current = {c[2] for c in chunks}
    abandoned = {key for c in chunks for key in c[3]}
    assert len(abandoned) == sum(c[1] - 1 for c in chunks)  # one per attempt superseded
    assert len(stored) == len(set(stored))  # never a second version
    assert current <= set(stored) <= current | abandoned
    assert {key for (key,) in in_packs} == current


def assert_made_once(office: Office, batch_id: str, rows: int) -> None:
    """Every row of the batch made once, the batch finished once, every pack named."""
    with office.registry() as db:
        counted = db.execute(
            "SELECT count(*), count(DISTINCT r.document_id), count(DISTINCT d.number), "
            "count(*) FILTER (WHERE r.status = 'selesai') "
            "FROM batch_rows r JOIN documents d ON d.id = r.document_id WHERE r.batch_id = %s",
            (batch_id,),
        ).fetchone()
        ended = db.execute(
            "SELECT b.status, (SELECT count(*) FROM audit_log a WHERE a.entity_id = b.id "
            "AND a.action = 'batch.finished') FROM batches b WHERE b.id = %s",
            (batch_id,),
        ).fetchone()
        assert_every_pack_named(db, batch_id, office.objects(f"batches/{batch_id}/dibuat-"))
    assert counted == (rows, rows, rows, rows)
    assert ended == ("selesai", 1)


def test_a_finished_chunk_made_again_makes_nothing(office: Office) -> None:
    batch_id = office.accept(ROWS_PER_CHUNK)
    maker = office.maker("uji-1:1")
    assert office.portal.call(maker.make_chunk, batch_id, 0) == ChunkEnd.REGISTERED
    chunk, rows = chunk_of(office, batch_id, 0), rows_of(office, batch_id)
    objects = office.objects(f"batches/{batch_id}/")
    assert chunk == ("selesai", 1, f"batches/{batch_id}/dibuat-0000-1.zip", [], "uji-1:1")
    assert [(r[1], r[2]) for r in rows] == [(0, "selesai")] * ROWS_PER_CHUNK

    # A job run again, a second instance, a retry after the commit: each ends at the claim.
    assert office.portal.call(office.maker("uji-2:2").make_chunk, batch_id, 0) == (
        ChunkEnd.ALREADY_FINAL
    )
    assert chunk_of(office, batch_id, 0) == chunk
    assert rows_of(office, batch_id) == rows
    assert office.objects(f"batches/{batch_id}/") == objects
    assert_made_once(office, batch_id, ROWS_PER_CHUNK)


def test_of_two_claims_of_a_chunk_the_superseded_one_registers_nothing(office: Office) -> None:
    batch_id = office.accept(ROWS_PER_CHUNK)
    first, second = office.maker("uji-1:1"), office.maker("uji-2:2")
    template = office.parts.catalogue.latest("berita-acara-pelantikan")
    call = office.portal.call
    # The first maker claims and makes; meanwhile it is taken for dead and claimed again.
    stale = call(first.claim, batch_id, 0)
    current = call(second.claim, batch_id, 0)
    assert stale is not None and current is not None
    made_stale = call(first.make, stale, template)
    assert len(made_stale.documents) == ROWS_PER_CHUNK  # its pack is stored

    assert call(first.register, stale, made_stale) == ChunkEnd.SUPERSEDED
    assert chunk_of(office, batch_id, 0) == (
        "berjalan",
        2,
        f"batches/{batch_id}/dibuat-0000-2.zip",
        [f"batches/{batch_id}/dibuat-0000-1.zip"],
        "uji-2:2",
    )
    assert [r[2:] for r in rows_of(office, batch_id)] == [("menunggu", None)] * ROWS_PER_CHUNK
    assert office.objects(f"batches/{batch_id}/dibuat-") == [stale.pack_key]
    with office.registry() as db:
        numbers = [r.number for r in stale.rows]
        assert db.execute(
            "SELECT count(*) FROM documents WHERE number = ANY(%s)", (numbers,)
        ).fetchone() == (0,)

    assert call(second.register, current, call(second.make, current, template)) == (
        ChunkEnd.REGISTERED
    )
    # Late or repeated registrations of either attempt change nothing.
    assert call(first.register, stale, made_stale) == ChunkEnd.SUPERSEDED
    assert call(second.register, current, made_stale) == ChunkEnd.SUPERSEDED
    assert office.objects(f"batches/{batch_id}/dibuat-") == [stale.pack_key, current.pack_key]
    assert_made_once(office, batch_id, ROWS_PER_CHUNK)


def test_a_batch_is_accepted_with_one_job_per_chunk_earlier_chunks_first(office: Office) -> None:
    batch_id = office.accept(3 * ROWS_PER_CHUNK)
    # Deferred in the transaction that accepted the batch: both are there, or neither.
    assert office.jobs(batch_id) == [(0, "todo", 0, 0), (1, "todo", 0, -1), (2, "todo", 0, -2)]


def test_two_workers_on_one_batch_make_each_chunk_once(office: Office) -> None:
    rows = 3 * ROWS_PER_CHUNK
    batch_id = office.accept(rows)
    office.run_workers(2)
    with office.registry() as db:
        attempts = db.execute(
            "SELECT chunk, attempts, claimed_by FROM batch_chunks WHERE batch_id = %s "
            "ORDER BY chunk",
            (batch_id,),
        ).fetchall()
    # Each chunk's job taken by one worker, once.
    assert [a[:2] for a in attempts] == [(0, 1), (1, 1), (2, 1)]
    assert {a[2] for a in attempts} <= {"uji-1:1", "uji-2:2"}
    assert [r[1:3] for r in rows_of(office, batch_id)] == [
        (c, "selesai") for c in (0, 0, 1, 1, 2, 2)
    ]
    assert office.jobs(batch_id) == []  # succeeded jobs are removed
    assert_made_once(office, batch_id, rows)


def test_a_failing_chunk_is_retried_then_its_rows_fail_with_the_reason(office: Office) -> None:
    batch_id = office.accept(2 * ROWS_PER_CHUNK)
    # Chunk 0's first two pack keys are taken: each try fails storing its pack (create-only).
    for attempt in (1, 2):
        key = f"batches/{batch_id}/dibuat-0000-{attempt}.zip"
        office.raw_store().put_object("docgen", key, io.BytesIO(b"bukan paket"), 11)
    settings = office.parts.settings.model_copy(
        update={"job_max_retries": 1, "job_retry_base_seconds": 0}
    )
    office.run_workers(1, settings)

    assert office.jobs(batch_id) == [(0, "failed", 2, 0)]  # tried twice, then failed for good
    rows = rows_of(office, batch_id)
    assert [r[1:] for r in rows] == [(0, "gagal", None)] * 2 + [
        (1, "selesai", r[3]) for r in rows[2:]
    ]
    with office.registry() as db:
        errors = db.execute(
            "SELECT errors FROM batch_rows WHERE batch_id = %s AND chunk = 0", (batch_id,)
        ).fetchall()
        batch = db.execute("SELECT status FROM batches WHERE id = %s", (batch_id,)).fetchone()
    assert {e[0][0]["message"] for e in errors} == {
        "gagal setelah 2 percobaan: Objek itu sudah tersimpan dan tidak dapat ditimpa; coba lagi"
    }
    assert batch == ("selesai",)  # the batch ends, and says why per row
    assert chunk_of(office, batch_id, 0)[:2] == ("gagal", 2)


def test_open_chunks_without_a_job_are_queued_again_and_dead_ones_end(office: Office) -> None:
    batch_id = office.accept(2 * ROWS_PER_CHUNK)
    with office.registry() as db:  # as a batch accepted before the queue, or jobs removed
        db.execute("DELETE FROM procrastinate_jobs WHERE args ->> 'batch_id' = %s", (batch_id,))
    maker = office.maker("uji-1:1")
    queue = office.parts.batches.chunks
    requeued = office.portal.call(requeue_waiting, BatchJobs(maker, queue))
    assert requeued.deferred == [(batch_id, 0), (batch_id, 1)]
    assert office.jobs(batch_id) == [(0, "todo", 0, 0), (1, "todo", 0, -1)]
    # Nothing twice: each open chunk has its job now.
    again = office.portal.call(requeue_waiting, BatchJobs(maker, queue))
    assert batch_id not in {b for b, _ in again.deferred}

    # Chunk 1's job failed for good without ending it (its worker died on every try).
    with office.registry() as db:
        db.execute(
            "UPDATE procrastinate_jobs SET status = 'failed', attempts = 4 "
            "WHERE args ->> 'batch_id' = %s AND args ->> 'chunk' = '1'",
            (batch_id,),
        )
    ended = office.portal.call(requeue_waiting, BatchJobs(maker, queue))
    assert (batch_id, 1) in ended.given_up and (batch_id, 0) not in ended.given_up
    office.run_workers(1)
    rows = rows_of(office, batch_id)
    assert [r[2] for r in rows] == ["selesai", "selesai", "gagal", "gagal"]
    with office.registry() as db:
        message = db.execute(
            "SELECT errors -> 0 ->> 'message' FROM batch_rows WHERE batch_id = %s AND chunk = 1",
            (batch_id,),
        ).fetchone()
        batch = db.execute("SELECT status FROM batches WHERE id = %s", (batch_id,)).fetchone()
    assert message is not None and "tidak selesai dibuat setelah 5 percobaan" in message[0]
    assert batch == ("selesai",)


# --- the upgrade ----------------------------------------------------------------------------


def add_batch(db: psycopg.Connection[Any], status: str, rows: list[str]) -> str:
    """A batch as revision 0012 kept it, with rows of these statuses (rows 2, 3, ...)."""
    batch_id = uuid.uuid4().hex
    db.execute(
        "INSERT INTO batches (id, template_id, template_version, filename, source_key, "
        "source_sha256, signers, status, total, created_at) VALUES "
        "(%s, 'pakta-integritas', 1, 'daftar.csv', 'k', 's', '{}', %s, %s, now())",
        (batch_id, status, len(rows)),
    )
    db.cursor().executemany(
        "INSERT INTO batch_rows (batch_id, row, data, status, errors) "
        "VALUES (%s, %s, '{}', %s, '[]')",
        [(batch_id, i + 2, row_status) for i, row_status in enumerate(rows)],
    )
    return batch_id


def test_an_upgraded_registry_gets_the_chunks_of_its_unfinished_batches(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    upgrade(url, "0012")
    with registry(url) as db:
        # A waiting batch of 205 valid rows and one invalid (its 101st row); a running one
        # with two rows over (failed here: made ones would need documents) and one waiting;
        # a finished one.
        waiting = add_batch(db, "antre", ["menunggu"] * 100 + ["gagal"] + ["menunggu"] * 105)
        running = add_batch(db, "berjalan", ["gagal", "gagal", "menunggu"])
        finished = add_batch(db, "selesai", ["gagal"] * 3)
    upgrade(url, "head")
    with registry(url) as db:
        chunks = db.execute(
            "SELECT batch_id, chunk, status, attempts, pack_key, abandoned_packs::text "
            "FROM batch_chunks ORDER BY batch_id, chunk"
        ).fetchall()
        by_row: dict[Any, Any] = dict(
            db.execute(
                "SELECT row, chunk FROM batch_rows WHERE batch_id = %s", (waiting,)
            ).fetchall()
        )
        others = db.execute(
            "SELECT batch_id, row, chunk FROM batch_rows WHERE batch_id <> %s ORDER BY row",
            (waiting,),
        ).fetchall()
    assert sorted(chunks) == sorted(
        [(waiting, c, "menunggu", 0, None, "[]") for c in (0, 1, 2)]
        + [(running, 0, "menunggu", 0, None, "[]")]
    )
    # The valid rows in row order, 100 per chunk; the invalid row in none.
    assert [by_row[r] for r in range(2, 102)] == [0] * 100
    assert by_row[102] is None
    assert [by_row[r] for r in range(103, 208)] == [1] * 100 + [2] * 5
    assert sorted(others) == sorted(
        [(running, 2, None), (running, 3, None), (running, 4, 0)]
        + [(finished, r, None) for r in (2, 3, 4)]
    )
