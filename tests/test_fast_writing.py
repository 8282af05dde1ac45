"""Writing incremental updates with signing/fast/writing.py: the bytes pyHanko writes, written
faster.

Real signatures and a B-LTA revision are made with each update written both ways: the fast
writer's bytes and object offsets must be pyHanko's, and the result must validate in pyHanko
and pdfsig. Every object of the signed file, and names pyHanko has to escape, are written both
ways too. And the private pyHanko method the writer overrides, pinned: these tests fail, naming
pyHanko and its version, when an upgrade breaks it.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfWriteError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.signers.pdf_byterange import DERPlaceholder, SigByteRangeObject

from signing.fast import writing
from signing.fast.writing import IncrementalWriter, write_object
from signing.pades.sign import SigningIdentity
from signing.pki.ca import CertificateAuthority
from signing.pki.tsa import InternalTimeStamper
from tests.conftest import library_paths_taken
from tests.pdftools import nss_db_trusting
from tests.test_long_term import FIRST, SECOND, archive, identity, pdfsig_accepts, sign, validate
from tests.test_signing import prepared_pdf

PYHANKO = f"pyHanko {importlib.metadata.version('pyhanko')}"
WRITING = "signing/fast/writing.py"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"), organization="Pemkab")


@pytest.fixture(scope="module")
def nss_db(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority) -> str:
    return nss_db_trusting(tmp_path_factory.mktemp("nss"), ca.root_pem())


@pytest.fixture()
def written(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[tuple[bytes, bytes]]]]:
    """Per update: each object as the fast writer writes it and as pyHanko writes it, written
    just before the update is, from the same writer (all but the signature dictionary, whose
    /Contents and /ByteRange placeholders note where they are written the first time: both
    write them with pyHanko's own methods). The offsets the fast writer notes are checked."""
    found: list[list[tuple[bytes, bytes]]] = []
    fast = IncrementalWriter._write_objects

    def both(self: IncrementalWriter, stream: Any, positions: dict[Any, Any]) -> None:
        found.append(
            [
                (written_fast(obj, ref), written_by_pyhanko(obj, ref))
                for (generation, idnum), obj in self.objects.items()
                if not has_placeholder(obj)
                for ref in [generic.Reference(idnum, generation, self)]
            ]
        )
        fast(self, stream, positions)
        for generation, idnum in self.objects:
            stream.seek(positions[generation, idnum])
            assert stream.read(20).startswith(b"%d %d obj\n" % (idnum, generation))
        stream.seek(0, io.SEEK_END)

    monkeypatch.setattr(IncrementalWriter, "_write_objects", both)
    return found


def has_placeholder(obj: generic.PdfObject) -> bool:
    return isinstance(obj, dict) and any(
        isinstance(value, DERPlaceholder | SigByteRangeObject) for value in dict.values(obj)
    )


def test_signatures_and_the_b_lta_revision_are_written_as_pyhanko_writes_them(
    written: list[list[tuple[bytes, bytes]]], ca: CertificateAuthority, nss_db: str, tmp_path: Path
) -> None:
    budi: SigningIdentity = identity(ca, "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju")
    siti: SigningIdentity = identity(ca, "SITI AMINAH, S.H.", "Ketua Panwaslu")
    tsa: InternalTimeStamper = ca.timestamper()
    certified = sign(prepared_pdf(), FIRST, budi, tsa, certify=True)
    countersigned = sign(certified, SECOND, siti, tsa)
    archived = archive(countersigned, ca, [ca.issue_crl([], crl_number=1)])

    assert len(written) == 3
    for update in written:
        assert len(update) >= 5  # fields, appearance forms, fonts, DSS, /Info ...
        for fast, library in update:
            assert fast == library
    report = validate(archived, ca)
    assert report.valid, report
    pdfsig_accepts(archived, tmp_path, nss_db)


def test_every_object_of_a_signed_file_is_written_as_pyhanko_writes_it(
    ca: CertificateAuthority,
) -> None:
    budi: SigningIdentity = identity(ca, "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju")
    tsa: InternalTimeStamper = ca.timestamper()
    signed = sign(prepared_pdf(), FIRST, budi, tsa, certify=True)
    pdf = archive(signed, ca, [ca.issue_crl([], crl_number=1)])
    reader = PdfFileReader(io.BytesIO(pdf))
    refs = {ref for rev in range(reader.xrefs.total_revisions)
            for ref in reader.xrefs.explicit_refs_in_revision(rev)}  # fmt: skip
    kinds = set()
    for ref in sorted(refs, key=lambda ref: ref.idnum):
        obj = reader.get_object(ref)
        kinds.add(type(obj))
        assert written_fast(obj, ref) == written_by_pyhanko(obj, ref), ref
    assert {generic.DictionaryObject, generic.StreamObject} <= kinds


NAMES = ["/Type", "/A#B", "/A B", "/a(b)c", "/x/y", "/caf\u00e9", "/%", "/", "/\x7f~!"]


@pytest.mark.parametrize("name", NAMES)
def test_names_are_written_as_pyhanko_writes_them(name: str) -> None:
    obj = generic.DictionaryObject(
        {generic.NameObject(name): generic.ArrayObject([generic.NameObject(name)])}
    )
    assert written_fast(obj) == written_by_pyhanko(obj)


TEXTS = [
    "Menyetujui isi dokumen",
    "D:20261207204814+07'00'",
    "(a) \\b\n\t%",
    "Dra. Sri Wahyuni, M.Kes.",
    "caf\u00e9 \u2013 \u201cx\u201d",
    "\u65e5\u672c",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_strings_are_written_as_pyhanko_writes_them(text: str) -> None:
    obj = generic.TextStringObject(text)
    assert written_fast(obj) == written_by_pyhanko(obj)
    obj.force_output_encoding = generic.TextStringEncoding.UTF16BE
    assert written_fast(obj) == written_by_pyhanko(obj)


def test_a_name_without_its_slash_fails_as_in_pyhanko() -> None:
    for write in (written_fast, written_by_pyhanko):
        with pytest.raises(PdfWriteError):
            write(generic.NameObject("Type"))


def test_the_library_path_writes_with_pyhanko(monkeypatch: pytest.MonkeyPatch) -> None:
    called = []
    monkeypatch.setattr(writing, "write_object", lambda *args: called.append(args))
    writer = IncrementalWriter.from_reader(PdfFileReader(io.BytesIO(prepared_pdf())))
    writer.add_object(generic.DictionaryObject({generic.NameObject("/Type"): generic.NullObject()}))
    with library_paths_taken():
        writer._write_objects(io.BytesIO(), {})
    assert not called
    writer._write_objects(io.BytesIO(), {})
    assert called


def test_pyhanko_still_has_the_object_writing_method_the_fast_path_overrides() -> None:
    method = vars(BasePdfFileWriter).get("_write_objects")
    assert callable(method), (
        f"{PYHANKO}: BasePdfFileWriter._write_objects is gone; {WRITING} overrides it to write "
        "the objects of incremental updates"
    )
    assert list(inspect.signature(method).parameters) == [
        "self",
        "stream",
        "object_position_dict",
    ], f"{PYHANKO}: BasePdfFileWriter._write_objects changed shape; {WRITING} overrides it"
    assert "_write_objects" not in vars(IncrementalPdfFileWriter), (
        f"{PYHANKO}: IncrementalPdfFileWriter writes its objects its own way now; {WRITING} "
        "overrides BasePdfFileWriter's"
    )


def written_fast(obj: generic.PdfObject, ref: generic.Reference | None = None) -> bytes:
    stream = io.BytesIO()
    write_object(obj, stream, ref)
    return stream.getvalue()


def written_by_pyhanko(obj: generic.PdfObject, ref: generic.Reference | None = None) -> bytes:
    stream = io.BytesIO()
    obj.write_to_stream(stream, None, ref)
    return stream.getvalue()
