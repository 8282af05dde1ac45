"""A bounded local copy of recently written and read revisions in front of an object store.

Each signature reads the revision the previous one wrote; in a bulk signing that is a GET per
document and signer, which costs the S3 server more CPU than the signature's own hashing. The
cache keeps those bytes on local disk, keyed by object key *and* version, so a revision once
written is never confused with another, and checks every hit against a SHA-256: the one recorded
when the object was written, or for a part of it (a revision in a bulk chunk's pack) the one the
caller holds. A damaged or altered file is dropped and read from the store instead. The store
stays the only record: the cache starts empty, forgets the least recently used objects past
``max_bytes``, and a failure to write it only costs the next read its speed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from storage.api import ObjectStore, StoredObject

__all__ = ["CachedObjectStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Entry:
    path: Path
    sha256: str
    size: int


class CachedObjectStore:
    """``inner`` with reads of known versions served from ``directory`` when possible.

    Only reads that name a version (as the registry always does) use the cache: "the latest"
    may have changed behind our back. ``directory`` is emptied on creation; one process only.
    """

    def __init__(self, inner: ObjectStore, directory: Path, max_bytes: int) -> None:
        self._inner = inner
        self._dir = directory
        self._max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._bytes = 0
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    async def put(
        self, key: str, data: bytes, content_type: str, *, unique_key: bool = False
    ) -> StoredObject:
        """As the inner store's ``put``; the bytes are kept for later reads of this version."""
        stored = await self._inner.put(key, data, content_type, unique_key=unique_key)
        if stored.version_id is not None:
            await self._keep(key, stored.version_id, data, stored.sha256)
        return stored

    async def get(self, key: str, version_id: str | None = None) -> bytes:
        """As the inner store's ``get`` (same errors); a kept copy of ``version_id`` if intact."""
        if version_id is None:
            return await self._inner.get(key, version_id)
        entry = self._entries.get((key, version_id))
        if entry is not None:
            data = await anyio.to_thread.run_sync(_read_intact, entry)
            if data is not None:
                self._entries.move_to_end((key, version_id))
                return data
            self._drop_damaged((key, version_id), entry)
        data = await self._inner.get(key, version_id)
        await self._keep(key, version_id, data, hashlib.sha256(data).hexdigest())
        return data

    async def read(self, where: StoredObject) -> bytes:
        """As the inner store's ``read`` (same errors): from a kept copy of its object when the
        bytes there hash to ``where.sha256``. What is read from the inner store is not kept: a
        part is not its object, and objects are kept when written through here."""
        kept = await self._kept_part(where)
        return kept if kept is not None else await self._inner.read(where)

    async def read_many(self, wheres: Sequence[StoredObject]) -> list[bytes]:
        """As the inner store's ``read_many`` (same errors), each part as :meth:`read` finds
        it: those not kept here read from the inner store together."""
        kept = [await self._kept_part(where) for where in wheres]
        unkept = [where for where, data in zip(wheres, kept, strict=True) if data is None]
        missing = iter(await self._inner.read_many(unkept) if unkept else [])
        return [data if data is not None else next(missing) for data in kept]

    async def _kept_part(self, where: StoredObject) -> bytes | None:
        """The bytes ``where`` names from a kept copy of its object, if intact."""
        if where.version_id is None:
            return None
        index = (where.key, where.version_id)
        entry = self._entries.get(index)
        if entry is None:
            return None
        data = await anyio.to_thread.run_sync(_read_part, entry, where)
        if data is None:
            self._drop_damaged(index, entry)
            return None
        self._entries.move_to_end(index)
        return data

    async def exists(self, key: str) -> bool:
        return await self._inner.exists(key)

    # The index is only touched on the event loop; the threads only read and write files.
    async def _keep(self, key: str, version_id: str, data: bytes, sha256: str) -> None:
        if len(data) > self._max_bytes or (key, version_id) in self._entries:
            return
        name = hashlib.sha256(f"{key}\0{version_id}".encode()).hexdigest()
        entry = _Entry(self._dir / name, sha256, len(data))
        if not await anyio.to_thread.run_sync(_write, entry.path, data):
            return
        if (key, version_id) in self._entries:  # kept meanwhile by a concurrent read
            return
        self._entries[(key, version_id)] = entry
        self._bytes += entry.size
        while self._bytes > self._max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self._forget(oldest)

    def _drop_damaged(self, index: tuple[str, str], entry: _Entry) -> None:
        log.warning("revision cache: copy of %s (version %s) damaged, dropped", *index)
        if self._entries.get(index) is entry:
            del self._entries[index]
            self._forget(entry)

    def _forget(self, entry: _Entry) -> None:
        self._bytes -= entry.size
        entry.path.unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> bool:
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")  # concurrent writers
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:  # a full disk slows reads down; it must not fail the write
        log.warning("revision cache: cannot write %s: %s", path.name, exc)
        partial.unlink(missing_ok=True)
        return False
    return True


def _read_part(entry: _Entry, where: StoredObject) -> bytes | None:
    try:
        with entry.path.open("rb") as file:
            data = os.pread(file.fileno(), where.size, where.offset)
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == where.sha256 else None


def _read_intact(entry: _Entry) -> bytes | None:
    try:
        data = entry.path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == entry.sha256 else None
