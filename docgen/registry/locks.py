"""One signing (or declining, or revoking) at a time per document, one upload at a time per
template id, on every instance of a deployment: a PostgreSQL advisory lock per document or id.

Transaction-level locks (``pg_advisory_xact_lock``), each held by an open transaction on a
connection of its own for as long as the document is worked on. PostgreSQL releases them at
that transaction's end, also when the connection breaks or its process is killed; a
session-level lock whose unlock failed would instead stay on a connection the pool hands out
again, held for good. The transaction only takes locks: it writes nothing and, between
statements at READ COMMITTED, holds no snapshot, so it keeps nothing from vacuum.

Waiters queue in PostgreSQL (no polling, first come first served), which also finds deadlocks
among them; docgen never makes one:
whoever waits holds at most that one document's lock (a single signature), and whoever holds
several never waits (a bulk signing's chunk tries its documents and leaves the taken ones, then
at its end waits for those one at a time). A waiter whose client went away leaves the queue
within a second (``client_connection_check_interval``, PostgreSQL 14 and later).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress

import anyio
from sqlalchemy import BigInteger, Cast, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from docgen.errors import Conflict
from docgen.registry.db import Database

__all__ = ["DocumentLocks", "advisory_key", "document_lock_key", "exclusive"]

# How long a single signature waits behind another one of the same document (a bulk signing's
# chunk holds its documents while it signs them: seconds).
WAIT_SECONDS = 60.0


def advisory_key(kind: str, name: str) -> int:
    """The advisory lock key of one thing of a kind (``document``, ``template``): 64 bits of a
    hash of both, in PostgreSQL's one-bigint key space (apart from the two-integer keys of batch
    chunks). Two things sharing a key would only wait for each other."""
    digest = hashlib.sha256(f"docgen:{kind}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def document_lock_key(document_id: str) -> int:
    """The document's advisory lock key."""
    return advisory_key("document", document_id)


def _key(kind: str, name: str) -> Cast[int]:
    return cast(advisory_key(kind, name), BigInteger)


@asynccontextmanager
async def exclusive(
    db: Database, kind: str, name: str, *, busy: str, wait_seconds: float = WAIT_SECONDS
) -> AsyncIterator[None]:
    """The advisory lock of one thing (see :func:`advisory_key`) for the block, on every
    instance, waited for while someone else holds it.

    Raises Conflict (409, ``busy`` its text): still held by another after ``wait_seconds``.
    """
    async with _transaction(db) as connection:
        await connection.execute(
            select(
                func.set_config("lock_timeout", f"{int(wait_seconds * 1000)}ms", True),
                # A waiter that goes away (cancelled: psycopg closes its connection; its
                # process killed) leaves the queue within a second, not at lock_timeout.
                func.set_config("client_connection_check_interval", "1s", True),
            )
        )
        try:
            await connection.execute(select(func.pg_advisory_xact_lock(_key(kind, name))))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            raise Conflict(busy) from exc
        yield


class DocumentLocks:
    """The documents' locks in the registry, shared by every instance."""

    def __init__(self, db: Database, wait_seconds: float = WAIT_SECONDS) -> None:
        self.db = db
        self.wait_seconds = wait_seconds

    def holding(self, document_id: str) -> AbstractAsyncContextManager[None]:
        """The document's lock for the block, waited for while someone else holds it.

        Raises Conflict (409): still held by another after ``wait_seconds``.
        """
        return exclusive(
            self.db,
            "document",
            document_id,
            busy="Dokumen ini sedang ditandatangani di tempat lain; coba lagi sebentar lagi",
            wait_seconds=self.wait_seconds,
        )

    @asynccontextmanager
    async def trying(self, document_ids: Sequence[str]) -> AsyncIterator[list[str]]:
        """The locks of those of ``document_ids`` nobody holds now, taken for the block without
        waiting: the block gets their ids, in the order given."""
        async with _transaction(self.db) as connection:
            # One statement for all of them, each key tried once in a row of its own, the rows
            # whose lock was taken kept by their place in the list: a round trip per document
            # cost the API 10.7 ms of CPU per chunk of 40 (~18 % of its CPU in a bulk
            # signing), this one 1.0 ms.
            keys = [document_lock_key(document_id) for document_id in document_ids]
            tried = (
                func.unnest(bindparam("keys", keys, type_=ARRAY(BigInteger)))
                .table_valued("key", with_ordinality="at")
                .render_derived()
            )
            taken = await connection.scalars(
                select(tried.c.at)
                .where(func.pg_try_advisory_xact_lock(tried.c.key))
                .order_by(tried.c.at)
            )
            yield [document_ids[at - 1] for at in taken]


@asynccontextmanager
async def _transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    async with db.engine.connect() as connection:
        try:
            yield connection
        finally:
            # The transaction's end frees its locks; a connection that is gone took them.
            with anyio.CancelScope(shield=True), suppress(DBAPIError):
                await connection.rollback()
