"""The registry on a real PostgreSQL database: number sequences and the hash-chained audit log."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from sqlalchemy import select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from docgen.registry import audit
from docgen.registry.db import Database, migrate, registry_url
from docgen.registry.locks import DocumentLocks
from docgen.registry.models import AuditEntry
from docgen.registry.numbering import allocate_number
from docgen.settings import Settings
from docgen.templating.manifest import NumberingSpec
from tests.postgres import database_url, registry

pytestmark = pytest.mark.anyio

SPEC = NumberingSpec(
    pattern="{kode}/{urut}/{unit}/{bulan_romawi}/{tahun}", kode="000.8.3.3", unit="OR"
)


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture()
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = database_url(tmp_path)
    migrate(url)
    database = Database(url)
    yield database
    await database.close()


async def take(db: Database, on: date) -> str:
    async with db.session() as session:
        number = await allocate_number(session, SPEC, on)
        await session.commit()
    return number


async def test_number_follows_the_pattern(db: Database) -> None:
    assert await take(db, date(2023, 2, 14)) == "000.8.3.3/1/OR/II/2023"
    assert await take(db, date(2023, 2, 15)) == "000.8.3.3/2/OR/II/2023"
    assert await take(db, date(2023, 11, 1)) == "000.8.3.3/3/OR/XI/2023"


async def test_sequence_resets_every_year(db: Database) -> None:
    await take(db, date(2023, 12, 31))
    await take(db, date(2023, 12, 31))
    assert await take(db, date(2024, 1, 1)) == "000.8.3.3/1/OR/I/2024"


async def test_concurrent_numbers_never_repeat(db: Database) -> None:
    numbers: list[str] = []

    async def one() -> None:
        numbers.append(await take(db, date(2024, 6, 27)))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    assert sorted(int(n.split("/")[1]) for n in numbers) == list(range(1, 21))


async def test_audit_chain_is_intact_and_detects_edits(db: Database) -> None:
    async with db.session() as session:
        for i in range(3):
            await audit.record(session, "document.created", "document", f"doc{i}", number=i)
        await session.commit()
    async with db.session() as session:  # read back from the database, not the session cache
        assert await audit.verify_chain(session) is None
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        assert entries[0].prev_hash == audit.GENESIS
        assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]

        await session.execute(
            update(AuditEntry).where(AuditEntry.id == entries[1].id).values(details={"number": 9})
        )
        await session.commit()
    async with db.session() as session:
        assert await audit.verify_chain(session) == entries[1].id


async def test_entries_recorded_many_at_once_chain_in_order_with_single_ones(
    db: Database,
) -> None:
    async with db.session() as session:
        await audit.record(session, "batch.accepted", "batch", "b1")
        await audit.record_many(
            session, [("document.created", "document", f"doc{i}", {"number": i}) for i in range(3)]
        )
        await audit.record(session, "batch.finished", "batch", "b1")
        await session.commit()
    async with db.session() as session:  # a later transaction goes on from the stored head
        await audit.record_many(session, [("document.signed", "document", "doc0", {})])
        await audit.record_many(session, [])
        await session.commit()
    async with db.session() as session:
        assert await audit.verify_chain(session) is None
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.entity_id) for e in entries] == [
        ("batch.accepted", "b1"),
        ("document.created", "doc0"),
        ("document.created", "doc1"),
        ("document.created", "doc2"),
        ("batch.finished", "b1"),
        ("document.signed", "doc0"),
    ]
    assert entries[2].details == {"number": 1}
    assert [e.prev_hash for e in entries] == [audit.GENESIS] + [e.hash for e in entries[:-1]]


async def test_deleting_an_audit_entry_breaks_the_chain(db: Database) -> None:
    async with db.session() as session:
        for i in range(3):
            await audit.record(session, "signer.enrolled", "signer", f"s{i}")
        await session.commit()
        first = await session.scalar(select(AuditEntry).order_by(AuditEntry.id).limit(1))
        assert first is not None
        await session.delete(first)
        await session.commit()
    async with db.session() as session:
        assert await audit.verify_chain(session) is not None


def differences_from_the_models(url: URL) -> list[object]:
    """What the migrated schema at ``url`` has that the models lack, or lacks, as Alembic's
    autogenerate sees it. The job queue's tables (``procrastinate_*``) are procrastinate's,
    made by their own revision from its schema.sql, and have no models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from docgen.registry.models import Base

    def ours(name: str | None, _type: str, _parents: object) -> bool:
        return not (name or "").startswith("procrastinate_")

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": ours})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    url = registry_url(database_url(tmp_path))
    migrate(url)
    assert differences_from_the_models(url) == []


