"""A document's kop (letterhead) as its unit gives it, and what a template reads of it.

Tata naskah dinas lays a kop out as the emblem at the left of centred lines: the levels above
the unit (none for a vertical agency, one or two for a regional OPD: "PEMERINTAH KABUPATEN
PASURUAN"), the unit's name, and the address line, closed by a rule. A template writes them
from the ``kop`` variable:

- ``kop.baris``: the lines above the unit's name (a list, possibly empty);
- ``kop.nama``: the unit's name as the kop writes it, in one or two lines;
- ``kop.alamat``: address, telephone, website and e-mail in one line (possibly empty);
- ``kop.lambang``: the emblem as an inline picture (a run of its own; empty without one).

Nothing here comes from a manifest: a unit without a profile gets its registered name and no
other line, never another region's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Kop"]


@dataclass(frozen=True)
class Kop:
    """A unit's letterhead: ``lines`` above its ``name`` (one or two lines), its ``address``,
    and its emblem as PNG bytes (``emblem_png``, None without one)."""

    lines: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    address: str = ""
    emblem_png: bytes | None = field(default=None, repr=False)

    @property
    def digest(self) -> str:
        """A SHA-256 of everything the kop shows: a cached rendering made with another kop
        is never taken for this one's."""
        h = hashlib.sha256()
        for part in (*self.lines, "\0", *self.name, "\0", self.address, "\0"):
            h.update(part.encode() + b"\n")
        h.update(self.emblem_png or b"")
        return h.hexdigest()

    def context(self, lambang: Any) -> dict[str, Any]:
        """What a template reads as ``kop``, with ``lambang`` the emblem's inline picture (or
        an empty string)."""
        return {
            "baris": list(self.lines),
            "nama": list(self.name),
            "alamat": self.address,
            "lambang": lambang,
        }
