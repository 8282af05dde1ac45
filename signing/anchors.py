"""Signature anchors: invisible marker text in a converted PDF that says where a signature goes.

A template writes ``{{ ttd('pihak_pertama') }}`` where a signer's signature belongs; rendering turns
that into the marker text ``#TTD:pihak_pertama#`` in a tiny white font, so it is invisible on paper
but present in the PDF text layer after LibreOffice has converted the document.
:func:`locate_anchors` finds those markers with poppler's ``pdftotext -bbox``.

Coordinates are returned in PDF user space (points, origin bottom-left). ``pdftotext`` reports them
relative to the page's crop box, top-left origin, after applying ``/Rotate``; LibreOffice writes
unrotated pages whose boxes start at the origin, where the two agree after flipping the y axis.
"""

from __future__ import annotations

import html
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import AnchorNotFound, InvalidPdf

__all__ = ["AnchorPosition", "anchor_marker", "locate_anchors"]

PDFTOTEXT = "pdftotext"

_MARKER_PREFIX = "#TTD:"
_MARKER_SUFFIX = "#"

# pdftotext -bbox writes one <page> element per page and one <word> element per word, in reading
# order. Parsed with a regex rather than an XML parser: the text comes from an arbitrary PDF and may
# hold characters that are not legal XML, which must not make the whole lookup fail.
_TOKEN_RE = re.compile(
    r'<page width="(?P<pw>[-+.\deE]+)" height="(?P<ph>[-+.\deE]+)">'
    r'|<word xMin="(?P<x0>[-+.\deE]+)" yMin="(?P<y0>[-+.\deE]+)"'
    r' xMax="(?P<x1>[-+.\deE]+)" yMax="(?P<y1>[-+.\deE]+)">(?P<text>.*?)</word>',
    re.DOTALL,
)


def anchor_marker(role: str) -> str:
    """The marker text that stands for ``role``'s signature in a rendered document.

    :raises ValueError: if ``role`` is empty or holds whitespace or ``#`` (it could not be found
        again reliably).
    """
    if not role or any(ch.isspace() or ch == "#" for ch in role):
        raise ValueError(f"invalid signer role name {role!r}")
    return f"{_MARKER_PREFIX}{role}{_MARKER_SUFFIX}"


@dataclass(frozen=True)
class AnchorPosition:
    """Where a marker sits: its lower-left corner in PDF user space (points, bottom-left origin)."""

    page: int  # 0-based
    x: float
    y: float
    page_width: float
    page_height: float


@dataclass(frozen=True)
class _Word:
    text: str  # whitespace removed
    x0: float
    y1: float  # bottom edge, top-left origin (pdftotext's yMax)
    x1: float


@dataclass
class _Page:
    width: float
    height: float
    words: list[_Word]


def locate_anchors(
    pdf: bytes, roles: Sequence[str], *, timeout: float = 20
) -> dict[str, AnchorPosition]:
    """Find the signature anchor of every role in ``pdf``; the first occurrence wins.

    Runs ``pdftotext -bbox`` in a subprocess (blocking: call it from a worker thread in async code).
    Markers are matched on the page's words joined without whitespace, so a marker that pdftotext
    splits into several words, or glues to neighbouring text, is still found.

    :raises AnchorNotFound: for the first role whose marker is not in the document.
    :raises InvalidPdf: if poppler cannot read ``pdf``, or takes longer than ``timeout`` seconds.
    :raises ValueError: for an invalid role name.
    """
    markers = {role: anchor_marker(role) for role in roles}
    pages = _extract_words(pdf, timeout=timeout)

    found: dict[str, AnchorPosition] = {}
    for page_index, page in enumerate(pages):
        pending = {role: marker for role, marker in markers.items() if role not in found}
        if not pending:
            break
        joined, owners = _join_words(page.words)
        for role, marker in pending.items():
            start = joined.find(marker)
            if start < 0:
                continue
            word_index, offset = owners[start]
            word = page.words[word_index]
            # The marker may start inside a word; interpolate within that word's box.
            x = word.x0 + (word.x1 - word.x0) * offset / len(word.text)
            found[role] = AnchorPosition(
                page=page_index,
                x=x,
                y=page.height - word.y1,
                page_width=page.width,
                page_height=page.height,
            )

    for role, marker in markers.items():
        if role not in found:
            raise AnchorNotFound(marker)
    return found


def _join_words(words: Sequence[_Word]) -> tuple[str, list[tuple[int, int]]]:
    """Concatenate the words and map each character back to (word index, offset in the word)."""
    parts: list[str] = []
    owners: list[tuple[int, int]] = []
    for index, word in enumerate(words):
        parts.append(word.text)
        owners.extend((index, offset) for offset in range(len(word.text)))
    return "".join(parts), owners


def _extract_words(pdf: bytes, *, timeout: float) -> list[_Page]:
    with tempfile.TemporaryDirectory(prefix="docgen-anchors-") as tmp:
        source = Path(tmp) / "document.pdf"
        source.write_bytes(pdf)
        try:
            proc = subprocess.run(
                [PDFTOTEXT, "-bbox", "-enc", "UTF-8", str(source), "-"],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise InvalidPdf(f"pdftotext did not finish within {timeout:g} s") from exc
    if proc.returncode != 0:
        # poppler repeats itself on broken files; the last lines say what finally failed
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = "; ".join(lines[-2:])[:300] or "no diagnostics"
        raise InvalidPdf(f"pdftotext cannot read the document (exit {proc.returncode}): {detail}")
    return _parse_bbox(proc.stdout.decode("utf-8", "replace"))


def _parse_bbox(output: str) -> list[_Page]:
    pages: list[_Page] = []
    for match in _TOKEN_RE.finditer(output):
        if match["pw"] is not None:
            pages.append(_Page(float(match["pw"]), float(match["ph"]), []))
            continue
        if not pages:  # a word outside any page: not pdftotext's format
            continue
        text = "".join(html.unescape(match["text"]).split())
        if text:
            pages[-1].words.append(
                _Word(
                    text=text, x0=float(match["x0"]), y1=float(match["y1"]), x1=float(match["x1"])
                )
            )
    return pages
