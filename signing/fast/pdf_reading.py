"""Opening a PDF without pyHanko's per-character parser for its cross-reference tables.

``PdfFileReader(stream)`` reads every cross-reference section and its trailer when it is
created: a classic xref table entry by entry through a generator, the trailer dictionary one
byte at a time; this is paid at every signature and at the archive time stamp.

Measured share (``bench/fast_signing.py``: CPU time, the median of 200 calls after a warm-up,
on the four files the bulk run opens per berita acara, from the prepared one to the one signed
three times): ~0.3 ms a call here against ~0.8-0.9 ms for pyHanko's reader; 4 calls per
document, ~2.3 ms of CPU saved per document, ~5 % of the bulk run's ~45 ms per document.

:func:`open_pdf` reads classic xref tables with regular expressions and slices, and the trailers
with :mod:`signing.fast.objects`'s object reader, and hands pyHanko the same structures its
own reader builds (``XRefSection`` per revision, ``XRefCache``, ``TrailerDictionary``). Only
the plain case is read here: xref tables at their declared offsets, entries of exactly 20 bytes,
generation 0, no free entries but object 0's, trailers without ``/Encrypt``, ``/XRefStm`` or
anything :mod:`signing.fast.objects` leaves to pyHanko, followed by ``startxref``. Anything
else (xref streams, hybrid files, broken offsets, comments, free lists, a looping ``/Prev``
chain, size mismatches) is opened by pyHanko itself, from the start, with its own result or
error.

Private pyHanko API, pinned by tests/test_pyhanko_internals.py (pyHanko 0.38.x): the reader is
built without ``PdfFileReader.__init__``, its private attributes set here, its header read by
``_read_header_version``, and the xref classes pyHanko calls internal built here.
"""

from __future__ import annotations

import io
import re
from typing import Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeContext, DecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader, _read_header_version, process_data_at_eof
from pyhanko.pdf_utils.xref import (
    TrailerDictionary,
    XRefCache,
    XRefSection,
    XRefSectionData,
    XRefSectionMetaInfo,
    XRefSectionType,
)

import signing.fast
from signing.fast.objects import _WS, _read_value, _Unusual

__all__ = ["open_pdf"]

# "xref" and the byte after it, which pyHanko skips whatever it is (here: whitespace).
_XREF: Final = re.compile(rb"xref" + _WS)
# A subsection header ("first count") after whitespace, or the "trailer" keyword.
_SUBSECTION: Final = re.compile(
    _WS + rb"*(?:([0-9]+)" + _WS + rb"+([0-9]+)" + _WS + rb"+|trailer" + _WS + rb"*(?=<<))"
)
# Entries of exactly 20 bytes: pyHanko reads them 20 bytes at a time, and shifts its reading
# for anything shorter or longer.
_ENTRIES: Final = re.compile(rb"(?:[0-9]{10} [0-9]{5} [nf](?: \r| \n|\r\n))*")
_ENTRY: Final = re.compile(rb"([0-9]{10}) ([0-9]{5}) ([nf])")
_STARTXREF_AHEAD: Final = re.compile(_WS + rb"*startxref")


def open_pdf(pdf: bytes, *, strict: bool = True) -> PdfFileReader:
    """``PdfFileReader(io.BytesIO(pdf), strict=strict)``, the same reader, built faster when
    the file has plain classic xref tables and the fast paths are on (:mod:`signing.fast`);
    with them off, that call itself (the library path).

    Raises what ``PdfFileReader`` raises for ``pdf``.
    """
    if signing.fast.enabled():
        try:
            return _open_plain(pdf, strict)
        except Exception:  # not plain (or not a PDF at all): pyHanko's own reading, or its error
            pass
    return PdfFileReader(io.BytesIO(pdf), strict=strict)


def _open_plain(pdf: bytes, strict: bool) -> PdfFileReader:
    """What ``PdfFileReader.__init__`` does, with the xref tables and trailers read here.

    Raises _Unusual (or pyHanko's errors) for whatever is left to ``PdfFileReader``.
    """
    stream = io.BytesIO(pdf)
    reader = PdfFileReader.__new__(PdfFileReader)
    # The attributes PdfFileReader.__init__ sets, in its order; tests/test_pdf_reading.py
    # checks that they are all there, with the same values.
    reader._security_handler = None
    reader.strict = strict
    reader._decode_context = DecodeContext(DecodeLimits(), input_size=len(pdf))
    reader.resolved_objects = {}
    reader._header_version = None
    reader._input_version = None
    reader._historical_resolver_cache = {}
    reader.stream = stream
    reader._header_version = _read_header_version(stream)
    stream.seek(-1, io.SEEK_END)
    last_startxref = process_data_at_eof(stream)
    sections, trailer, end = _read_xref_tables(pdf, reader, last_startxref, strict)
    stream.seek(end)  # where pyHanko stops: after the oldest trailer
    reader.xrefs = XRefCache(reader, sections)
    reader.last_startxref = last_startxref
    reader.trailer = trailer
    reader.has_xref_stream = False
    reader._embedded_signatures = None
    return reader


