"""Idempotency keys: a client that retries a POST (a timeout, a dropped connection) with the same
``Idempotency-Key`` header gets the resource the first request made, never a second one.

Follows the IETF draft "The Idempotency-Key HTTP Header Field": the same key with a different
request is refused (422), and a retry while the first request is still running gets 409.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import Header
from sqlalchemy import delete

from docgen.errors import Conflict, DocgenError
from docgen.registry.db import Database
from docgen.registry.models import IdempotencyKey, utcnow

__all__ = [
    "IdempotencyKeyHeader",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "once",
    "request_digest",
]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key returns what the first request made",
    ),
]

_KEY = re.compile(r"[\x21-\x7e]{1,200}")
# A claim this old without a resource belongs to a request that died with the service.
STALE_CLAIM = timedelta(minutes=15)


class IdempotencyKeyInvalid(DocgenError):
    status_code = 400


class IdempotencyKeyReused(DocgenError):
    status_code = 422


def request_digest(*parts: bytes | str) -> str:
    """A digest of what makes two requests the same request."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


async def once(
    db: Database, scope: str, key: str | None, digest: str, make: Callable[[], Awaitable[str]]
) -> tuple[str, bool]:
    """Run ``make`` (which returns the id of what it made) once per ``key`` of ``scope``.

    Returns the id and whether it is a replay of an earlier request. Without a key, ``make``
    simply runs.

    Raises IdempotencyKeyInvalid (400), IdempotencyKeyReused (422: the key came with another
    request), Conflict (409: the first request with this key is still running), and whatever
    ``make`` raises (the key is then free for a retry).
    """
    if key is None:
        return await make(), False
    if not _KEY.fullmatch(key):
        raise IdempotencyKeyInvalid(
            "Idempotency-Key harus 1-200 karakter ASCII yang terlihat (tanpa spasi)"
        )
    now = utcnow()
    async with db.writing() as session:
        claim = await session.get(IdempotencyKey, (scope, key))
        if claim is not None:
            if claim.request_sha256 != digest:
                raise IdempotencyKeyReused(
                    "Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda"
                )
            if claim.resource_id is not None:
                return claim.resource_id, True
            if claim.created_at > now - STALE_CLAIM:
                raise Conflict("Permintaan dengan Idempotency-Key ini masih diproses")
            claim.created_at = now  # the first request died with the service: take over
        else:
            session.add(IdempotencyKey(scope=scope, key=key, request_sha256=digest))
        await session.commit()
    try:
        resource_id = await make()
    except BaseException:
        # Shielded: a cancelled request must still free its key.
        with anyio.CancelScope(shield=True):
            async with db.writing() as session:
                await session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.scope == scope, IdempotencyKey.key == key
                    )
                )
                await session.commit()
        raise
    async with db.writing() as session:
        claim = await session.get(IdempotencyKey, (scope, key))
        assert claim is not None
        claim.resource_id = resource_id
        await session.commit()
    return resource_id, False
