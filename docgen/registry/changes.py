"""Changes made on one instance, followed by every instance of the deployment within 2 seconds.

A change to state that instances hold in memory (the template catalogue, the current CRL) is
announced with PostgreSQL's ``pg_notify`` inside the transaction that commits it: PostgreSQL
delivers the notice only if that transaction commits, and only after it did, so whoever hears it
reads the change. Each instance runs one :class:`ChangeFollower`: a plain psycopg connection in
autocommit that LISTENs on :data:`CHANNEL` and, for each notice, runs the catch-up of its kind.

Catch-ups read the registry, not the notice: each loads what the instance does not hold yet and
is cheap when it holds everything. So a notice only says *which* kind to look at, and a lost one
costs at most a delay: after the listening connection drops (a PostgreSQL restart) the follower
reconnects with backoff and catches up on every kind once, and every ``poll_seconds`` it does so
anyway (the backstop for a notice lost some other way).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import anyio
import psycopg
from anyio.abc import TaskStatus
from psycopg.conninfo import make_conninfo
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CHANNEL", "Change", "ChangeFollower", "ChangeKind", "CatchUp", "announce"]

log = logging.getLogger(__name__)

CHANNEL = "docgen_changes"


class ChangeKind(StrEnum):
    """What changed: each kind has one catch-up on every instance."""

    TEMPLATES = "templates"  # a template version was recorded
    CRL = "crl"  # a CRL was published


@dataclass(frozen=True)
class Change:
    """One notice: its kind, and for people reading logs, what it was about."""

    kind: ChangeKind
    subject: str = ""

    def payload(self) -> str:
        """The notice's text (well under PostgreSQL's 8000-byte limit)."""
        return json.dumps({"kind": self.kind.value, "subject": self.subject})

    @classmethod
    def parse(cls, payload: str) -> Change | None:
        """The change a payload announces; None for one this version does not know (a newer
        instance's), which the backstop poll covers."""
        try:
            found = json.loads(payload)
            return cls(ChangeKind(found["kind"]), str(found.get("subject", "")))
        except (ValueError, KeyError, TypeError):
            return None


async def announce(session: AsyncSession, change: Change) -> None:
    """Announce ``change`` in the caller's transaction: delivered when (and if) it commits."""
    await session.execute(select(func.pg_notify(CHANNEL, change.payload())))


CatchUp = Callable[[], Awaitable[object]]
"""Loads what this instance does not hold yet of one kind; cheap when it holds everything."""

FIRST_BACKOFF = 0.25  # seconds before reconnecting the first time
MAX_BACKOFF = 5.0


class ChangeFollower:
    """Listens for changes and runs the catch-up of their kind; one per instance."""

    def __init__(
        self, url: URL, catch_ups: Mapping[ChangeKind, CatchUp], poll_seconds: float = 30.0
    ) -> None:
        self.url = url
        self.catch_ups = dict(catch_ups)
        self.poll_seconds = poll_seconds
        # Named for operators (and tests) in pg_stat_activity (which keeps 63 bytes of it).
        self.application_name = f"docgen changes {os.getpid()} {socket.gethostname()}"

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Follow changes until cancelled; reports started once listening (or once the first
        try failed: then it goes on trying in the background). Never raises: a failing
        catch-up is logged and tried again at the next notice or poll."""
        backoff = FIRST_BACKOFF
        started = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo(), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    if not started:
                        started = True
                        task_status.started()
                    else:
                        log.info("following changes again after a lost connection")
                    backoff = FIRST_BACKOFF
                    # Whatever changed before LISTEN took effect (or while disconnected).
                    await self.catch_up(*self.catch_ups)
                    await self._follow(connection)
            except psycopg.Error as exc:
                log.warning("change listener lost the registry (%s); again in %.2f s", exc, backoff)
            if not started:
                started = True
                task_status.started()
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _follow(self, connection: psycopg.AsyncConnection[object]) -> None:
        while True:
            async for notice in connection.notifies(timeout=self.poll_seconds):
                change = Change.parse(notice.payload)
                if change is not None:
                    await self.catch_up(change.kind)
            # The backstop, every poll_seconds (cheap: nothing to load when nothing was lost).
            await self.catch_up(*self.catch_ups)

    async def catch_up(self, *kinds: ChangeKind) -> None:
        """Run the catch-up of each of ``kinds``; a failing one is logged, never raised."""
        for kind in kinds:
            catch_up = self.catch_ups.get(kind)
            if catch_up is None:
                continue
            try:
                await catch_up()
            except Exception:
                log.exception("catching up on %s failed; tried again at the next change", kind)

    def _conninfo(self) -> str:
        # Keywords, not a URL: any password works as it is.
        given: dict[str, str | int | None] = {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.username,
            "password": self.url.password,
            "dbname": self.url.database,
            "application_name": self.application_name,
        }
        return make_conninfo(
            "", **{key: value for key, value in given.items() if value is not None}
        )