def _read_xref_tables(
    pdf: bytes, reader: PdfFileReader, startxref: int, strict: bool
) -> tuple[list[XRefSection], TrailerDictionary, int]:
    """The xref sections from the oldest on, the trailer, and where the oldest trailer ends."""
    sections: list[XRefSection] = []
    trailer = TrailerDictionary()
    trailer.container_ref = generic.TrailerReference(reader)
    seen: set[int] = set()
    prev: int | None = startxref
    end = 0
    while prev is not None:
        if prev in seen:  # a loop: pyHanko's error
            raise _Unusual
        seen.add(prev)
        section, revision_trailer, end = _read_xref_table(pdf, reader, prev, strict)
        sections.append(section)
        trailer.add_trailer_revision(revision_trailer)
        prev = _prev(revision_trailer)
    sections.reverse()
    # pyHanko checks, in strict mode, what free entries and generations other than 0 can
    # break, and that the sizes do not decrease; neither occurs here but the sizes.
    sizes = [section.meta_info.size for section in sections]
    if sizes != sorted(sizes):
        raise _Unusual
    return sections, trailer, end


def _read_xref_table(
    pdf: bytes, reader: PdfFileReader, startxref: int, strict: bool
) -> tuple[XRefSection, generic.DictionaryObject, int]:
    """The xref table at ``startxref``, its trailer, and where the trailer ends."""
    # whitespace before it, an xref stream, a bad offset: pyHanko's
    if startxref < 0 or not _XREF.match(pdf, startxref):
        raise _Unusual
    start = pos = startxref + 5
    data = XRefSectionData()
    highest = 0
    while True:
        header = _SUBSECTION.match(pdf, pos)
        if header is None:
            raise _Unusual
        pos = header.end()
        if header[1] is None:  # the trailer
            break
        first, count = int(header[1]), int(header[2])
        entries = pdf[pos : pos + 20 * count]
        if len(entries) != 20 * count or not _ENTRIES.fullmatch(entries):
            raise _Unusual
        pos += 20 * count
        if count:
            highest = max(highest, first + count - 1)
        # pyHanko numbers the first entry of a subsection with the NumberObject it read
        idnum: int = generic.NumberObject(first)
        for offset, generation, marker in _ENTRY.findall(entries):
            if idnum == 0:
                if int(generation) > 0xFFFF:  # refused in strict mode, skipped otherwise
                    raise _Unusual
            else:
                if marker != b"n" or generation != b"00000":  # a free list, generations
                    raise _Unusual
                if idnum in data.standard_xrefs:  # an entry twice: pyHanko's
                    raise _Unusual
                data.standard_xrefs[idnum] = (0, int(offset))
                data.explicit_refs_in_revision.add((idnum, 0))
            idnum += 1
    xref_end = pos
    revision_trailer, after = _read_value(pdf, pos, generic.TrailerReference(reader))
    if not isinstance(revision_trailer, generic.DictionaryObject):
        raise _Unusual
    # pyHanko reads the trailer as a dictionary, not as an object: it has no container itself
    del revision_trailer.container_ref
    if not _STARTXREF_AHEAD.match(pdf, after):  # a stream, a comment, something else
        raise _Unusual
    if "/Encrypt" in revision_trailer or "/XRefStm" in revision_trailer:
        raise _Unusual
    size = revision_trailer.raw_get("/Size") if "/Size" in revision_trailer else None
    if type(size) is not generic.NumberObject or (strict and highest >= size):
        raise _Unusual
    meta = XRefSectionMetaInfo(
        xref_section_type=XRefSectionType.STANDARD,
        size=int(size),
        declared_startxref=startxref,
        start_location=start,
        end_location=xref_end,
        stream_ref=None,
    )
    return XRefSection(meta, data), revision_trailer, after


def _prev(revision_trailer: generic.DictionaryObject) -> int | None:
    if "/Prev" not in revision_trailer:
        return None
    prev = revision_trailer.raw_get("/Prev")
    if type(prev) is not generic.NumberObject:
        raise _Unusual
    return prev
