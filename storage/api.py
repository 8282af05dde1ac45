"""The object store interface the rest of docgen is written against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    """One immutable revision as it was written to the store."""

    key: str
    version_id: str | None
    sha256: str  # hex digest of the bytes
    size: int


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

    async def exists(self, key: str) -> bool:
        """Whether ``key`` currently holds an object.

        Raises:
            StorageUnavailable: the store cannot be reached or refused the request.
        """
        ...
