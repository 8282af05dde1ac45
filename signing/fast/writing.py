"""Writing the objects of an incremental update without pyHanko's byte-by-byte writers.

pyHanko writes every object of an update through its ``write_to_stream`` methods, and
``NameObject.write_to_stream`` and ``TextStringObject.write_to_stream`` check and write names
and text strings one byte at a time (a Python call per byte, a ``stream.write`` per byte): a
signature's update (signature and field dictionaries, the appearance form and its resources,
the font dictionaries, catalog, ``/Info``) writes ~130 names and a dozen strings (reason,
signer, dates, producer), most of the update's writing time. :class:`IncrementalWriter`
writes the objects as pyHanko does, byte for byte, with each name's and text string's bytes
made at once and kept (:func:`_name_bytes`, :func:`_text_bytes`) and dictionaries, arrays and
streams walked here; every other object (numbers, byte strings, references, the signature's
``/Contents`` and ``/ByteRange`` placeholders, which note where they are written) writes itself
with pyHanko's own method into the same stream.

The library path beside it: pyHanko's ``BasePdfFileWriter._write_objects``, which it overrides
(pyHanko's private method, pinned with pyHanko 0.38.x by tests/test_fast_writing.py, which
fails naming pyHanko's version when an upgrade changes it). It is taken with
``signing.fast.use(False)``, and for an encrypted document or one written with object streams
(neither is signed here). tests/test_fast_writing.py checks that both paths write the same
bytes.

Measured share (CPU time, ``time.process_time``, the best of 200 writes of the four updates of
a bulk berita acara: three signatures and the B-LTA revision, ~72 KB of objects): ~0.32 ms per
document against ~0.86 ms with pyHanko's ``_write_objects`` (~0.47 ms with names alone), ~0.5
ms of the ~10-13 ms of CPU its signing takes in the bulk processes.
"""

from __future__ import annotations

import codecs
import functools
from typing import IO, Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import is_regular_character

import signing.fast

__all__ = ["IncrementalWriter", "write_object"]

# How pyHanko writes each byte of a name after its "/": as itself, or as a "#XX" escape.
_NAME_BYTES: Final = tuple(
    bytes((byte,))
    if byte != 0x23 and 0x21 <= byte <= 0x7E and is_regular_character(byte)
    else f"#{byte:X}".encode("ascii")
    for byte in range(256)
)

# How pyHanko writes each byte of a literal string: ASCII letters, digits and spaces as
# themselves, any other byte as an octal escape.
_STRING_BYTES: Final = tuple(
    bytes((byte,)) if bytes((byte,)).isalnum() or byte == 0x20 else b"\\%03o" % byte
    for byte in range(256)
)

_WRITE_NAME: Final = generic.NameObject.write_to_stream
_WRITE_TEXT: Final = generic.TextStringObject.write_to_stream
_WRITE_DICTIONARY: Final = generic.DictionaryObject.write_to_stream
_WRITE_ARRAY: Final = generic.ArrayObject.write_to_stream
_WRITE_STREAM: Final = generic.StreamObject.write_to_stream
_LENGTH: Final = generic.NameObject("/Length")


class IncrementalWriter(IncrementalPdfFileWriter):
    """pyHanko's incremental writer (made as it is, ``IncrementalWriter.from_reader``),
    writing the update's objects with :func:`write_object`."""

    def _write_objects(self, stream: IO[bytes], object_position_dict: dict[Any, Any]) -> None:
        if not signing.fast.enabled() or self.object_streams or self.security_handler is not None:
            super()._write_objects(stream, object_position_dict)
            return
        # What BasePdfFileWriter._write_objects does without object streams or encryption.
        for ix in sorted(self.objects.keys()):
            generation, idnum = ix
            object_position_dict[ix] = stream.tell()
            stream.write(b"%d %d obj\n" % (idnum, generation))
            write_object(self.objects[ix], stream, generic.Reference(idnum, generation, self))
            stream.write(b"\nendobj\n")


def write_object(
    obj: generic.PdfObject, stream: IO[bytes], container_ref: generic.Reference | None
) -> None:
    """Write ``obj`` (unencrypted) to ``stream`` as ``obj.write_to_stream(stream, None,
    container_ref)`` does."""
    write = type(obj).write_to_stream
    if write is _WRITE_NAME and obj.startswith("/"):  # type: ignore[attr-defined]
        stream.write(_name_bytes(obj))  # type: ignore[arg-type]
    elif write is _WRITE_TEXT and obj.force_output_encoding is None:  # type: ignore[attr-defined]
        stream.write(_text_bytes(obj))  # type: ignore[arg-type]
    elif write is _WRITE_DICTIONARY:
        _write_dictionary(obj, stream, container_ref)  # type: ignore[arg-type]
    elif write is _WRITE_ARRAY:
        stream.write(b"[")
        for item in obj:  # type: ignore[attr-defined]
            stream.write(b" ")
            write_object(item, stream, container_ref)
        stream.write(b" ]")
    elif write is _WRITE_STREAM:
        data = obj.encoded_data  # type: ignore[attr-defined]
        obj[_LENGTH] = generic.NumberObject(len(data))  # type: ignore[index]
        _write_dictionary(obj, stream, container_ref)  # type: ignore[arg-type]
        del obj["/Length"]  # type: ignore[attr-defined]
        stream.write(b"\nstream\n")
        stream.write(data)
        stream.write(b"\nendstream")
    else:  # also a name without its "/": pyHanko's PdfWriteError
        obj.write_to_stream(stream, None, container_ref)


def _write_dictionary(
    obj: generic.DictionaryObject, stream: IO[bytes], container_ref: generic.Reference | None
) -> None:
    stream.write(b"<<\n")
    for key, value in list(obj.items()):
        write_object(key, stream, container_ref)
        stream.write(b" ")
        write_object(value, stream, container_ref)
        stream.write(b"\n")
    stream.write(b">>")


@functools.lru_cache(maxsize=4096)  # reasons, signers' names, field names, producer; and dates
def _text_bytes(text: str) -> bytes:
    """A text string as ``TextStringObject.write_to_stream`` writes it (unencrypted, no forced
    encoding): PDFDocEncoding if it can be, else UTF-16BE, between parentheses."""
    try:
        encoded = generic.encode_pdfdocencoding(text)
    except UnicodeEncodeError:
        encoded = codecs.BOM_UTF16_BE + text.encode("utf-16be")
    return b"(" + b"".join(_STRING_BYTES[byte] for byte in encoded) + b")"


@functools.lru_cache(maxsize=4096)  # the names of the objects signing writes; a few dozen
def _name_bytes(name: str) -> bytes:
    """The name ``name`` (starting with "/") as ``NameObject.write_to_stream`` writes it."""
    return b"/" + b"".join(_NAME_BYTES[byte] for byte in name.encode("utf8")[1:])
