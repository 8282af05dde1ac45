"""Assembling DER from pieces that asn1crypto has already encoded.

Building a CMS structure as asn1crypto objects re-encodes its parts several times over (every
retagging and every dump walks the children again). Where the parts are known (certificates,
identifiers, attributes prepared once, each encoded by asn1crypto), gluing them together takes
a few microseconds: :mod:`signing.fast.cms` does so, and says what it saves.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CONTEXT_0", "CONTEXT_1", "OCTET_STRING", "SEQUENCE", "SET", "element", "set_of"]

SEQUENCE: Final = 0x30
SET: Final = 0x31
OCTET_STRING: Final = 0x04
CONTEXT_0: Final = 0xA0
"""[0], constructed (IMPLICIT SET OF, or EXPLICIT around one element)."""
CONTEXT_1: Final = 0xA1
"""[1], constructed."""


def element(tag: int, *content: bytes) -> bytes:
    """One DER element: ``tag`` (one byte), the definite length of ``content``, ``content``."""
    body = b"".join(content)
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def set_of(tag: int, members: list[bytes]) -> bytes:
    """A SET OF: DER orders the members by their encodings (X.690 §11.6)."""
    return element(tag, *sorted(members))
