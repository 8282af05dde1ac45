"""Reading the objects that signing looks at without pyHanko's per-character parser.

pyHanko's reader parses objects one byte at a time through generators: a small dictionary such as
a catalog or a signature field costs 0.1-0.2 ms, and a signature dictionary's ``/Contents`` (a hex
string of several kilobytes, ~0.5 µs a digit) more than time-stamping the document. Signing a
document reads the same dozen objects every time (catalog, ``/Info``, form, fields, the earlier
signatures' dictionaries, for an archive time stamp the first page).

:func:`preload_objects` parses objects with regular expressions and slices of the file, building
the same pyHanko objects that ``generic.read_object`` builds (same types, values and
``container_ref``), and puts them in the reader's object cache, where pyHanko finds them instead
of parsing them again. Anything unusual is left to pyHanko's own parser, object by object:
comments, escapes in names, octal escapes beyond a byte, a stream whose ``/Length`` is indirect,
an encrypted file, an object in an object stream, an object header that does not match, a
repeated dictionary key. :func:`preload_signature_dictionaries` preloads what signing and
archiving read: the catalog, ``/Info``, the form, its fields and their values.

Measured share (``bench/fast_signing.py``: CPU time, the median of 200 calls after a warm-up,
resolving the objects that sign_pdf and add_long_term_validation resolve in the four files the
bulk run opens per berita acara, less opening them): ~0.8 ms a call with the preloading against
~15 ms for pyHanko's parser, mostly the earlier signatures' ``/Contents``; 4 calls per document,
~55 ms of CPU saved per document, more than the bulk run's ~45 ms per document in all.
Names are checked by the token pattern itself, and the containers being filled are kept in
local variables: a signature field's widget dictionary (30 tokens) ~29 µs instead of ~34 µs
(best of 500); ~0.35 ms of CPU per bulk document over its four openings (chunks of 20 berita
acara signed as ``sign_pdfs`` signs them, best of 9, interleaved: 9.98 -> 9.60 ms).
A hex string (a signature's ``/Contents``) without whitespace is decoded in one pass, not
checked and cleaned first: ~8 µs less for each of the six signature dictionaries read per
document.

The object's offset comes from ``PdfFileReader.xrefs``, whose class pyHanko calls internal;
tests/test_pyhanko_internals.py pins it (pyHanko 0.38.x).
"""

from __future__ import annotations

import binascii
import logging
import re
from collections.abc import Iterable
from typing import Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.pdf_utils.reader import PdfFileReader

import signing.fast

__all__ = [
    "preload_all_objects",
    "preload_first_page",
    "preload_objects",
    "preload_signature_dictionaries",
]

logger = logging.getLogger(__name__)

_MAX_FIELD_DEPTH: Final = 16
_MAX_PAGE_TREE_DEPTH: Final = 32
# Dictionaries and arrays open at once in one object: ours nest a few levels; deeper ones are
# left to pyHanko's recursive parser (a crafted file nested thousands deep gets its
# RecursionError, as without the fast paths).
_MAX_NESTING: Final = 64

