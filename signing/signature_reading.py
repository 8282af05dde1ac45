"""Reading signature dictionaries without pyHanko's per-character hex string parser.

A signature dictionary's ``/Contents`` is a hex string of several kilobytes (the CMS container
and its reserved room); pyHanko's reader decodes it one character at a time in Python, ~0.5 µs a
digit, which made reading the signatures of a document cost more than time-stamping it.
:func:`preload_signature_dictionaries` parses the signature dictionaries the way pyHanko's
``DictionaryObject.read_from_stream`` does, except that a ``/Contents`` hex string is decoded with
``binascii`` in one go, and puts them in the reader's object cache, where pyHanko finds them
instead of parsing them again. Anything unusual (comments or foreign characters in the hex string,
an encrypted file, an object stream, a stream instead of a dictionary, an object header that does
not match) leaves the object to pyHanko's own parser.
"""

from __future__ import annotations

import binascii
import logging
import re
from io import BytesIO
from typing import Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE, read_non_whitespace
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import read_object_header

__all__ = ["preload_signature_dictionaries"]

logger = logging.getLogger(__name__)

_CONTENTS: Final = generic.NameObject("/Contents")
_HEX_STRING: Final = re.compile(rb"[0-9A-Fa-f" + re.escape(PDF_WHITESPACE) + rb"]*")
_MAX_FIELD_DEPTH: Final = 16


def preload_signature_dictionaries(reader: PdfFileReader, pdf: bytes) -> int:
    """Parse the signature dictionaries that ``reader``'s form fields point to (``/V``) and
    cache them in ``reader``; return how many were cached. ``pdf`` is the file ``reader`` reads.

    Never raises for a damaged file: whatever cannot be read here is left to pyHanko, which
    reports it when the object is used.
    """
    if reader.encrypted:
        return 0
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except Exception:  # no form, or a broken one: nothing to preload
        return 0
    cached = 0
    for ref in _value_refs(fields):
        if reader.cache_get_indirect_object(ref.generation, ref.idnum) is not None:
            continue
        try:
            found = _read_signature_dictionary(reader, pdf, ref)
        except Exception:  # pyHanko will read it (and complain) on its own
            logger.debug("signature dictionary %s left to pyHanko", ref, exc_info=True)
            continue
        if found is not None:
            reader.cache_indirect_object(ref.generation, ref.idnum, found)
            cached += 1
    return cached


def _value_refs(fields: generic.PdfObject) -> list[generic.Reference]:
    """The indirect ``/V`` entries of the fields and their kids (without resolving them)."""
    found: list[generic.Reference] = []
    seen: set[generic.Reference] = set()
    todo: list[tuple[generic.PdfObject, int]] = [(fields, 0)]
    while todo:
        kids, depth = todo.pop()
        if not isinstance(kids, generic.ArrayObject) or depth > _MAX_FIELD_DEPTH:
            continue
        for item in kids:
            if not isinstance(item, generic.IndirectObject) or item.reference in seen:
                continue
            seen.add(item.reference)
            try:
                field = item.get_object()
                if not isinstance(field, generic.DictionaryObject):
                    continue
                value = field.raw_get("/V")
                if isinstance(value, generic.IndirectObject):
                    found.append(value.reference)
            except KeyError:
                pass
            except Exception:  # a broken field: pyHanko will have its say
                continue
            if "/Kids" in field:
                todo.append((field.raw_get("/Kids"), depth + 1))
    return found


def _read_signature_dictionary(
    reader: PdfFileReader, pdf: bytes, ref: generic.Reference
) -> generic.DictionaryObject | None:
    # PdfFileReader.xrefs is documented; its class (XRefCache) calls itself internal. Where an
    # object starts is what every reader of the file needs: tests/test_long_term.py checks that
    # the objects found this way are the ones pyHanko reads.
    offset = reader.xrefs[ref]
    if not isinstance(offset, int):  # in an object stream, or missing
        return None
    stream = BytesIO(pdf)
    stream.seek(offset)
    idnum, generation = read_object_header(stream, strict=reader.strict)
    if (idnum, generation) != (ref.idnum, ref.generation):
        return None
    container = generic.Reference(idnum, generation, reader)
    read_non_whitespace(stream, seek_back=True)
    if stream.read(2) != b"<<":
        return None
    data: dict[generic.NameObject, generic.PdfObject] = {}
    while True:
        if read_non_whitespace(stream) == b">":
            if stream.read(1) != b">":
                return None
            break
        stream.seek(-1, 1)
        key = generic.NameObject.read_from_stream(stream)
        read_non_whitespace(stream, seek_back=True)
        if (
            key == _CONTENTS
            and pdf[stream.tell() : stream.tell() + 2][:1] == b"<"
            and (pdf[stream.tell() + 1 : stream.tell() + 2] != b"<")
        ):
            value = _read_hex_string(pdf, stream)
            if value is None:
                return None
        else:
            value = generic.read_object(stream, container)
        if key in data:  # pyHanko warns or refuses, depending on strictness: let it
            return None
        data[key] = value
    # what follows must end the object: a stream payload or anything else is pyHanko's business
    read_non_whitespace(stream, seek_back=True)
    if stream.read(6) != b"endobj":
        return None
    return generic.DictionaryObject(data)


def _read_hex_string(pdf: bytes, stream: BytesIO) -> generic.PdfObject | None:
    start = stream.tell() + 1
    end = pdf.find(b">", start)
    if end < 0:
        return None
    digits = pdf[start:end]
    if not _HEX_STRING.fullmatch(digits):  # a comment or a stray character: pyHanko decides
        return None
    digits = digits.translate(None, PDF_WHITESPACE)
    if len(digits) % 2:
        digits += b"0"
    stream.seek(end + 1)
    return generic.pdf_string(binascii.unhexlify(digits))
