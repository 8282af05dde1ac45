"""The change listener on a real PostgreSQL: a notice reaches it only when the transaction that
sent it commits; it catches up on every kind when it starts, after its connection drops and at
each backstop poll; a notice it does not understand is left to the poll."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select, text

from docgen.registry.changes import (
    CHANNEL,
    CatchUp,
    Change,
    ChangeFollower,
    ChangeKind,
    announce,
)
from docgen.registry.db import Database
from tests.postgres import database_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Heard:
    """Which catch-ups ran, in order."""

    def __init__(self) -> None:
        self.kinds: list[ChangeKind] = []

    def catch_ups(self) -> dict[ChangeKind, CatchUp]:
        def catch_up(kind: ChangeKind) -> CatchUp:
            async def run() -> None:
                self.kinds.append(kind)

            return run

        return {kind: catch_up(kind) for kind in ChangeKind}

    async def until(self, check: Callable[[list[ChangeKind]], bool], seconds: float = 5) -> None:
        with anyio.fail_after(seconds):
            while not check(self.kinds):
                await anyio.sleep(0.02)


@asynccontextmanager
async def following(
    tmp_path: Path, poll_seconds: float = 3600
) -> AsyncIterator[tuple[Database, ChangeFollower, Heard]]:
    db = Database(database_url(tmp_path))
    heard = Heard()
    follower = ChangeFollower(db.url, heard.catch_ups(), poll_seconds)
    try:
        async with anyio.create_task_group() as tasks:
            await tasks.start(follower.run)
            # Having started listening, it catches up on every kind once.
            await heard.until(lambda kinds: set(kinds) == set(ChangeKind))
            heard.kinds.clear()
            yield db, follower, heard
            tasks.cancel_scope.cancel()
    finally:
        await db.close()


async def test_a_notice_arrives_only_when_its_transaction_commits(tmp_path: Path) -> None:
    async with following(tmp_path) as (db, _, heard):
        async with db.session() as session:
            await announce(session, Change(ChangeKind.CRL, "7"))
            await session.rollback()
        async with db.session() as session:
            await announce(session, Change(ChangeKind.TEMPLATES, "uji v1"))
            await anyio.sleep(0.3)
            assert heard.kinds == []  # not before the commit
            await session.commit()
        # Notices come in commit order: the rolled-back one would have come first.
        await heard.until(lambda kinds: kinds == [ChangeKind.TEMPLATES])
        await anyio.sleep(0.3)
        assert heard.kinds == [ChangeKind.TEMPLATES]


async def test_an_unknown_notice_is_left_to_the_poll(tmp_path: Path) -> None:
    async with following(tmp_path) as (db, _, heard):
        async with db.session() as session:
            await session.execute(select(func.pg_notify(CHANNEL, '{"kind": "baru"}')))
            await session.execute(select(func.pg_notify(CHANNEL, "bukan json")))
            await announce(session, Change(ChangeKind.CRL))
            await session.commit()
        await heard.until(lambda kinds: kinds == [ChangeKind.CRL])


async def test_the_backstop_poll_catches_up_on_every_kind(tmp_path: Path) -> None:
    async with following(tmp_path, poll_seconds=0.2) as (_, _, heard):
        # No notice at all: each poll looks at every kind.
        await heard.until(lambda kinds: len(kinds) >= 2 * len(ChangeKind))
        assert set(heard.kinds) == set(ChangeKind)


async def test_after_its_connection_drops_it_catches_up_and_listens_again(
    tmp_path: Path,
) -> None:
    async with following(tmp_path) as (db, follower, heard):
        async with db.session() as session:
            name = follower.application_name[:63]
            (pid,) = (
                await session.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": name},
                )
            ).one()
            await session.execute(select(func.pg_terminate_backend(pid)))
            await session.commit()
        # Connected again, it catches up on every kind (it may have missed notices) ...
        await heard.until(lambda kinds: set(kinds) == set(ChangeKind))
        heard.kinds.clear()
        # ... and follows notices again.
        async with db.session() as session:
            await announce(session, Change(ChangeKind.TEMPLATES))
            await session.commit()
        await heard.until(lambda kinds: kinds == [ChangeKind.TEMPLATES])
