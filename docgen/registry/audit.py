"""Hash-chained audit log: each entry commits to the one before it, and names who did it
(the actor of the request or job it was written in, :func:`acting`) and from where."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.registry.models import AuditEntry, Batch, Document, table_of, utcnow

GENESIS = "0" * 64
_HEAD = "docgen.registry.audit.head"  # session.info: (transaction, hash of its newest entry)

PUBLIC = "publik"
SYSTEM = "sistem"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id, ``publik`` or ``sistem``; and the client's address, if any."""

    id: str
    client: str | None = None


_SYSTEM_ACTOR = Actor(SYSTEM)
_actor: ContextVar[Actor | None] = ContextVar("docgen_audit_actor", default=None)


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Entries written inside name ``actor`` (also in tasks started inside, which copy it)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(actor: Actor) -> None:
    """For the rest of the current task (a request): entries name ``actor``."""
    _actor.set(actor)


def current_actor() -> Actor:
    return _actor.get() or _SYSTEM_ACTOR


def entry_hash(
    prev_hash: str,
    at: str,
    action: str,
    entity: str,
    entity_id: str,
    details: dict[str, Any],
    actor: str | None = None,
    client: str | None = None,
) -> str:
    fields: list[Any] = [prev_hash, at, action, entity, entity_id, details]
    if actor is not None:  # entries from before actors were recorded hash as they did
        fields += [actor, client]
    body = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


async def record(
    session: AsyncSession, action: str, entity: str, entity_id: str, **details: Any
) -> AuditEntry:
    """Append an entry in the caller's transaction.

    Callers hold the registry write lock, so the head read here is still the head at commit.
    Within one transaction the head is read once and then carried along, so a transaction that
    records a whole chunk of a batch costs one query, not one per entry (entries are inserted in
    the order they are added).
    """
    prev = await _head(session)
    at = utcnow()
    entry = AuditEntry(**_entry(prev, at, action, entity, entity_id, details))
    session.add(entry)
    session.info[_HEAD] = (session.sync_session.get_transaction(), entry.hash)
    return entry


async def record_many(
    session: AsyncSession, entries: Sequence[tuple[str, str, str, dict[str, Any]]]
) -> None:
    """Append ``(action, entity, entity_id, details)`` entries, in order, with one INSERT (a
    bulk chunk's), in the caller's transaction (see :func:`record`)."""
    if not entries:
        return
    prev = await _head(session)
    at = utcnow()
    rows = []
    for action, entity, entity_id, details in entries:
        rows.append(_entry(prev, at, action, entity, entity_id, details))
        prev = rows[-1]["hash"]
    # Pending entries of record() are flushed first (autoflush): the chain keeps its order.
    await session.execute(insert(table_of(AuditEntry)), rows)
    session.info[_HEAD] = (session.sync_session.get_transaction(), prev)


async def _head(session: AsyncSession) -> str:
    """The hash of the newest entry, carried along within the caller's transaction."""
    carried = session.info.get(_HEAD)
    if carried is not None and carried[0] is session.sync_session.get_transaction():
        return str(carried[1])
    head = await session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    return head or GENESIS


def _entry(
    prev: str, at: datetime, action: str, entity: str, entity_id: str, details: dict[str, Any]
) -> dict[str, Any]:
    actor = current_actor()
    return {
        "at": at,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "details": details,
        "prev_hash": prev,
        "actor": actor.id,
        "client": actor.client,
        "hash": entry_hash(
            prev, at.isoformat(), action, entity, entity_id, details, actor.id, actor.client
        ),
    }


async def verify_chain(session: AsyncSession) -> int | None:
    """Return the id of the first entry that breaks the chain, or None when it is intact."""
    prev = GENESIS
    for entry in await session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        expected = entry_hash(
            prev,
            entry.at.isoformat(),
            entry.action,
            entry.entity,
            entry.entity_id,
            entry.details,
            entry.actor,
            entry.client,
        )
        if entry.prev_hash != prev or entry.hash != expected:
            return entry.id
        prev = entry.hash
    return None


async def entries(
    session: AsyncSession,
    *,
    after: int = 0,
    before: int | None = None,
    newest_first: bool = False,
    limit: int,
    units: Collection[str] | None,
) -> list[AuditEntry]:
    """Entries after the id ``after`` (and before ``before``), oldest first or newest first;
    with ``units``, only those about the documents and batches of those units."""
    query = select(AuditEntry).where(AuditEntry.id > after).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    query = query.order_by(AuditEntry.id.desc() if newest_first else AuditEntry.id)
    if units is not None:
        documents = select(Document.id).where(Document.unit_id.in_(units))
        batches = select(Batch.id).where(Batch.unit_id.in_(units))
        query = query.where(
            ((AuditEntry.entity == "document") & AuditEntry.entity_id.in_(documents))
            | ((AuditEntry.entity == "batch") & AuditEntry.entity_id.in_(batches))
        )
    return list(await session.scalars(query))


@dataclass(frozen=True)
class AuditLog:
    """A page of the log, and the result of checking the whole chain."""

    entries: list[AuditEntry]
    broken_at: int | None  # the first entry that breaks the chain; None: intact


async def read_log(
    session: AsyncSession,
    *,
    units: Collection[str] | None,
    limit: int,
    after: int = 0,
    before: int | None = None,
    newest_first: bool = False,
) -> AuditLog:
    """A page of :func:`entries` with the result of :func:`verify_chain`."""
    page = await entries(
        session,
        after=after,
        before=before,
        newest_first=newest_first,
        limit=limit,
        units=units,
    )
    return AuditLog(page, await verify_chain(session))
