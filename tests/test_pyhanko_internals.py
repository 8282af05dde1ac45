"""The parts of pyHanko that signing/fast/ relies on beyond its public API, pinned.

signing/fast/pdf_reading.py builds pyHanko's PdfFileReader without its __init__ (its private
attributes, its private header reader, the xref classes pyHanko calls internal), and
signing/fast/objects.py looks objects up in the reader's xref cache. signing/pades/sign.py
overrides Signer.async_sign to take the fast path for the containers it assembles. pyproject
pins pyHanko to 0.38.x; each test here names what changed, in which pyHanko version, and where
we rely on it, so that an upgrade fails here first and plainly (the fast paths can be switched
off meanwhile: ``signing.fast.use(False)``).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import io
import re

import pytest
from pyhanko.pdf_utils import decode_limits, generic, xref
from pyhanko.pdf_utils import reader as reader_module
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer

from signing.fast.pdf_reading import _open_plain
from signing.pades.sign import _RsaKeySigner
from tests.test_signing import prepared_pdf

PYHANKO = f"pyHanko {importlib.metadata.version('pyhanko')}"
PDF_READING = "signing/fast/pdf_reading.py"
OBJECTS = "signing/fast/objects.py"

# What PdfFileReader.__init__ sets, in its order; _open_plain sets the same.
READER_ATTRIBUTES = [
    "_security_handler",
    "strict",
    "_decode_context",
    "resolved_objects",
    "_header_version",
    "_input_version",
    "_historical_resolver_cache",
    "stream",
    "xrefs",
    "last_startxref",
    "trailer",
    "has_xref_stream",
    "_embedded_signatures",
]


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_pyhanko_is_the_tested_version() -> None:
    assert PYHANKO.startswith("pyHanko 0.38."), (
        f"{PYHANKO} is installed; signing/fast/ is tested against pyHanko 0.38.x (pinned in "
        "pyproject.toml): run these tests and tests/test_pdf_reading.py against it, then pin it"
    )


def test_pdf_file_reader_sets_the_attributes_open_pdf_sets() -> None:
    pdf = prepared_pdf()
    found = list(vars(PdfFileReader(io.BytesIO(pdf))))
    assert found == READER_ATTRIBUTES, (
        f"{PYHANKO}: PdfFileReader.__init__ now sets {found}, not {READER_ATTRIBUTES}; "
        f"{PDF_READING} (_open_plain) builds readers without __init__ and must set the same"
    )
    assert list(vars(_open_plain(pdf, True))) == READER_ATTRIBUTES, PDF_READING


def test_the_private_header_reader_reads_the_version() -> None:
    read = getattr(reader_module, "_read_header_version", None)
    assert callable(read), (
        f"{PYHANKO}: pyhanko.pdf_utils.reader._read_header_version is gone; "
        f"{PDF_READING} reads the header with it"
    )
    assert parameters(read) == ["stream"], f"{PYHANKO}: _read_header_version changed shape"
    assert read(io.BytesIO(b"%PDF-1.7\n%%EOF\n")) == (1, 7), (
        f"{PYHANKO}: _read_header_version no longer returns (major, minor)"
    )
    with pytest.raises(PdfReadError):
        read(io.BytesIO(b"not a pdf"))


def test_the_xref_classes_take_what_open_pdf_gives_them() -> None:
    where = f"{PDF_READING} builds them for PdfFileReader"
    assert parameters(xref.XRefCache) == ["reader", "xref_sections"], (
        f"{PYHANKO}: XRefCache(reader, xref_sections) changed; {where}"
    )
    assert [f.name for f in dataclasses.fields(xref.XRefSection)] == [
        "meta_info",
        "xref_data",
    ], f"{PYHANKO}: XRefSection's fields changed; {where}"
    assert [f.name for f in dataclasses.fields(xref.XRefSectionMetaInfo)] == [
        "xref_section_type",
        "size",
        "declared_startxref",
        "start_location",
        "end_location",
        "stream_ref",
    ], f"{PYHANKO}: XRefSectionMetaInfo's fields changed; {where}"
    data = xref.XRefSectionData()
    for name in ("standard_xrefs", "explicit_refs_in_revision"):
        assert isinstance(getattr(data, name, None), dict | set), (
            f"{PYHANKO}: XRefSectionData.{name} is gone; {where}"
        )
    assert parameters(xref.TrailerDictionary.add_trailer_revision) == ["self", "trailer_dict"], (
        f"{PYHANKO}: TrailerDictionary.add_trailer_revision changed; {where}"
    )
    assert parameters(decode_limits.DecodeContext) == ["limits", "input_size"], (
        f"{PYHANKO}: DecodeContext(limits, input_size) changed; {where}"
    )
    assert parameters(generic.TrailerReference) == ["reader"], (
        f"{PYHANKO}: TrailerReference(reader) changed; {where}"
    )


def test_the_xref_cache_gives_where_each_object_starts() -> None:
    pdf = prepared_pdf()
    reader = PdfFileReader(io.BytesIO(pdf))
    for idnum in range(1, int(reader.trailer["/Size"])):
        offset = reader.xrefs[generic.Reference(idnum, 0, reader)]
        assert isinstance(offset, int) and re.match(rb"%d 0 obj" % idnum, pdf[offset:]), (
            f"{PYHANKO}: PdfFileReader.xrefs[ref] no longer gives the offset of object {idnum}; "
            f"{OBJECTS} finds objects with it"
        )


def test_signer_async_sign_takes_what_the_override_takes() -> None:
    found, ours = parameters(Signer.async_sign), parameters(_RsaKeySigner.async_sign)
    assert found == ours, (
        f"{PYHANKO}: Signer.async_sign takes {found}; signing/pades/sign.py's _RsaKeySigner "
        f"overrides it with {ours} to take the fast path (signing/fast/cms.py)"
    )
    settings = PdfCMSSignedAttributes()
    for name in ("adobe_revinfo_attr", "cades_signed_attrs"):
        assert hasattr(settings, name), (
            f"{PYHANKO}: PdfCMSSignedAttributes.{name} is gone; _RsaKeySigner checks it"
        )
    signer = Signer()
    for name in ("signed_attr_prov_spec", "unsigned_attr_prov_spec", "attribute_certs"):
        assert hasattr(signer, name), f"{PYHANKO}: Signer.{name} is gone; _RsaKeySigner checks it"
