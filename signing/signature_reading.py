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
"""

from __future__ import annotations

import binascii
import logging
import re
from collections.abc import Iterable
from typing import Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["preload_first_page", "preload_objects", "preload_signature_dictionaries"]

logger = logging.getLogger(__name__)

_MAX_FIELD_DEPTH: Final = 16
_MAX_PAGE_TREE_DEPTH: Final = 32

_WS: Final = rb"[ \n\r\t\f\x00]"
_SKIP_WS: Final = re.compile(_WS + rb"*")
# "12 0 obj", as pyHanko's object header reader takes it (one whitespace byte between the parts:
# more makes it warn, so such a header is left to it).
_HEADER: Final = re.compile(rb"([0-9]+)" + _WS + rb"([0-9]+)" + _WS + rb"obj")
# A name runs to the next whitespace or delimiter; a '#' escape or a byte outside printable
# ASCII is pyHanko's business (it decodes the one and refuses the other).
_NAME: Final = re.compile(rb"/([^ \n\r\t\f\x00()<>\[\]{}/%]*)")
_PLAIN_NAME: Final = re.compile(rb"[!-\"$-~]*")
# What pyHanko's NumberObject reader takes ('[^+-.0-9]' ends it: '+' to '.' is a range).
_NUMBER: Final = re.compile(rb"[+,\-.0-9]+")
_INTEGER: Final = re.compile(rb"[+-]?[0-9]+")
_DECIMAL: Final = re.compile(rb"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_HEX_STRING: Final = re.compile(rb"[0-9A-Fa-f" + re.escape(PDF_WHITESPACE) + rb"]*")
_STRING_SPECIALS: Final = re.compile(rb"[()\\]")
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

    Never raises for a damaged file (see :func:`preload_objects`).
    """
    if reader.encrypted:
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


def preload_first_page(reader: PdfFileReader, pdf: bytes) -> None:
    """Preload the page tree nodes down to the first page, and their resource dictionaries
    (what pyHanko reads to put an annotation on the first page)."""
    if reader.encrypted:
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
    parser = _Parser(pdf, generic.Reference(ref.idnum, ref.generation, reader))
    start = parser.skip(header.end())
    obj: generic.PdfObject
    if pdf.startswith(b"<<", start):  # a dictionary, or a stream
        found, pos = parser.dictionary(start)
        obj, pos = parser.maybe_stream(found, pos)
        obj.container_ref = parser.container
    else:
        obj, pos = parser.value(start)
    pos = parser.skip(pos)
    if not pdf.startswith(b"endobj", pos):
        raise _Unusual
    return obj


