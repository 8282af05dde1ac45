"""Store: every revision goes to object storage, write-once, with its SHA-256.

A document made or signed on its own stores each revision as an object of its own under
``documents/<id>/``; a bulk chunk stores all its revisions as one pack object (``storage.pack``:
a ZIP of stored members) under ``batches/<batch id>/``. Either way the registry keeps each
revision's object, offset, size and SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import anyio

from docgen.registry.statuses import RevisionKind
from storage import PACK_TYPE, ObjectStore, Pack, StoredObject, pack

__all__ = ["DOCX_TYPE", "PDF_TYPE", "NewRevision", "pack_key", "store_grouped", "store_revisions"]

K = TypeVar("K")

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"


def _object_key(document_id: str, seq: int, kind: str, ext: str) -> str:
    """A key no earlier attempt can have used: a write cut short by a crash leaves its object
    behind (object lock keeps it), and the next attempt must not collide with it. 64 random
    bits under the document's own prefix, so revisions are stored with ``unique_key``."""
    return f"documents/{document_id}/{seq:02d}-{kind}-{secrets.token_hex(8)}.{ext}"


@dataclass(frozen=True)
class NewRevision:
    """A revision made and not stored yet."""

    document_id: str
    seq: int
    kind: RevisionKind
    name: str  # in its object key or pack member name: source, prepared, signed-<role>, lta
    data: bytes

    @property
    def extension(self) -> str:
        return "docx" if self.kind == RevisionKind.SOURCE else "pdf"

    @property
    def filename(self) -> str:
        return f"{self.seq:02d}-{self.name}.{self.extension}"

    @property
    def content_type(self) -> str:
        return DOCX_TYPE if self.kind == RevisionKind.SOURCE else PDF_TYPE


def pack_key(batch_id: str, what: str) -> str:
    """A key for one pack of a batch's revisions; 64 random bits make it unique (see
    ``_object_key``). A pack the registry names before it is made (a batch chunk's) has a key
    of its own instead (``docgen.batches.making``)."""
    return f"batches/{batch_id}/{what}-{secrets.token_hex(8)}.zip"


async def store_revisions(
    store: ObjectStore, revisions: Sequence[NewRevision], *, pack_key: str | None = None
) -> list[tuple[RevisionKind, StoredObject]]:
    """Store ``revisions`` and return, in order, each one's kind and where it lies.

    A revision the next one of its document extends (the signed PDF its B-LTA revision appends
    to) is not stored on its own: it is the first ``size`` bytes of that one. The others are
    an object each, or with ``pack_key`` (a bulk chunk's revisions) members of one pack object
    (``storage.pack``): one PUT instead of hundreds. Either way the store holds every revision,
    immutable, and the registry its SHA-256, offset and size.

    Raises StorageUnavailable, ObjectExists (``pack_key`` already holds a pack).
    """
    if not revisions:
        return []
    owner = list(range(len(revisions)))
    for i in reversed(range(len(revisions) - 1)):
        this, following = revisions[i], revisions[i + 1]
        if this.document_id == following.document_id and following.data.startswith(this.data):
            owner[i] = owner[i + 1]
    own = [i for i in range(len(revisions)) if owner[i] == i]
    if pack_key is None:
        placed = {}
        for i in own:
            r = revisions[i]
            key = _object_key(r.document_id, r.seq, r.name, r.extension)
            placed[i] = await store.put(key, r.data, r.content_type, unique_key=True)
    else:
        members = await _put_pack(store, pack_key, [revisions[i] for i in own])
        placed = dict(zip(own, members, strict=True))
    return [
        (
            r.kind,
            placed[i] if owner[i] == i else placed[owner[i]].part(placed[owner[i]].offset, r.data),
        )
        for i, r in enumerate(revisions)
    ]


async def store_grouped(
    store: ObjectStore, made: Mapping[K, Sequence[NewRevision]], pack_key: str | None
) -> dict[K, list[tuple[RevisionKind, StoredObject]]]:
    """New revisions grouped by document, stored (with ``pack_key``: as one pack): each group's
    kinds and places, in order. Raises StorageUnavailable, ObjectExists (as
    ``store_revisions``)."""
    where = iter(
        await store_revisions(
            store, [r for group in made.values() for r in group], pack_key=pack_key
        )
    )
    return {key: [next(where) for _ in group] for key, group in made.items()}


async def _put_pack(
    store: ObjectStore, key: str, members: Sequence[NewRevision]
) -> list[StoredObject]:
    def build() -> tuple[Pack, list[str]]:
        packed = pack([(f"{r.document_id}/{r.filename}", r.data) for r in members])
        return packed, [hashlib.sha256(r.data).hexdigest() for r in members]

    packed, digests = await anyio.to_thread.run_sync(build)
    # Create-only (If-None-Match), whatever the key: a chunk's pack key is named from its batch,
    # chunk and attempt, not random, and a second write to it must fail rather than leave two
    # versions. One check per pack of up to 100 documents costs nothing measurable.
    obj = await store.put(key, packed.data, PACK_TYPE)
    return [
        StoredObject(obj.key, obj.version_id, digest, size, offset)
        for (offset, size), digest in zip(packed.parts, digests, strict=True)
    ]
