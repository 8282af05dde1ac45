"""Many revisions in one object: a ZIP archive whose members are stored, not compressed.

Bulk work makes hundreds of revisions at once; writing each as its own object costs the S3
server and its client a request apiece. A pack holds a chunk of them in one object, and each
member's bytes stay contiguous and unchanged inside it, so a revision is read back with a
ranged GET of its offset and size. Any ZIP tool lists and extracts a pack, without the
registry.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PACK_TYPE", "Pack", "pack"]

PACK_TYPE = "application/zip"


@dataclass(frozen=True)
class Pack:
    data: bytes
    parts: list[tuple[int, int]]  # (offset, size) of each member's bytes in ``data``, in order


def pack(members: Sequence[tuple[str, bytes]]) -> Pack:
    """The ZIP archive of ``(name, bytes)`` members, and where each member's bytes lie in it.

    Raises ValueError for an empty or repeated name.
    """
    names = [name for name, _ in members]
    if "" in names or len(set(names)) != len(names):
        raise ValueError("pack members need distinct, non-empty names")
    buffer = io.BytesIO()
    parts: list[tuple[int, int]] = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            archive.writestr(name, data)
            # Into a seekable buffer the local header comes first, then the bytes as they are
            # (no data descriptor after them): the member ends where the buffer now is.
            parts.append((buffer.tell() - len(data), len(data)))
    return Pack(buffer.getvalue(), parts)
