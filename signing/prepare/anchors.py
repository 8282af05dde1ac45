"""Signature anchors: invisible marker text in a converted PDF that says where a signature goes.

A template writes ``{{ ttd('pihak_pertama') }}`` where a signer's signature belongs; rendering turns
that into the marker text ``#TTD:pihak_pertama#`` in a tiny white font, so it is invisible on paper
but present in the PDF text layer after LibreOffice has converted the document.
:func:`locate_anchors` finds those markers with PDFium's text layer (pypdfium2), in process.

Coordinates are PDF user space (points, origin bottom-left), whatever the page's ``/Rotate`` or
crop box: the space in which the signature field's ``/Rect`` is written.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signing.errors import AnchorNotFound, InvalidPdf

__all__ = [
    "PDFIUM_LOCK",
    "AnchorPosition",
    "anchor_marker",
    "locate_anchors",
    "locate_markers",
]

_MARKER_PREFIX = "#TTD:"
_MARKER_SUFFIX = "#"

# How far below its baseline a marker's box starts, in em. LibreOffice writes /Descent 0 into
# every font descriptor; poppler then assumes 0.35 em, and the signature boxes have always hung
# from the bottom of poppler's word box (this module ran `pdftotext -bbox` before). Keeping that
# depth keeps the fields where they were: 0.7 pt below the baseline of a 2 pt marker.
_DESCENT_EM = 0.35

# PDFium is not thread-safe: no two of its calls may run at once in a process, not even on
# different documents, and pypdfium2 does not serialise them. Every use of it here holds this lock
# (the service calls locate_anchors from worker threads).
PDFIUM_LOCK = threading.Lock()


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
    page_width: float  # of the visible area (crop box within media box), before /Rotate
    page_height: float


def locate_anchors(pdf: bytes, roles: Sequence[str]) -> dict[str, AnchorPosition]:
    """Find the signature anchor of every role in ``pdf``; the first occurrence wins.

    Reads the PDF with PDFium in this process (blocking, CPU only: call it from a worker thread in
    async code; safe from several threads at once, which take turns). A marker is matched on the
    page's text with whitespace ignored, so a marker split over several runs or lines, or glued to
    neighbouring text, is still found. Its position is the origin of its first character, lowered
    by the font's descent.

    :raises AnchorNotFound: for the first role whose marker is not in the document.
    :raises InvalidPdf: if PDFium cannot read ``pdf`` (not a PDF, damaged beyond repair,
        encrypted, no pages).
    :raises ValueError: for an invalid role name.
    """
    found = locate_markers(pdf, {role: anchor_marker(role) for role in roles})
    for role in roles:
        if role not in found:
            raise AnchorNotFound(anchor_marker(role))
    return found


def locate_markers(pdf: bytes, markers: Mapping[str, str]) -> dict[str, AnchorPosition]:
    """Where each of ``markers`` (key -> marker text, e.g. ``#EMETERAI#``) first occurs in
    ``pdf``, as :func:`locate_anchors` finds them; keys whose marker is absent are left out.

    :raises InvalidPdf: if PDFium cannot read ``pdf``.
    """
    patterns = {key: _spaced_pattern(marker) for key, marker in markers.items()}
    with PDFIUM_LOCK:
        return _search(pdf, patterns)


def _spaced_pattern(marker: str) -> re.Pattern[str]:
    """``marker`` with any whitespace allowed between its characters (PDFium puts spaces and line
    breaks between text runs that do not touch)."""
    return re.compile(r"\s*".join(re.escape(ch) for ch in marker))


def _search(pdf: bytes, patterns: dict[str, re.Pattern[str]]) -> dict[str, AnchorPosition]:
    # Imported here: loading the bindings takes ~0.1 s and initialises PDFium for the process,
    # which only the callers that locate anchors need.
    import pypdfium2 as pdfium
    import pypdfium2.internal as pdfium_i
    import pypdfium2.raw as pdfium_c

    # Loaded through the raw API so that a document PDFium opens but finds no page in is still
    # closed (pypdfium2's PdfDocument raises for it without closing the handle). ``pdf`` outlives
    # the handle: PDFium reads it in place.
    raw = pdfium_c.FPDF_LoadMemDocument64(pdf, len(pdf), None)
    if not raw:
        reason = pdfium_i.ErrorToStr.get(pdfium_c.FPDF_GetLastError(), "unknown error")
        raise InvalidPdf(f"PDFium cannot read the document: {reason}")
    document = pdfium.PdfDocument(raw)
    found: dict[str, AnchorPosition] = {}
    try:
        pages = len(document)
        if pages < 1:
            raise InvalidPdf("PDFium cannot read the document: it has no pages")
        for page_index in range(pages):
            pending = {role: p for role, p in patterns.items() if role not in found}
            if not pending:
                break
            found.update(_search_page(document, page_index, pending))
    except pdfium.PdfiumError as exc:
        raise InvalidPdf(f"PDFium cannot read the document: {exc}") from exc
    finally:
        # Closed here, under the lock, rather than by pypdfium2's finalizers: those run whenever
        # the garbage collector gets to them, on whatever thread that is, without the lock.
        document.close()
    return found


def _search_page(
    document: Any, page_index: int, patterns: dict[str, re.Pattern[str]]
) -> dict[str, AnchorPosition]:
    import pypdfium2.raw as pdfium_c

    found: dict[str, AnchorPosition] = {}
    page = document[page_index]
    try:
        left, bottom, right, top = page.get_bbox()
        textpage = page.get_textpage()
        try:
            # surrogatepass: a lone surrogate stays one character, so indices keep counting
            # UTF-16 units (see _utf16_index)
            text = textpage.get_text_range(errors="surrogatepass")
            for role, pattern in patterns.items():
                match = pattern.search(text)
                if match is None:
                    continue
                char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(
                    textpage, _utf16_index(text, match.start())
                )
                x, y = ctypes.c_double(), ctypes.c_double()
                if char < 0 or not pdfium_c.FPDFText_GetCharOrigin(textpage, char, x, y):
                    raise InvalidPdf(f"PDFium gives no position for {match[0]!r}")
                size = pdfium_c.FPDFText_GetFontSize(textpage, char)
                found[role] = AnchorPosition(
                    page=page_index,
                    x=x.value,
                    y=y.value - _DESCENT_EM * size,
                    page_width=right - left,
                    page_height=top - bottom,
                )
        finally:
            textpage.close()
    finally:
        page.close()
    return found


def _utf16_index(text: str, index: int) -> int:
    """The position of ``text[index]`` in PDFium's UTF-16 text: characters outside the BMP take
    two units there but one character in ``text``."""
    if text.isascii():
        return index
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)