async def test_unit_from_the_data_has_its_own_sequence(db: Database) -> None:
    async with db.session() as session:
        a = await allocate_number(session, SPEC, date(2024, 2, 1), "PANWAS")
        b = await allocate_number(session, SPEC, date(2024, 2, 1))
        c = await allocate_number(session, SPEC, date(2024, 2, 1), "PANWAS")
        await session.commit()
    assert (a, b, c) == (
        "000.8.3.3/1/PANWAS/II/2024",
        "000.8.3.3/1/OR/II/2024",
        "000.8.3.3/2/PANWAS/II/2024",
    )


# --- one registry, several instances ------------------------------------------------------


async def test_write_phases_of_two_instances_never_fork_the_chain(db: Database) -> None:
    other = Database(db.url)  # a second instance: its own engine and its own process queue

    async def write(database: Database, i: int) -> None:
        async with database.writing() as session:
            await audit.record(session, "unit.created", "unit", f"u{i}")
            await anyio.sleep(0.01)  # the other instance's writers get their turn to try
            await session.commit()

    try:
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(write, (db, other)[i % 2], i)
    finally:
        await other.close()
    async with db.session() as session:
        assert await audit.verify_chain(session) is None
        prev = list(await session.scalars(select(AuditEntry.prev_hash)))
    assert len(prev) == len(set(prev)) == 20


async def test_trying_takes_the_free_documents_in_order_and_leaves_the_held_ones(
    db: Database,
) -> None:
    locks = DocumentLocks(db)
    ids = [f"doc{i}" for i in range(6)]
    # doc1 and doc4 held by single signatures elsewhere.
    async with locks.holding("doc1"), locks.holding("doc4"), locks.trying(ids[::-1]) as ours:
        assert ours == ["doc5", "doc3", "doc2", "doc0"]
        async with locks.trying(ids) as another:  # a chunk of another signing
            assert another == []
    async with locks.trying(ids) as ours:  # each block's end freed its locks
        assert ours == ids


async def test_a_second_entry_after_the_same_head_is_refused(db: Database) -> None:
    async with db.session() as session:
        await audit.record(session, "unit.created", "unit", "u1")
        await session.commit()
    # What a writer that read the same head would add: refused, not a silent fork.
    fork = text(
        "INSERT INTO audit_log (at, action, entity, entity_id, details, prev_hash, hash) "
        "SELECT at, action, entity, 'u2', details, prev_hash, md5(hash) || md5(hash) "
        "FROM audit_log"
    )
    async with db.session() as session:
        with pytest.raises(IntegrityError, match="prev_hash"):
            await session.execute(fork)


def test_two_first_starts_migrate_one_after_the_other(tmp_path: Path) -> None:
    url = registry_url(database_url(tmp_path))
    failures: list[BaseException] = []

    def start() -> None:
        try:
            migrate(url)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    starts = [threading.Thread(target=start) for _ in range(2)]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join(60)
    assert not any(thread.is_alive() for thread in starts) and failures == []
    assert differences_from_the_models(url) == []


# --- the connection pool, as the settings ask -----------------------------------------------


def backends_of(db: Database) -> list[int]:
    """PostgreSQL's process ids of the connections ``db`` has open (from a separate connection)."""
    with registry(db.url.render_as_string(hide_password=False)) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db.url.database,),
        ).fetchall()
    return [pid for (pid,) in rows]


async def test_pool_size_and_timeout_come_from_the_settings(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    settings = Settings(database_pool_size=1, database_max_overflow=0, database_pool_timeout=0.5)
    db = Database.of(url, settings)
    try:
        async with db.session() as holding:
            await holding.execute(text("SELECT 1"))  # checks out the pool's one connection
            with pytest.raises(sa.exc.TimeoutError):
                async with db.session() as waiting:
                    await waiting.execute(text("SELECT 1"))
            assert len(backends_of(db)) == 1
        async with db.session() as after:  # given back: the next one gets it
            assert (await after.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.close()


@pytest.mark.parametrize("pre_ping", [True, False])
async def test_pre_ping_replaces_a_connection_the_registry_dropped(
    tmp_path: Path, pre_ping: bool
) -> None:
    url = database_url(tmp_path)
    db = Database.of(url, Settings(database_pool_size=1, database_pre_ping=pre_ping))
    try:
        async with db.session() as first:
            await first.execute(text("SELECT 1"))
        (backend,) = backends_of(db)
        with registry(url) as admin:  # as a restart of PostgreSQL would
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        async with db.session() as second:
            if pre_ping:
                assert (await second.execute(text("SELECT 1"))).scalar() == 1
            else:  # handed out as it was: the first request after a restart fails
                with pytest.raises(sa.exc.OperationalError):
                    await second.execute(text("SELECT 1"))
    finally:
        await db.close()
