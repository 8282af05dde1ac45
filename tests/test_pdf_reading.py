"""Opening PDFs with signing/fast/pdf_reading.py: the reader pyHanko builds, built faster.

Real signed and archived documents (PAdES B-LTA) are read both ways and compared part by part:
xref sections per revision, trailers, objects, signatures and pyHanko's modification analysis.
Files that are not plain classic xref tables must be opened by pyHanko itself.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult

from signing.errors import InvalidPdf
from signing.fast import pdf_reading
from signing.fast.objects import _Unusual, preload_all_objects
from signing.fast.pdf_reading import _open_plain, open_pdf
from signing.pades.sign import SigningIdentity
from signing.pki.ca import CertificateAuthority
from signing.pki.tsa import InternalTimeStamper
from signing.validate.validation import validate_pdf
from tests.conftest import library_paths_taken
from tests.pdftools import change_page_text, nss_db_trusting
from tests.test_long_term import FIRST, SECOND, archive, identity, sign
from tests.test_signing import pdfsig, pdfsig_sections, prepared_pdf

# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"), organization="Pemkab")


@pytest.fixture(scope="module")
def crl(ca: CertificateAuthority) -> x509.CertificateRevocationList:
    return ca.issue_crl([], crl_number=1)


@pytest.fixture(scope="module")
def revisions(ca: CertificateAuthority, crl: x509.CertificateRevocationList) -> list[bytes]:
    """A document with 1 to 5 xref sections: prepared, certified, countersigned, archived, its
    archive time stamp renewed."""
    budi: SigningIdentity = identity(ca, "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju")
    siti: SigningIdentity = identity(ca, "SITI AMINAH, S.H.", "Ketua Panwaslu")
    tsa: InternalTimeStamper = ca.timestamper()
    prepared = prepared_pdf()
    certified = sign(prepared, FIRST, budi, tsa, certify=True)
    countersigned = sign(certified, SECOND, siti, tsa)
    archived = archive(countersigned, ca, [crl])
    return [prepared, certified, countersigned, archived, archive(archived, ca, [crl])]


def pikepdf_saved(pdf: bytes, mode: pikepdf.ObjectStreamMode) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf)) as document:
        document.save(out, object_stream_mode=mode)
    return out.getvalue()


# -- comparing readers -------------------------------------------------------------------


def shape(obj: object, reader: PdfFileReader) -> Any:
    """``obj`` as a comparable value: types, values, containers (kind and handler) included."""
    container = getattr(obj, "__dict__", {}).get("container_ref")
    where = None
    if isinstance(container, generic.TrailerReference):
        where = ("trailer", container.reader is reader)
    elif isinstance(container, generic.Reference):
        where = (container.idnum, container.generation, container.pdf is reader)
    if isinstance(obj, generic.StreamObject):
        inner: Any = (
            sorted((k, shape(v, reader)) for k, v in obj.items()),
            obj.encoded_data,
        )
    elif isinstance(obj, generic.DictionaryObject):
        inner = sorted((k, shape(v, reader)) for k, v in obj.items())
    elif isinstance(obj, generic.ArrayObject):
        inner = [shape(item, reader) for item in obj]
    elif isinstance(obj, generic.IndirectObject):
        inner = (obj.idnum, obj.generation, obj.reference.pdf is reader)
    else:
        inner = obj
    return type(obj).__name__, inner, where


def sections(reader: PdfFileReader) -> list[Any]:
    xrefs = reader.xrefs
    found = []
    for revision in range(xrefs.total_revisions):
        data = xrefs.get_xref_data(revision)
        found.append(
            (
                xrefs.get_xref_container_info(revision),
                [(type(k), k, v) for k, v in data.standard_xrefs.items()],
                data.freed,
                data.xrefs_in_objstm,
                data.explicit_refs_in_revision,
                data.obj_streams_used,
                data.hybrid,
                xrefs.explicit_refs_in_revision(revision),
                xrefs.refs_freed_in_revision(revision),
                xrefs.get_startxref_for_revision(revision),
                shape(reader.trailer.flatten(revision), reader),
            )
        )
    return found


def modifications(reader: PdfFileReader) -> list[Any]:
    found = []
    for signature in reader.embedded_signatures:
        signature.compute_integrity_info(DEFAULT_DIFF_POLICY)
        diff = signature.diff_result
        found.append(
            (
                signature.field_name,
                signature.signed_revision,
                signature.coverage,
                signature.compute_digest(),
                (diff.modification_level, diff.changed_form_fields)
                if isinstance(diff, DiffResult)
                else repr(diff),
            )
        )
    return found


def assert_same_reader(fast: PdfFileReader, slow: PdfFileReader) -> None:
    assert list(vars(fast)) == list(vars(slow))
    for name in ("strict", "last_startxref", "has_xref_stream", "_header_version"):
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.stream.tell() == slow.stream.tell()
    assert fast.stream.getvalue() == slow.stream.getvalue()
    assert fast.decode_context.input_size == slow.decode_context.input_size
    assert fast.xrefs.total_revisions == slow.xrefs.total_revisions
    assert sections(fast) == sections(slow)
    trailers = (fast.trailer._trailer_revisions, slow.trailer._trailer_revisions)
    assert [shape(t, fast) for t in trailers[0]] == [shape(t, slow) for t in trailers[1]]
    assert shape(fast.trailer.flatten(), fast) == shape(slow.trailer.flatten(), slow)
    refs = set().union(
        *(slow.xrefs.explicit_refs_in_revision(r) for r in range(slow.xrefs.total_revisions))
    )
    for ref in sorted(refs, key=lambda ref: (ref.idnum, ref.generation)):
        assert object_at(fast, ref) == object_at(slow, ref), ref
    for revision in range(slow.xrefs.total_revisions):
        assert historical_root(fast, revision) == historical_root(slow, revision)
    assert outcome(lambda: modifications(fast)) == outcome(lambda: modifications(slow))


def outcome(read: Callable[[], Any]) -> Any:
    """What ``read`` returns, or the error it raises."""
    try:
        return read()
    except Exception as exc:
        return type(exc), str(exc)


def historical_root(reader: PdfFileReader, revision: int) -> Any:
    return outcome(lambda: shape(reader.get_historical_root(revision), reader))


def object_at(reader: PdfFileReader, ref: generic.Reference) -> Any:
    own = generic.Reference(ref.idnum, ref.generation, reader)
    return outcome(lambda: shape(reader.get_object(own), reader))


def assert_opened_by_pyhanko(pdf: bytes, strict: bool = True) -> None:
    """``pdf`` is not read here but by pyHanko: the same reader, or the same error."""
    with pytest.raises(Exception):  # noqa: B017 - _Unusual or what pyHanko raises
        _open_plain(pdf, strict)
    try:
        slow = PdfFileReader(io.BytesIO(pdf), strict=strict)
    except Exception as exc:
        with pytest.raises(type(exc)) as raised:
            open_pdf(pdf, strict=strict)
        assert str(raised.value) == str(exc)
        return
    assert_same_reader(open_pdf(pdf, strict=strict), slow)


# -- tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
def test_signed_and_archived_revisions_are_read_as_pyhanko_reads_them(
    revisions: list[bytes], strict: bool
) -> None:
    for count, pdf in enumerate(revisions, 1):
        fast = _open_plain(pdf, strict)  # read here, not left to pyHanko
        assert fast.xrefs.total_revisions == count
        assert_same_reader(fast, PdfFileReader(io.BytesIO(pdf), strict=strict))
        assert_same_reader(
            open_pdf(pdf, strict=strict), PdfFileReader(io.BytesIO(pdf), strict=strict)
        )


def test_a_pikepdf_written_file_with_xref_tables_is_read_here(revisions: list[bytes]) -> None:
    pdf = pikepdf_saved(revisions[0], pikepdf.ObjectStreamMode.disable)
    assert_same_reader(_open_plain(pdf, True), PdfFileReader(io.BytesIO(pdf)))


def test_an_xref_stream_file_is_left_to_pyhanko(revisions: list[bytes]) -> None:
    pdf = pikepdf_saved(revisions[2], pikepdf.ObjectStreamMode.generate)
    assert b"/XRef" in pdf
    with pytest.raises(_Unusual):
        _open_plain(pdf, True)
    assert_opened_by_pyhanko(pdf)


def _with_startxref(pdf: bytes, delta: int) -> bytes:
    found = list(re.finditer(rb"startxref\s+([0-9]+)", pdf))[-1]
    return pdf[: found.start(1)] + str(int(found[1]) + delta).encode() + pdf[found.end(1) :]


def last_xref_table(pdf: bytes) -> int:
    return int(list(re.finditer(rb"startxref\s+([0-9]+)", pdf))[-1][1])


@pytest.mark.parametrize("delta", [1, -1, 3, -1000])
def test_a_damaged_xref_offset_is_left_to_pyhanko(revisions: list[bytes], delta: int) -> None:
    # +1, -1: pyHanko finds the table nearby and reads on; the others: its error
    assert_opened_by_pyhanko(_with_startxref(revisions[3], delta))


def test_a_damaged_prev_offset_is_left_to_pyhanko(revisions: list[bytes]) -> None:
    pdf = revisions[4]
    prev = list(re.finditer(rb"/Prev ([0-9]+)", pdf))[-1]
    damaged = pdf[: prev.start(1)] + str(int(prev[1]) + 2).encode() + pdf[prev.end(1) :]
    assert_opened_by_pyhanko(damaged)


def test_a_looping_prev_chain_is_left_to_pyhanko(revisions: list[bytes]) -> None:
    pdf = revisions[4]
    prev = list(re.finditer(rb"/Prev ([0-9]+)", pdf))[-1]
    own = list(re.finditer(rb"startxref\s+([0-9]+)", pdf))[-1][1]
    assert_opened_by_pyhanko(pdf[: prev.start(1)] + own + pdf[prev.end(1) :])


@pytest.mark.parametrize(
    "old, new",
    [
        (b"/Size", b"%a comment\n/Size"),  # pyHanko skips comments
        (b"/Size", b"/Encrypt 99 0 R\n/Size"),  # encrypted: pyHanko's handling
        (b"/Size", b"/XRefStm 5\n/Size"),  # hybrid: pyHanko's (here: its error)
        (b"/Size", b"/Size 3 0 R /Foo"),  # an indirect size
        (b"/Prev", b"/Prev 1 0 R /Foo"),  # an indirect /Prev: pyHanko's error
        (b"/Root", b"/Root 1 0 R /Root"),  # a key twice
        (b"/Info", b"/Odd#20Name 1 /Info"),  # an escape in a name
    ],
)
def test_an_unusual_trailer_is_left_to_pyhanko(
    revisions: list[bytes], old: bytes, new: bytes
) -> None:
    # The last trailer comes after the last xref table: the offsets stay right.
    pdf = revisions[4]
    at = pdf.rindex(old)
    assert at > pdf.rindex(b"trailer")
    for strict in (True, False):
        assert_opened_by_pyhanko(pdf[:at] + new + pdf[at + len(old) :], strict)


def test_free_entries_and_generations_are_left_to_pyhanko(revisions: list[bytes]) -> None:
    pdf = revisions[4]
    table = last_xref_table(pdf)
    entry = re.compile(rb"([0-9]{10}) 00000 n").search(pdf, table)
    assert entry is not None
    freed = pdf[: entry.end() - 1] + b"f" + pdf[entry.end() :]
    next_generation = pdf[: entry.start() + 11] + b"00001" + pdf[entry.start() + 16 :]
    for changed in (freed, next_generation):
        for strict in (True, False):
            assert_opened_by_pyhanko(changed, strict)


def test_entries_of_another_length_are_left_to_pyhanko(revisions: list[bytes]) -> None:
    # pyHanko shifts its 20-byte reading for a CR LF or a missing space
    pdf = revisions[0]
    table = last_xref_table(pdf)
    end = pdf.index(b"trailer", table)
    shifted = pdf[:table] + pdf[table:end].replace(b" \n", b"\n") + pdf[end:]
    assert_opened_by_pyhanko(shifted)


def test_garbage_gets_pyhanko_errors() -> None:
    for garbage in (b"", b"not a pdf", b"%PDF-1.7\n%%EOF\n", prepared_pdf()[:-300]):
        assert_opened_by_pyhanko(garbage)


def test_documents_signed_and_archived_after_fast_opening_validate(
    revisions: list[bytes],
    ca: CertificateAuthority,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    archived = revisions[4]
    report = validate_pdf(archived, [ca.root_certificate])
    assert report.valid, report
    assert report.level == "B-LTA"
    assert not any(s.modified_after for s in report.signatures)

    nss_db = nss_db_trusting(tmp_path_factory.mktemp("nss"), ca.root_pem())
    output = pdfsig(archived, tmp_path, nss_db)
    found = pdfsig_sections(output)
    for field in (FIRST, SECOND):
        assert "Signature Validation: Signature is Valid." in found[field], output
        assert "Certificate Validation: Certificate is Trusted." in found[field], output


def test_with_the_fast_paths_off_pyhanko_opens_every_file(
    revisions: list[bytes], monkeypatch: pytest.MonkeyPatch, library_path: None
) -> None:
    def not_here(pdf: bytes, strict: bool) -> PdfFileReader:
        raise AssertionError("the fast path was taken with the fast paths off")

    monkeypatch.setattr(pdf_reading, "_open_plain", not_here)
    for pdf in revisions:
        assert_same_reader(open_pdf(pdf), PdfFileReader(io.BytesIO(pdf)))


# -- validation: every object preloaded (signing/fast/objects.preload_all_objects) --------------


def with_new_object(pdf: bytes, body: bytes) -> bytes:
    """``pdf`` with an incremental update that adds one object (``body``), referenced by
    nothing."""
    reader = PdfFileReader(io.BytesIO(pdf))
    size = int(reader.trailer["/Size"])
    root = reader.trailer.raw_get("/Root")
    added = b"\n%d 0 obj\n%s\nendobj\n" % (size, body)
    xref_at = len(pdf) + len(added)
    xref = b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %d %d R /Prev %d >>\n" % (
        size,
        len(pdf) + 1,
        size + 1,
        root.idnum,
        root.generation,
        reader.last_startxref,
    )
    return pdf + added + xref + b"startxref\n%d\n%%%%EOF\n" % xref_at


def validated(pdf: bytes, ca: CertificateAuthority, crl: x509.CertificateRevocationList) -> Any:
    try:
        return validate_pdf(pdf, [ca.root_certificate], [crl])
    except InvalidPdf as exc:
        return f"InvalidPdf: {exc}"


def test_validation_reports_the_same_with_every_object_preloaded(
    revisions: list[bytes], ca: CertificateAuthority, crl: x509.CertificateRevocationList
) -> None:
    archived = revisions[4]
    flipped = bytearray(archived)
    flipped[archived.index(b"stream", len(archived) // 10) + 20] ^= 0x01
    files = {
        **{f"revision {i}": pdf for i, pdf in enumerate(revisions)},
        "a flipped byte": bytes(flipped),
        "page text changed": change_page_text(archived),
        "nested 40 deep": with_new_object(archived, b"[" * 40 + b"]" * 40),
        # beyond the fast reader's nesting: left to pyHanko, whose parser recurses
        "nested 5000 deep": with_new_object(archived, b"[" * 5000 + b"]" * 5000),
        "garbage": b"%PDF-1.7\nnot a pdf",
    }
    for name, pdf in files.items():
        fast = validated(pdf, ca, crl)
        with library_paths_taken():
            slow = validated(pdf, ca, crl)
        assert fast == slow, name
    # the fast reader parses every object of our files: pyHanko's parser is left none
    reader = open_pdf(archived)
    refs = {ref for rev in range(5) for ref in reader.xrefs.explicit_refs_in_revision(rev)}
    assert preload_all_objects(reader, archived) == len(refs) > 30
    assert validated(revisions[4], ca, crl).valid
    assert not validated(bytes(flipped), ca, crl).valid
    assert validated(change_page_text(archived), ca, crl).signatures[-1].modified_after


def test_with_the_fast_paths_off_validation_preloads_nothing(
    revisions: list[bytes], library_path: None
) -> None:
    reader = open_pdf(revisions[4])
    assert preload_all_objects(reader, revisions[4]) == 0
    assert not reader.resolved_objects
