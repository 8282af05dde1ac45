"""The object store interface the rest of docgen is written against."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    """Where one immutable revision lies in the store: the ``size`` bytes at ``offset`` of a
    version of the object ``key`` (the whole object, or a part of one: a member of a pack, or a
    revision that a later one extends), and their SHA-256."""

    key: str
    version_id: str | None
    sha256: str  # hex digest of the bytes
    size: int
    offset: int = 0

    def part(self, offset: int, data: bytes) -> StoredObject:
        """Where ``data``, found at ``offset`` within this object, lies."""
        return StoredObject(
            self.key, self.version_id, hashlib.sha256(data).hexdigest(), len(data), offset
        )


class ObjectStore(Protocol):
    """Write-once storage for document revisions."""

    async def put(
        self, key: str, data: bytes, content_type: str, *, unique_key: bool = False
    ) -> StoredObject:
        """Store ``data`` under ``key``.

        ``unique_key=True`` says the caller made ``key`` unique itself (a random part no other
        write can pick), so the store need not check that the key is free: a write to it can
        only be the first. Stored versions stay write-once either way.

        Raises:
            ObjectExists: the key already holds an object (checked unless ``unique_key``);
                revisions are never overwritten.
            StorageUnavailable: the store cannot be reached or refused the request.
        """
        ...

    async def get(self, key: str, version_id: str | None = None) -> bytes:
        """Return the bytes stored under ``key`` (the given version, or the latest).

        Raises:
            ObjectNotFound: no such key or version.
            ObjectCorrupted: the bytes read back do not match the SHA-256 recorded at upload.
            StorageUnavailable: the store cannot be reached or refused the request.
        """
        ...

    async def read(self, where: StoredObject) -> bytes:
        """Return the bytes ``where`` names, read with a ranged request when they are a part of
        their object, and checked against ``where.sha256``.

        Raises:
            ObjectNotFound: no such key or version.
            ObjectCorrupted: the bytes read do not hash to ``where.sha256`` (also when the object
                is shorter than ``where`` says).
            StorageUnavailable: the store cannot be reached or refused the request.
        """
        ...

    async def read_many(self, wheres: Sequence[StoredObject]) -> list[bytes]:
        """The bytes each of ``wheres`` names, in order, each checked as :meth:`read` checks
        it; parts of one version of an object that lie close together may be fetched with one
        ranged request.

        Raises: as :meth:`read`, for a part that fails.
        """
        ...

    async def exists(self, key: str) -> bool:
        """Whether ``key`` currently holds an object.

        Raises:
            StorageUnavailable: the store cannot be reached or refused the request.
        """
        ...