_WS: Final = rb"[ \n\r\t\f\x00]"
# "12 0 obj", as pyHanko's object header reader takes it (one whitespace byte between the parts:
# more makes it warn, so such a header is left to it).
_HEADER: Final = re.compile(rb"([0-9]+)" + _WS + rb"([0-9]+)" + _WS + rb"obj")
# A name runs to the next whitespace or delimiter; a '#' escape or a byte outside printable
# ASCII is pyHanko's business (it decodes the one and refuses the other).
_DELIMITERS: Final = b"()<>[]{}/%"
_PLAIN_NAME_BYTE: Final = (
    b"["
    + b"".join(
        re.escape(bytes((byte,)))
        for byte in range(0x21, 0x7F)
        if byte != ord("#") and byte not in _DELIMITERS
    )
    + b"]"
)
# What pyHanko's NumberObject reader takes ('[^+-.0-9]' ends it: '+' to '.' is a range).
_INTEGER: Final = re.compile(rb"[+-]?[0-9]+")
_DECIMAL: Final = re.compile(rb"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_STRING_SPECIALS: Final = re.compile(rb"[()\\]")
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF" + PDF_WHITESPACE
_ESCAPE: Final = re.compile(rb"\\([0-9]{1,3}|[\r\n][\r\n]?|.)", re.DOTALL)
_ESCAPED: Final = {
    **{bytes([c]): bytes([c]) for c in b"() /%<>[]#_&$\\"},
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"f": b"\f",
}


class _Unusual(Exception):
    """Syntax left to pyHanko's parser."""


def preload_objects(
    reader: PdfFileReader, pdf: bytes, refs: Iterable[generic.Reference]
) -> list[generic.Reference]:
    """Parse the objects ``refs`` (of ``reader``, which reads the file ``pdf``) that are not in
    its cache yet and cache them; return the references of those cached here.

    Never raises for a damaged file: whatever cannot be read here is left to pyHanko, which
    reports it when the object is used.
    """
    if reader.encrypted:
        return []
    cached = []
    for ref in refs:
        if reader.cache_get_indirect_object(ref.generation, ref.idnum) is not None:
            continue
        try:
            found = _read_indirect(reader, pdf, ref)
        except _Unusual:
            logger.debug("object %s left to pyHanko", ref)
            continue
        except Exception:  # pyHanko will read it (and complain) on its own
            logger.debug("object %s left to pyHanko", ref, exc_info=True)
            continue
        reader.cache_indirect_object(ref.generation, ref.idnum, found)
        cached.append(ref)
    return cached


def preload_signature_dictionaries(reader: PdfFileReader, pdf: bytes) -> int:
    """Preload the catalog, ``/Info``, the form and its fields, and the signature dictionaries
    the fields point to (``/V``); return how many of the latter were cached here. ``pdf`` is
    the file ``reader`` reads.

    With the fast paths off (:mod:`signing.fast`) nothing is preloaded: pyHanko parses each
    object when it is first read (the library path). Never raises for a damaged file (see
    :func:`preload_objects`).
    """
    if not signing.fast.enabled() or reader.encrypted:
        return 0
    try:
        trailer = reader.trailer
        preload_objects(reader, pdf, _refs([_raw(trailer, "/Root"), _raw(trailer, "/Info")]))
        root = reader.root
        preload_objects(reader, pdf, _refs([_raw(root, "/AcroForm")]))
        fields = root["/AcroForm"].raw_get("/Fields")
        preload_objects(reader, pdf, _refs([fields]))
        values = _value_refs(reader, pdf, fields.get_object())
    except Exception:  # no form, or a broken one: nothing (more) to preload
        return 0
    return len(preload_objects(reader, pdf, values))


def preload_all_objects(reader: PdfFileReader, pdf: bytes) -> int:
    """Preload every object of the file's current revision that its xref tables place in the
    file (not in an object stream); return how many were cached here. ``pdf`` is the file
    ``reader`` reads.

    For validation: pyHanko's difference analysis reads every object of the signed revisions
    (to find each changed object's paths from the trailer), so each is parsed anyway. Objects
    that later revisions replaced are read at their old offsets by pyHanko, uncached.

    Measured (``bench/verify_uploads.py``'s MoU, two signatures and a document time stamp,
    ~100 KB: CPU time of ``validate_pdf``, the median of 25 runs interleaved with the library
    path, on a loaded 2-core machine): ~91 ms with this and
    :func:`signing.fast.pdf_reading.open_pdf` against ~163 ms with pyHanko's parser alone
    (~103 ms preloading only the signature dictionaries): pyHanko parses ~0.5 µs a byte, a
    signature's ``/Contents`` alone is ~12,000 hex digits. With the fast paths off
    (:mod:`signing.fast`) nothing is preloaded. Never raises for a damaged file (see
    :func:`preload_objects`).
    """
    if not signing.fast.enabled() or reader.encrypted:
        return 0
    try:
        xrefs = reader.xrefs
        refs: set[generic.Reference] = set()
        for revision in range(xrefs.total_revisions):
            refs |= xrefs.explicit_refs_in_revision(revision)
    except Exception:  # a damaged xref section: pyHanko will have its say
        return 0
    return len(preload_objects(reader, pdf, sorted(refs, key=lambda ref: ref.idnum)))


def preload_first_page(reader: PdfFileReader, pdf: bytes) -> None:
    """Preload the page tree nodes down to the first page, and their resource dictionaries
    (what pyHanko reads to put an annotation on the first page). With the fast paths off
    (:mod:`signing.fast`) nothing is preloaded (the library path)."""
    if not signing.fast.enabled() or reader.encrypted:
        return
    try:
        node = reader.root.raw_get("/Pages")
        for _ in range(_MAX_PAGE_TREE_DEPTH):
            if not isinstance(node, generic.IndirectObject):
                return
            preload_objects(reader, pdf, [node.reference])
            page = node.get_object()
            preload_objects(reader, pdf, _refs([_raw(page, "/Resources")]))
            if "/Kids" not in page:
                return
            node = page["/Kids"].raw_get(0)
    except Exception:  # a broken page tree: pyHanko will have its say
        return


def _refs(objects: Iterable[object]) -> list[generic.Reference]:
    return [obj.reference for obj in objects if isinstance(obj, generic.IndirectObject)]


def _raw(container: generic.PdfObject, key: str) -> generic.PdfObject | None:
    """``container``'s entry ``key`` as it stands (a reference is not followed), if any."""
    try:
        return container.raw_get(key)  # type: ignore[attr-defined, no-any-return]
    except (KeyError, AttributeError):
        return None


def _value_refs(
    reader: PdfFileReader, pdf: bytes, fields: generic.PdfObject
) -> list[generic.Reference]:
    """The indirect ``/V`` entries of the fields and their kids (without resolving them); the
    fields are preloaded on the way."""
    found: list[generic.Reference] = []
    seen: set[generic.Reference] = set()
    todo: list[tuple[generic.PdfObject, int]] = [(fields, 0)]
    while todo:
        kids, depth = todo.pop()
        if not isinstance(kids, generic.ArrayObject) or depth > _MAX_FIELD_DEPTH:
            continue
        items = []
        for item in kids:
            if isinstance(item, generic.IndirectObject) and item.reference not in seen:
                seen.add(item.reference)
                items.append(item)
        preload_objects(reader, pdf, [item.reference for item in items])
        for item in items:
            try:
                field = item.get_object()
                if not isinstance(field, generic.DictionaryObject):
                    continue
                value = _raw(field, "/V")
                if isinstance(value, generic.IndirectObject):
                    found.append(value.reference)
                if "/Kids" in field:
                    todo.append((field["/Kids"], depth + 1))
            except Exception:  # a broken field: pyHanko will have its say
                continue
    return found


def _read_indirect(reader: PdfFileReader, pdf: bytes, ref: generic.Reference) -> generic.PdfObject:
    # PdfFileReader.xrefs is documented; its class (XRefCache) calls itself internal. Where an
    # object starts is what every reader of the file needs: tests/test_long_term.py checks that
    # the objects found this way are the ones pyHanko reads.
    offset = reader.xrefs[ref]
    if not isinstance(offset, int):  # in an object stream, or missing
        raise _Unusual
    header = _HEADER.match(pdf, offset)
    if header is None or (int(header[1]), int(header[2])) != (ref.idnum, ref.generation):
        raise _Unusual
    container = generic.Reference(ref.idnum, ref.generation, reader)
    obj, pos = _read_value(pdf, header.end(), container)
    if isinstance(obj, generic.DictionaryObject):
        obj, pos = _maybe_stream(pdf, obj, pos)
        obj.container_ref = container
    if not _ENDOBJ.match(pdf, pos):
        raise _Unusual
    return obj


_TOKEN: Final = re.compile(
    _WS
    + rb"""*(?:
    (?P<name>/"""
    + _PLAIN_NAME_BYTE
    + rb"""*)(?=[ \n\r\t\f\x00()<>\[\]{}/%]|\Z)
    |(?P<ref>([0-9]+)[ \n\r\t\f]+([0-9]+)[ \n\r\t\f]+R)(?=[^a-zA-Z])
    |(?P<number>[+,\-.0-9]+)
    |(?P<open_dict><<)
    |(?P<close_dict>>>)
    |(?P<open_array>\[)
    |(?P<close_array>\])
    |(?P<hex><)
    |(?P<string>\((?:[^()\\]|\\.)*\))
    |(?P<true>true)
    |(?P<false>false)
    |(?P<null>null)
    |(?P<other>.)
    )""",
    re.VERBOSE | re.DOTALL,
)
"""One token after whitespace. A name is one of plain bytes only (any other is left to pyHanko,
see ``_PLAIN_NAME_BYTE``); a reference is what pyHanko takes for one (generic's
INDIRECT_PATTERN) less the odd whitespace it does not skip before the R; a string has no
unescaped parentheses inside (one with is read by :func:`_nested_string`); a hex string is only
its "<" (its digits are checked and decoded in one go)."""
_STREAM_AHEAD: Final = re.compile(_WS + rb"*stream")
_STREAM_START: Final = re.compile(_WS + rb"*stream(?:\r\n|\n)")
_ENDSTREAM: Final = re.compile(_WS + rb"*endstream")
_ENDOBJ: Final = re.compile(_WS + rb"*endobj")


def _read_value(
    pdf: bytes, pos: int, container: generic.Dereferenceable
) -> tuple[generic.PdfObject, int]:
    """The object starting at ``pos`` (after whitespace) and where it ends: what
    ``generic.read_object`` makes of it, every part with ``container`` as its container (an
    object's reference, or a trailer's)."""
    handler = container.get_pdf_handler()
    # The container being filled: a dictionary's entries and the key waiting for its value, or
    # an array's items (neither at the top). The stack keeps those of the containers around it.
    entries: dict[generic.NameObject, generic.PdfObject] | None = None
    key: generic.NameObject | None = None
    items: list[generic.PdfObject] | None = None
    stack: list[tuple[Any, Any, Any]] = []
    next_token = _TOKEN.finditer(pdf, pos).__next__  # contiguous: every byte starts some token
    while True:
        try:
            token = next_token()
        except StopIteration:  # the end of the file
            raise _Unusual from None
        kind = token.lastgroup
        obj: generic.PdfObject
        if kind == "name":
            name = generic.NameObject(token["name"].decode("ascii"))
            if entries is not None and key is None:  # a dictionary key
                key = name
                continue
            obj = name
        elif kind == "ref":
            idnum, generation = int(token[3]), int(token[4])
            # pyHanko looks for the reference pattern in the next 20 bytes only
            if idnum <= 0 or token.end() + 1 - token.start("ref") > 20:
                raise _Unusual
            obj = generic.IndirectObject(idnum, generation, handler)
        elif kind == "number":
            number = token["number"]
            if number.isdigit() or _INTEGER.fullmatch(number):
                obj = generic.NumberObject(number.decode("ascii"))
            elif _DECIMAL.fullmatch(number):
                obj = generic.FloatObject(number.decode("ascii"))
            else:
                raise _Unusual
        elif kind == "close_dict":
            if entries is None or key is not None:
                raise _Unusual
            obj = generic.DictionaryObject(entries)
            entries, key, items = stack.pop()
            if stack and _STREAM_AHEAD.match(pdf, token.end()):  # a nested stream
                raise _Unusual
        elif kind == "open_dict":
            if len(stack) >= _MAX_NESTING:
                raise _Unusual
            stack.append((entries, key, items))
            entries, key, items = {}, None, None
            continue
        elif kind == "string":
            raw = token["string"][1:-1]
            if b"\\" in raw:
                raw = _ESCAPE.sub(_unescape, raw)
            obj = generic.pdf_string(raw)
        elif kind == "open_array":
            if len(stack) >= _MAX_NESTING:
                raise _Unusual
            stack.append((entries, key, items))
            entries, key, items = None, None, []
            continue
        elif kind == "close_array":
            if items is None:
                raise _Unusual
            obj = generic.ArrayObject(items)
            entries, key, items = stack.pop()
        elif kind == "hex":  # checked and decoded here: a signature's is thousands of digits
            after = pdf.find(b">", token.end()) + 1
            if not after:
                raise _Unusual
            digits = pdf[token.end() : after - 1]
            try:  # an even number of digits and nothing else, as we write them: one pass
                value = binascii.unhexlify(digits)
            except binascii.Error:
                if digits.translate(None, _HEX_DIGITS):  # a comment, a stray byte
                    raise _Unusual from None
                digits = digits.translate(None, PDF_WHITESPACE)
                if len(digits) % 2:
                    digits += b"0"
                value = binascii.unhexlify(digits)
            obj = generic.pdf_string(value)
            next_token = _TOKEN.finditer(pdf, after).__next__
        elif kind == "true":
            obj = generic.BooleanObject(True)
        elif kind == "false":
            obj = generic.BooleanObject(False)
        elif kind == "null":
            obj = generic.NullObject()
        elif token["other"] == b"(":
            obj, after = _nested_string(pdf, token.start("other"))
            next_token = _TOKEN.finditer(pdf, after).__next__
        else:  # a comment, a keyword, a stray delimiter, a name with an escape or a non-ASCII byte
            raise _Unusual
        obj.container_ref = container
        if entries is not None:
            if key is None or key in entries:  # a value for no key; a key twice: pyHanko's
                raise _Unusual
            entries[key] = obj
            key = None
        elif items is not None:
            items.append(obj)
        else:
            return obj, after if kind in ("hex", "other") else token.end()


def _maybe_stream(
    pdf: bytes, obj: generic.DictionaryObject, pos: int
) -> tuple[generic.DictionaryObject, int]:
    """The stream the dictionary ``obj`` (ending at ``pos``) introduces, if it does, and where
    it ends."""
    start = _STREAM_START.match(pdf, pos)
    if start is None:
        if _STREAM_AHEAD.match(pdf, pos):  # "stream" without the end of line right after
            raise _Unusual
        return obj, pos
    length = obj.raw_get("/Length") if "/Length" in obj else None
    if type(length) is not generic.NumberObject or length < 0:  # an indirect one is pyHanko's
        raise _Unusual
    end = start.end() + length
    after = _ENDSTREAM.match(pdf, end)
    if end > len(pdf) or after is None:
        raise _Unusual
    return generic.StreamObject(dict(obj), encoded_data=pdf[start.end() : end]), after.end()


def _nested_string(pdf: bytes, pos: int) -> tuple[generic.PdfObject, int]:
    """The literal string at ``pos`` that has balanced parentheses inside, and where it ends."""
    depth = 1
    at = pos + 1
    while True:
        special = _STRING_SPECIALS.search(pdf, at)
        if special is None:
            raise _Unusual
        char = special[0]
        at = special.end()
        if char == b"\\":
            at += 1  # the escaped byte is never a delimiter of the string
        elif char == b"(":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                break
    raw = pdf[pos + 1 : at - 1]
    if b"\\" in raw:
        raw = _ESCAPE.sub(_unescape, raw)
    return generic.pdf_string(raw), at


def _unescape(escape: re.Match[bytes]) -> bytes:
    """One backslash escape, as pyHanko's literal string reader takes it."""
    code = escape[1]
    if code[0] in b"0123456789":
        if b"8" in code or b"9" in code:  # pyHanko fails on these
            raise _Unusual
        value = int(code, 8)
        if value > 0xFF:
            raise _Unusual
        return bytes((value,))
    if code[0] in b"\r\n":  # an escaped line break: nothing
        return b""
    try:
        return _ESCAPED[code]
    except KeyError:
        raise _Unusual from None