class _Parser:
    """Objects inside one indirect object: what ``generic.read_object`` makes of them."""

    def __init__(self, pdf: bytes, container: generic.Reference) -> None:
        self.pdf = pdf
        self.container = container

    def skip(self, pos: int) -> int:
        """Past whitespace; a comment is pyHanko's (it skips comments where it skips space)."""
        end = _SKIP_WS.match(self.pdf, pos).end()  # type: ignore[union-attr]  # matches ""
        if self.pdf[end : end + 1] == b"%":
            raise _Unusual
        return end

    def value(self, pos: int) -> tuple[generic.PdfObject, int]:
        pdf = self.pdf
        first = pdf[pos : pos + 1]
        obj: generic.PdfObject
        if first == b"/":
            obj, pos = self.name(pos)
        elif first == b"<":
            if pdf[pos + 1 : pos + 2] == b"<":
                obj, pos = self.dictionary(pos)
                if pdf.startswith(b"stream", self.skip(pos)):  # a stream inside an object
                    raise _Unusual
            else:
                obj, pos = self.hex_string(pos)
        elif first == b"[":
            obj, pos = self.array(pos)
        elif first == b"(":
            obj, pos = self.literal_string(pos)
        elif first == b"t":  # pyHanko reads four bytes for true, five for false, no delimiter
            if not pdf.startswith(b"true", pos):
                raise _Unusual
            obj, pos = generic.BooleanObject(True), pos + 4
        elif first == b"f":
            if not pdf.startswith(b"false", pos):
                raise _Unusual
            obj, pos = generic.BooleanObject(False), pos + 5
        elif first == b"n":
            if not pdf.startswith(b"null", pos):
                raise _Unusual
            obj, pos = generic.NullObject(), pos + 4
        elif first and first in b"0123456789":
            # pyHanko decides between a number and "12 0 R" on the next 20 bytes
            reference = generic.INDIRECT_PATTERN.match(pdf, pos, pos + 20)
            if reference is None:
                obj, pos = self.number(pos)
            else:
                idnum, generation = int(reference[1]), int(reference[2])
                # pyHanko skips PDF whitespace before the R (the pattern takes \v, not \0)
                if idnum <= 0 or pdf[reference.end(2) : reference.end() - 2].strip(PDF_WHITESPACE):
                    raise _Unusual
                obj = generic.IndirectObject(idnum, generation, self.container.pdf)
                pos = reference.end() - 1  # the pattern includes the byte after the R
        elif first and first in b"+-.":
            obj, pos = self.number(pos)
        else:
            raise _Unusual
        obj.container_ref = self.container
        return obj, pos

    def name(self, pos: int) -> tuple[generic.NameObject, int]:
        found = _NAME.match(self.pdf, pos)
        assert found is not None  # matches "/" at least
        raw = found[1]
        if not _PLAIN_NAME.fullmatch(raw):
            raise _Unusual
        return generic.NameObject("/" + raw.decode("ascii")), found.end()

    def number(self, pos: int) -> tuple[generic.PdfObject, int]:
        found = _NUMBER.match(self.pdf, pos)
        if found is None:
            raise _Unusual
        token = found[0]
        if _INTEGER.fullmatch(token):
            return generic.NumberObject(token.decode("ascii")), found.end()
        if _DECIMAL.fullmatch(token):
            return generic.FloatObject(token.decode("ascii")), found.end()
        raise _Unusual

    def array(self, pos: int) -> tuple[generic.ArrayObject, int]:
        items = []
        pos = self.skip(pos + 1)
        while self.pdf[pos : pos + 1] != b"]":
            item, pos = self.value(pos)
            items.append(item)
            pos = self.skip(pos)
        return generic.ArrayObject(items), pos + 1

    def dictionary(self, pos: int) -> tuple[generic.DictionaryObject, int]:
        pdf = self.pdf
        data: dict[generic.NameObject, generic.PdfObject] = {}
        pos = self.skip(pos + 2)
        while pdf[pos : pos + 1] != b">":
            if pdf[pos : pos + 1] != b"/":
                raise _Unusual
            key, pos = self.name(pos)
            value, pos = self.value(self.skip(pos))
            if key in data:  # pyHanko warns or refuses, depending on strictness: let it
                raise _Unusual
            data[key] = value
            pos = self.skip(pos)
        if pdf[pos + 1 : pos + 2] != b">":
            raise _Unusual
        return generic.DictionaryObject(data), pos + 2

    def maybe_stream(
        self, obj: generic.DictionaryObject, pos: int
    ) -> tuple[generic.DictionaryObject, int]:
        """The stream the dictionary ``obj`` (ending at ``pos``) introduces, if it does."""
        pdf = self.pdf
        start = self.skip(pos)
        if not pdf.startswith(b"stream", start):
            return obj, pos
        start += len(b"stream")
        if pdf.startswith(b"\r\n", start):
            start += 2
        elif pdf.startswith(b"\n", start):
            start += 1
        else:
            raise _Unusual
        length = obj.raw_get("/Length")  # an indirect length is pyHanko's to resolve
        if type(length) is not generic.NumberObject or length < 0:
            raise _Unusual
        end = start + length
        after = self.skip(end)
        if end > len(pdf) or not pdf.startswith(b"endstream", after):
            raise _Unusual
        stream = generic.StreamObject(dict(obj), encoded_data=pdf[start:end])
        stream.container_ref = self.container
        return stream, after + len(b"endstream")

    def hex_string(self, pos: int) -> tuple[generic.PdfObject, int]:
        end = self.pdf.find(b">", pos + 1)
        if end < 0:
            raise _Unusual
        digits = self.pdf[pos + 1 : end]
        if not _HEX_STRING.fullmatch(digits):  # a comment or a stray character: pyHanko decides
            raise _Unusual
        digits = digits.translate(None, PDF_WHITESPACE)
        if len(digits) % 2:
            digits += b"0"
        return generic.pdf_string(binascii.unhexlify(digits)), end + 1

    def literal_string(self, pos: int) -> tuple[generic.PdfObject, int]:
        pdf = self.pdf
        depth = 1
        escapes = False
        at = pos + 1
        while True:
            special = _STRING_SPECIALS.search(pdf, at)
            if special is None:
                raise _Unusual
            char = special[0]
            at = special.end()
            if char == b"\\":
                escapes = True
                at += 1  # the escaped byte is never a delimiter of the string
            elif char == b"(":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    break
        raw = pdf[pos + 1 : at - 1]
        if escapes:
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
