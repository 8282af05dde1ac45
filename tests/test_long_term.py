"""Several signers, certification, CRLs and long-term (PAdES B-LTA) signatures.

Real keys, certificates, CRLs, time stamps and PDFs; pyHanko and poppler's pdfsig as
validators. Signature time stamps come from the internal TSA with its clock set half an hour
back, so that a certificate can be revoked (or expire) between signing and now.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import crl as asn1_crl_module
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
from pyhanko.sign.validation import DocumentSecurityStore, read_certification_data
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import LongTermValidationFailed, SignatureCreationFailed
from signing.fast.objects import (
    preload_first_page,
    preload_objects,
    preload_signature_dictionaries,
)
from signing.pades.long_term import DOCUMENT_TIMESTAMP_FIELD, add_long_term_validation
from signing.pades.sign import SigningIdentity, sign_pdf
from signing.pki.ca import DOCUMENT_SIGNING_EKU, CertificateAuthority, RevokedCertificate
from signing.pki.keys import generate_private_key
from signing.pki.tsa import InternalTimeStamper, to_asn1_certificate
from signing.validate.validation import SignatureReport, ValidationReport, validate_pdf
from signing.validate.validation_data import certificates_of
from signing.waktu import format_waktu_wib
from tests.pdftools import nss_db_trusting
from tests.test_signing import (
    BUDI_LOOK,
    SITI_LOOK,
    add_page_text,
    only,
    pdfsig,
    pdfsig_sections,
    prepared_pdf,
    run,
)

CRL_URL = "http://ttd.example.go.id/crl/root.crl"
FIRST, SECOND = "ttd_pihak_pertama", "ttd_pihak_kedua"
REVOKED = "Sertifikat penanda tangan telah dicabut"
MODIFIED = "Dokumen telah diubah setelah ditandatangani"


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca")


@pytest.fixture(scope="module")
def ca(ca_dir: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(ca_dir, organization="Pemkab Sidoarjo")


@pytest.fixture(scope="module")
def root_key(ca: CertificateAuthority, ca_dir: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((ca_dir / "root-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def signed_at() -> datetime:
    """When the signature time stamps say the signers signed: half an hour ago."""
    return datetime.now(UTC) - timedelta(minutes=30)


@pytest.fixture(scope="module")
def past_tsa(ca: CertificateAuthority, ca_dir: Path, signed_at: datetime) -> InternalTimeStamper:
    """The CA's own TSA (same certificate and key) with its clock at ``signed_at``."""
    key = serialization.load_pem_private_key((ca_dir / "tsa-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return InternalTimeStamper(ca.tsa_certificate, key, chain=ca.chain, fixed_time=signed_at)


def identity(ca: CertificateAuthority, name: str, jabatan: str) -> SigningIdentity:
    key = generate_private_key()
    cert = ca.issue_signer_certificate(
        key.public_key(), name=name, nip=None, jabatan=jabatan, unit="Sukamaju", crl_url=CRL_URL
    )
    return SigningIdentity(private_key=key, certificate=cert, chain=ca.chain)


@pytest.fixture(scope="module")
def budi(ca: CertificateAuthority) -> SigningIdentity:
    return identity(ca, "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju")


@pytest.fixture(scope="module")
def siti(ca: CertificateAuthority) -> SigningIdentity:
    return identity(ca, "SITI AMINAH, S.H.", "Ketua Panwaslu Kecamatan Sukamaju")


@pytest.fixture(scope="module")
def crl(ca: CertificateAuthority) -> x509.CertificateRevocationList:
    """The CA's CRL with nobody revoked."""
    return ca.issue_crl([], crl_number=1)


def sign(
    pdf: bytes,
    field: str,
    who: SigningIdentity,
    timestamper: InternalTimeStamper,
    *,
    certify: bool = False,
) -> bytes:
    look = BUDI_LOOK if field == FIRST else SITI_LOOK
    return run(
        sign_pdf(
            pdf,
            field_name=field,
            identity=who,
            appearance=look,
            timestamper=timestamper,
            signing_time=timestamper.fixed_dt,
            certify=certify,
        )
    )


@pytest.fixture(scope="module")
def certified(budi: SigningIdentity, past_tsa: InternalTimeStamper) -> bytes:
    """The first signer certifies the document."""
    return sign(prepared_pdf(), FIRST, budi, past_tsa, certify=True)


@pytest.fixture(scope="module")
def countersigned(certified: bytes, siti: SigningIdentity, past_tsa: InternalTimeStamper) -> bytes:
    """The second signer signs their own (pre-existing) field."""
    return sign(certified, SECOND, siti, past_tsa)


def archive(
    pdf: bytes, ca: CertificateAuthority, crls: list[x509.CertificateRevocationList]
) -> bytes:
    return run(
        add_long_term_validation(
            pdf, trust_roots=[ca.root_certificate], crls=crls, timestamper=ca.timestamper()
        )
    )


@pytest.fixture(scope="module")
def archived(
    countersigned: bytes, ca: CertificateAuthority, crl: x509.CertificateRevocationList
) -> bytes:
    return archive(countersigned, ca, [crl])


@pytest.fixture(scope="module")
def nss_db(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority) -> str:
    return nss_db_trusting(tmp_path_factory.mktemp("nss"), ca.root_pem())


def pdfsig_accepts(pdf: bytes, tmp_path: Path, nss_db: str) -> dict[str, str]:
    """pdfsig's sections per field, once it has found both signatures valid and trusted."""
    output = pdfsig(pdf, tmp_path, nss_db)
    sections = pdfsig_sections(output)
    for field in (FIRST, SECOND):
        assert "Signature Validation: Signature is Valid." in sections[field], output
        assert "Certificate Validation: Certificate is Trusted." in sections[field], output
    return sections


def validate(
    pdf: bytes, ca: CertificateAuthority, *crls: x509.CertificateRevocationList
) -> ValidationReport:
    return validate_pdf(pdf, [ca.root_certificate], crls)


def valid_update(pdf: bytes, base: bytes, ca: CertificateAuthority) -> ValidationReport:
    """The report on ``pdf``, once it is known to be ``base`` plus updates, and valid."""
    assert pdf.startswith(base)
    report = validate(pdf, ca)
    assert report.valid, report
    return report


def revoke(
    ca: CertificateAuthority, cert: x509.Certificate, at: datetime, number: int = 2
) -> x509.CertificateRevocationList:
    entry = RevokedCertificate(cert.serial_number, at, x509.ReasonFlags.affiliation_changed)
    return ca.issue_crl([entry], crl_number=number)


def add_note_annotation(pdf: bytes) -> bytes:
    """Append an incremental update that puts a sticky note on page 1."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    note = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Text"),
            pdf_name("/Rect"): generic.ArrayObject(
                [generic.FloatObject(v) for v in (72, 600, 96, 624)]
            ),
            pdf_name("/Contents"): generic.pdf_string("BATAL"),
        }
    )
    writer.register_annotation(page_ref, writer.add_object(note))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def dss_of(pdf: bytes) -> tuple[list[bytes], list[bytes]]:
    """The DER of every certificate and CRL in the document's /DSS dictionary."""
    dss = PdfFileReader(io.BytesIO(pdf)).root["/DSS"]
    return (
        [ref.get_object().data for ref in dss["/Certs"]],
        [ref.get_object().data for ref in dss["/CRLs"]],
    )


def asn1_crl(crl: x509.CertificateRevocationList) -> asn1_crl_module.CertificateList:
    return asn1_crl_module.CertificateList.load(der(crl))


def der(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return item.public_bytes(serialization.Encoding.DER)


# -- CRLs and distribution points -----------------------------------------------------------


def test_issue_crl_lists_revocations_signed_by_the_root(
    ca: CertificateAuthority, budi: SigningIdentity
) -> None:
    budi_revoked = datetime(2024, 7, 1, 3, 0, 5, tzinfo=UTC)
    tsa_revoked = datetime(2024, 8, 2, 10, 30, tzinfo=UTC)
    before = datetime.now(UTC).replace(microsecond=0)
    crl = ca.issue_crl(
        [
            RevokedCertificate(budi.certificate.serial_number, budi_revoked),
            RevokedCertificate(
                ca.tsa_certificate.serial_number, tsa_revoked, x509.ReasonFlags.key_compromise
            ),
        ],
        crl_number=42,
        next_update=timedelta(days=3),
    )
    assert crl.issuer == ca.root_certificate.subject
    assert crl.is_signature_valid(ca.root_certificate.public_key())  # type: ignore[arg-type]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert before <= crl.last_update_utc <= datetime.now(UTC)
    assert crl.next_update_utc == crl.last_update_utc + timedelta(days=3)

    entry = crl.get_revoked_certificate_by_serial_number(budi.certificate.serial_number)
    assert entry is not None and entry.revocation_date_utc == budi_revoked
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)
    tsa_entry = crl.get_revoked_certificate_by_serial_number(ca.tsa_certificate.serial_number)
    assert tsa_entry is not None and tsa_entry.revocation_date_utc == tsa_revoked
    reason = tsa_entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert len(list(crl)) == 2


def test_issue_crl_refuses_bad_input(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError):  # naive time
        ca.issue_crl([RevokedCertificate(1, datetime(2024, 7, 1))], crl_number=1)
    aware = datetime(2024, 7, 1, tzinfo=UTC)
    with pytest.raises(ValueError):  # the same serial twice
        ca.issue_crl([RevokedCertificate(1, aware), RevokedCertificate(1, aware)], crl_number=1)
    with pytest.raises(ValueError):
        ca.issue_crl([], crl_number=-1)
    with pytest.raises(ValueError):
        ca.issue_crl([], crl_number=1, next_update=timedelta(0))


def test_certificate_with_crl_url_names_the_distribution_point(
    ca: CertificateAuthority, budi: SigningIdentity
) -> None:
    points = budi.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert not points.critical
    (point,) = points.value
    assert point.full_name == [x509.UniformResourceIdentifier(CRL_URL)]
    without = ca.issue_signer_certificate(
        generate_private_key().public_key(), name="A", nip=None, jabatan="B", unit="C"
    )
    with pytest.raises(x509.ExtensionNotFound):
        without.extensions.get_extension_for_class(x509.CRLDistributionPoints)


# -- several signers and certification ----------------------------------------------------


def test_certified_then_countersigned_is_valid_everywhere(
    certified: bytes, countersigned: bytes, ca: CertificateAuthority, nss_db: str, tmp_path: Path
) -> None:
    report = valid_update(countersigned, certified, ca)
    first, second = only(report, FIRST), only(report, SECOND)
    assert first.certified and not second.certified
    assert not first.modified_after and not second.modified_after
    assert first.reason == second.reason == "Tanda tangan sah"
    # pyHanko reads the certification (DocMDP P=2: form filling and signing allowed) too.
    docmdp = read_certification_data(PdfFileReader(io.BytesIO(countersigned)))
    assert docmdp is not None and docmdp.permission == MDPPerm.FILL_FORMS
    assert set(pdfsig_accepts(countersigned, tmp_path, nss_db)) == {FIRST, SECOND}


def test_only_the_first_signature_can_certify(
    certified: bytes, siti: SigningIdentity, ca: CertificateAuthority
) -> None:
    with pytest.raises(SignatureCreationFailed):
        sign(certified, SECOND, siti, ca.timestamper(), certify=True)


# -- B-LTA ----------------------------------------------------------------------------------


def test_long_term_validation_reaches_b_lta(
    countersigned: bytes, archived: bytes, ca: CertificateAuthority, nss_db: str, tmp_path: Path
) -> None:
    report = valid_update(archived, countersigned, ca)
    assert report.level == "B-LTA"
    assert [s.level for s in report.signatures] == ["B-LTA", "B-LTA"]
    assert not any(s.modified_after for s in report.signatures)
    assert only(report, FIRST).certified
    assert report.document_timestamp is not None
    assert abs(datetime.now(UTC) - report.document_timestamp) < timedelta(minutes=5)

    sections = pdfsig_accepts(archived, tmp_path, nss_db)
    # poppler 22.12 lists the document time stamp as a third signature it cannot check:
    # "Signature Type: unknown", "Signature has not yet been verified.", and on stderr
    # "Unable to validate this type of signature".
    (stamp_field,) = set(sections) - {FIRST, SECOND}
    assert "docgen Time Stamping Authority" in sections[stamp_field]
    assert "Total document signed" in sections[stamp_field]


def test_the_dss_holds_the_crl_and_the_certificates(
    archived: bytes,
    ca: CertificateAuthority,
    crl: x509.CertificateRevocationList,
    budi: SigningIdentity,
    siti: SigningIdentity,
) -> None:
    certs, crls = dss_of(archived)
    assert crls == [der(crl)]
    expected = [budi.certificate, siti.certificate, ca.tsa_certificate, ca.root_certificate]
    assert sorted(certs) == sorted(der(c) for c in expected)
    # One update: the document time stamp covers the revision that added the DSS.
    reader = PdfFileReader(io.BytesIO(archived))
    (stamp,) = reader.embedded_timestamp_signatures
    assert stamp.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    assert stamp.signed_revision == reader.xrefs.total_revisions - 1
    assert "/DSS" in reader.get_historical_root(stamp.signed_revision)


def test_the_signer_certificate_is_found_per_certificate_set_and_signer(
    countersigned: bytes, budi: SigningIdentity, siti: SigningIdentity
) -> None:
    # certificates_of keeps its answers per certificate set and signer identifier: the same
    # set signed by either signer gives each their own certificate.
    signatures = PdfFileReader(io.BytesIO(countersigned)).embedded_signatures
    first, second = (signature.signed_data for signature in signatures)
    both = [c.dump() for c in first["certificates"]]
    both += [c.dump() for c in second["certificates"] if c.dump() not in both]

    def with_all_certificates(signed_data: cms.SignedData) -> cms.SignedData:
        copy = signed_data.untag()
        copy["certificates"] = [cms.CertificateChoices.load(c) for c in both]
        return cms.SignedData.load(copy.dump(force=True))

    for _ in range(2):  # found, then kept
        for signed_data, who in ((first, budi), (second, siti)):
            found = certificates_of(with_all_certificates(signed_data))
            assert found.signer == who.certificate
            assert who.certificate not in found.others and len(found.others) == len(both) - 1


def signature_dictionaries(reader: PdfFileReader) -> dict[str, generic.DictionaryObject]:
    return {sig.field_name: sig.sig_object for sig in reader.embedded_signatures}


def test_preloaded_signature_dictionaries_are_what_pyhanko_reads(archived: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(archived))
    assert preload_signature_dictionaries(reader, archived) == 3  # two signatures, one stamp
    preloaded = signature_dictionaries(reader)
    expected = signature_dictionaries(PdfFileReader(io.BytesIO(archived)))
    assert preloaded.keys() == expected.keys() == {FIRST, SECOND, f"{DOCUMENT_TIMESTAMP_FIELD}1"}
    for field, sig_object in preloaded.items():
        assert sig_object == expected[field]
        assert len(sig_object["/Contents"]) > 1000


def test_with_the_fast_paths_off_nothing_is_preloaded(archived: bytes, library_path: None) -> None:
    reader = PdfFileReader(io.BytesIO(archived))
    assert preload_signature_dictionaries(reader, archived) == 0
    preload_first_page(reader, archived)
    assert reader.resolved_objects == {}  # pyHanko parses each object when it is read


def same_object(got: generic.PdfObject, expected: generic.PdfObject, where: str = "") -> None:
    """``got`` is what pyHanko made of the same bytes: types, values, the container each object
    reports for incremental updates (by object number) and stream data."""
    assert type(got) is type(expected), where
    for obj in (got, expected):
        assert obj.container_ref is not None, where
    assert (got.container_ref.idnum, got.container_ref.generation) == (  # type: ignore[union-attr]
        expected.container_ref.idnum,  # type: ignore[union-attr]
        expected.container_ref.generation,  # type: ignore[union-attr]
    ), where
    if isinstance(got, generic.StreamObject):
        assert isinstance(expected, generic.StreamObject)
        assert got.encoded_data == expected.encoded_data, where
    if isinstance(got, generic.DictionaryObject):
        assert isinstance(expected, generic.DictionaryObject)
        assert list(got) == list(expected), where
        for key in got:
            same_object(got.raw_get(key), expected.raw_get(key), f"{where}{key}")
    elif isinstance(got, generic.ArrayObject):
        assert isinstance(expected, generic.ArrayObject)
        assert len(got) == len(expected), where
        for ix, (item, expected_item) in enumerate(zip(got, expected, strict=True)):
            same_object(item, expected_item, f"{where}[{ix}]")
    elif isinstance(got, generic.IndirectObject):
        assert isinstance(expected, generic.IndirectObject)
        assert (got.idnum, got.generation) == (expected.idnum, expected.generation), where
    elif isinstance(got, generic.TextStringObject | generic.ByteStringObject):
        assert got == expected and got.original_bytes == expected.original_bytes, where
    elif not isinstance(got, generic.NullObject):
        assert got == expected and repr(got) == repr(expected), where


def every_object(reader: PdfFileReader) -> list[generic.Reference]:
    found = set()
    for revision in range(reader.xrefs.total_revisions):
        found |= {(r.idnum, r.generation) for r in reader.xrefs.explicit_refs_in_revision(revision)}
    return [generic.Reference(idnum, generation, reader) for idnum, generation in sorted(found)]


def read_fast_and_slow(pdf: bytes) -> tuple[list[generic.Reference], PdfFileReader, PdfFileReader]:
    """Every object of ``pdf`` read by preload_objects and by pyHanko, compared; the objects
    preload_objects left to pyHanko."""
    fast, slow = PdfFileReader(io.BytesIO(pdf)), PdfFileReader(io.BytesIO(pdf))
    refs = every_object(fast)
    cached = preload_objects(fast, pdf, refs)
    for ref in cached:
        same_object(
            fast.get_object(ref),
            slow.get_object(generic.Reference(ref.idnum, ref.generation, slow)),
            str(ref),
        )
    return [ref for ref in refs if ref not in cached], fast, slow


def test_every_object_of_our_documents_is_read_fast_as_pyhanko_reads_it(
    archived: bytes, countersigned: bytes
) -> None:
    for pdf in (archived, countersigned):
        left, _, _ = read_fast_and_slow(pdf)
        assert left == []


def test_the_objects_signing_reads_are_preloaded(archived: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(archived))
    preload_signature_dictionaries(reader, archived)
    preload_first_page(reader, archived)
    read_before = set(reader.resolved_objects)
    root = reader.root
    fields = [root["/AcroForm"]["/Fields"].raw_get(ix) for ix in range(3)]
    values = [field.get_object().raw_get("/V") for field in fields]
    assert {(0, ref.idnum) for ref in fields + values} <= read_before
    assert (0, reader.trailer.raw_get("/Info").idnum) in read_before
    first_page, _ = reader.find_page_for_modification(0)
    assert (0, first_page.idnum) in read_before
    assert set(reader.resolved_objects) == read_before  # walking them read nothing more


UNUSUAL_OBJECTS = rb"""%PDF-1.7
1 0 obj
<< /Type /Catalog /Pages 2 0 R /Strings [ (plain) (a\\b\(c\)d) (nested (parens) here)
 (\101\0617\7x\n\r\t\b\f\/\%) (line\
joined) (two\
\r lines) <FEFF00410042> (\376\377\000C) <48 65 6c 6C 6> () ] >>
endobj
2 0 obj
<< /Type /Pages /Kids [ 3 0 R ] /Count 1 /Numbers [ 0 -1 +2 3.5 -.25 4. 0.0 ]
/Flags [ true false null ]
/Refs [ 3 0 R 4
0
R 12 ] /Empty << >> /EmptyArray [] /Deep [ [ << /A [ /B << /C 1 >> ] >> ] ] >>
endobj
3 0 obj
<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 595 842 ] /Contents 4 0 R >>
endobj
4 0 obj
<< /Length 8 >>
stream
BT ET q 
endstream
endobj
5 0 obj
<< /Length 6 0 R >>
stream
q Q
endstream
endobj
6 0 obj
4
endobj
7 0 obj
<< /Commented true % a comment
>>
endobj
8 0 obj
<< /Escaped /A#20B >>
endobj
9 0 obj
(a string) endobj
10 0 obj
[ 1 2 R ]
endobj
11 0 obj
<< /Twice 1 /Twice 2 >>
endobj
"""


def pdf_with_xref(body: bytes) -> bytes:
    offsets = {}
    for line_start in range(len(body)):
        if (line_start == 0 or body[line_start - 1 : line_start] == b"\n") and body[
            line_start:
        ].split(b"\n", 1)[0].endswith(b" 0 obj"):
            offsets[int(body[line_start:].split(b" ", 1)[0])] = line_start
    count = max(offsets) + 1
    xref = b"xref\n0 %d\n0000000000 65535 f \n" % count
    xref += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, count))
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, len(body))
    return body + xref + trailer


def test_unusual_syntax_is_read_as_pyhanko_reads_it_or_left_to_it() -> None:
    pdf = pdf_with_xref(UNUSUAL_OBJECTS)
    left, fast, _ = read_fast_and_slow(pdf)
    # an indirect /Length, a comment, an escape in a name, a repeated key: pyHanko's to read
    assert [ref.idnum for ref in left] == [5, 7, 8, 11]
    strings = [string.original_bytes for string in fast.root["/Strings"]]
    assert strings == [
        b"plain",
        b"a\\b(c)d",
        b"nested (parens) here",
        b"A17\x07x\n\r\t\b\f/%",
        b"linejoined",
        b"two\r lines",
        b"\xfe\xff\x00A\x00B",
        b"\xfe\xff\x00C",
        b"Hell`",
        b"",
    ]


def with_contents_padding(pdf: bytes, replacement: bytes) -> bytes:
    """``pdf`` with the last two digits of the first /Contents (zero padding) replaced, in place
    so that every offset stays right."""
    start = pdf.index(b"/Contents <")
    end = pdf.index(b">", start)
    assert pdf[end - 2 : end] == b"00" and len(replacement) == 2
    return pdf[: end - 2] + replacement + pdf[end:]


@pytest.mark.parametrize(("padding", "fast"), [(b" \n", True), (b"%\n", False)])
def test_unusual_contents_strings_are_read_as_pyhanko_reads_them(
    countersigned: bytes, padding: bytes, fast: bool
) -> None:
    """Whitespace in the hex string is decoded here; a comment is left to pyHanko."""
    pdf = with_contents_padding(countersigned, padding)
    reader = PdfFileReader(io.BytesIO(pdf))
    assert preload_signature_dictionaries(reader, pdf) == (2 if fast else 1)
    preloaded = signature_dictionaries(reader)
    assert preloaded == signature_dictionaries(PdfFileReader(io.BytesIO(pdf)))
    assert (
        preloaded[FIRST]["/Contents"]
        == signature_dictionaries(PdfFileReader(io.BytesIO(countersigned)))[FIRST]["/Contents"][:-1]
    )  # one zero byte less (an odd digit count is padded with 0)


def test_lower_levels_are_reported(
    ca: CertificateAuthority,
    budi: SigningIdentity,
    certified: bytes,
    crl: x509.CertificateRevocationList,
) -> None:
    # B-B: no signature time stamp (sign_pdf always adds one, so pyHanko signs directly).
    signer = SimpleSigner(
        signing_cert=to_asn1_certificate(budi.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            budi.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([to_asn1_certificate(ca.root_certificate)]),
    )
    meta = PdfSignatureMetadata(field_name=FIRST, subfilter=SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(prepared_pdf()))
    basic = run(PdfSigner(meta, signer).async_sign_pdf(writer, existing_fields_only=True))
    report = validate(basic.getvalue(), ca, crl)
    assert report.valid and report.level == "B-B"
    assert only(report, FIRST).timestamp is None and only(report, FIRST).level == "B-B"

    # B-T: a time-stamped signature without validation data.
    report = validate(certified, ca, crl)
    assert report.level == only(report, FIRST).level == "B-T" and report.document_timestamp is None

    # B-LT: the DSS, but no document time stamp after it.
    long_term = io.BytesIO(certified)
    DocumentSecurityStore.add_dss(
        long_term,
        None,
        certs=[to_asn1_certificate(c) for c in (budi.certificate, ca.tsa_certificate)],
        crls=[asn1_crl(crl)],
    )
    report = validate(long_term.getvalue(), ca)
    assert report.valid and report.level == only(report, FIRST).level == "B-LT"
    assert report.document_timestamp is None

    # Without the CRL in the DSS there is no B-LT, CRLs given to the validator or not.
    certs_only = io.BytesIO(certified)
    DocumentSecurityStore.add_dss(
        certs_only,
        None,
        certs=[to_asn1_certificate(c) for c in (budi.certificate, ca.tsa_certificate)],
    )
    assert validate(certs_only.getvalue(), ca, crl).level == "B-T"


def test_a_broken_or_untrusted_document_timestamp_does_not_count(
    countersigned: bytes,
    archived: bytes,
    ca: CertificateAuthority,
    crl: x509.CertificateRevocationList,
    tmp_path: Path,
) -> None:
    start = archived.rindex(b"/Contents <") + len(b"/Contents <")
    garbled = archived[:start] + b"00" * 16 + archived[start + 32 :]
    report = validate(garbled, ca)
    assert report.valid  # the signatures are fine ...
    assert report.level == "B-LT" and report.document_timestamp is None  # ... the stamp is not

    stranger = CertificateAuthority.load_or_create(tmp_path / "stranger")
    foreign = run(
        add_long_term_validation(
            countersigned,
            trust_roots=[ca.root_certificate],
            crls=[crl],
            timestamper=stranger.timestamper(),
        )
    )
    report = validate(foreign, ca)
    assert report.valid and report.level == "B-LT" and report.document_timestamp is None


def test_long_term_validation_needs_a_crl_from_the_issuer(
    countersigned: bytes, ca: CertificateAuthority, tmp_path: Path
) -> None:
    with pytest.raises(LongTermValidationFailed):
        archive(countersigned, ca, [])
    # Same issuer name, another key: its CRL does not count.
    impostor = CertificateAuthority.load_or_create(
        tmp_path / "impostor", organization="Pemkab Sidoarjo"
    )
    assert impostor.root_certificate.subject == ca.root_certificate.subject
    with pytest.raises(LongTermValidationFailed):
        archive(countersigned, ca, [impostor.issue_crl([], crl_number=1)])
    with pytest.raises(LongTermValidationFailed):  # nothing to archive
        archive(prepared_pdf(), ca, [ca.issue_crl([], crl_number=1)])


# -- changes after signing --------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [lambda pdf: add_page_text(pdf, b"BATAL"), add_note_annotation],
    ids=["page-text", "annotation"],
)
@pytest.mark.parametrize("base", ["certified", "countersigned", "archived"])
def test_changes_after_signing_are_modifications(
    change: Callable[[bytes], bytes],
    base: str,
    request: pytest.FixtureRequest,
    ca: CertificateAuthority,
) -> None:
    pdf = request.getfixturevalue(base)
    assert validate(pdf, ca).valid
    report = validate(change(pdf), ca)
    assert not report.valid
    first = only(report, FIRST)
    assert first.certified and first.intact
    for sig in report.signatures:
        assert sig.modified_after and sig.reason == MODIFIED, sig


# -- revocation ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def budi_left_office(
    ca: CertificateAuthority, budi: SigningIdentity, signed_at: datetime
) -> tuple[datetime, x509.CertificateRevocationList]:
    """Budi's certificate revoked twenty minutes after he signed, and the CRL saying so."""
    revoked_at = (signed_at + timedelta(minutes=20)).replace(microsecond=0)
    return revoked_at, revoke(ca, budi.certificate, revoked_at)


def test_revoked_after_signing_stays_valid(
    countersigned: bytes,
    ca: CertificateAuthority,
    budi_left_office: tuple[datetime, x509.CertificateRevocationList],
    signed_at: datetime,
) -> None:
    revoked_at, crl = budi_left_office
    assert only(validate(countersigned, ca), FIRST).revoked_at is None  # no CRL, no news
    report = validate(countersigned, ca, crl)
    assert report.valid, report
    first = only(report, FIRST)
    assert first.trusted and first.timestamp == signed_at
    assert first.revoked_at == revoked_at
    assert first.reason == (
        f"Tanda tangan sah; sertifikat penanda tangan dicabut pada "
        f"{format_waktu_wib(revoked_at)} setelah penandatanganan"
    )
    assert only(report, SECOND).revoked_at is None
    assert only(report, SECOND).reason == "Tanda tangan sah"


def test_revoked_before_signing_is_not_trusted(
    countersigned: bytes,
    ca: CertificateAuthority,
    budi: SigningIdentity,
    signed_at: datetime,
) -> None:
    revoked_at = (signed_at - timedelta(minutes=10)).replace(microsecond=0)
    report = validate(countersigned, ca, revoke(ca, budi.certificate, revoked_at))
    assert not report.valid
    first = only(report, FIRST)
    assert first.intact and not first.trusted and not first.modified_after
    assert first.reason == REVOKED and first.revoked_at == revoked_at
    assert only(report, SECOND).valid


def test_revocation_in_the_dss_counts(
    countersigned: bytes,
    ca: CertificateAuthority,
    budi_left_office: tuple[datetime, x509.CertificateRevocationList],
) -> None:
    """Archived after the revocation: the CRL in the file tells, no CRL needs to be given."""
    revoked_at, crl = budi_left_office
    archived = archive(countersigned, ca, [crl])
    report = validate(archived, ca)
    assert report.valid and report.level == "B-LTA"
    assert only(report, FIRST).revoked_at == revoked_at


def test_revoked_tsa_makes_signature_timestamps_untrusted(
    countersigned: bytes, ca: CertificateAuthority
) -> None:
    """Without a document time stamp from before the revocation, a revoked TSA's tokens prove
    nothing."""
    crl = revoke(ca, ca.tsa_certificate, datetime.now(UTC) - timedelta(minutes=5), number=4)
    report = validate(countersigned, ca, crl)
    assert not report.valid
    for sig in report.signatures:
        assert sig.intact and not sig.trusted and sig.timestamp is None and sig.level == "B-B"
        assert sig.reason == "Sertifikat cap waktu (timestamp) tidak dipercaya"


def issue_by_root(
    ca: CertificateAuthority,
    root_key: rsa.RSAPrivateKey,
    key: rsa.RSAPrivateKey,
    name: str,
    valid: tuple[datetime, datetime],
    usages: list[x509.ObjectIdentifier],
) -> x509.Certificate:
    """What CertificateAuthority cannot be asked for: a certificate with a chosen validity."""
    root_ski = ca.root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.root_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(usages),
            critical=usages == [ExtendedKeyUsageOID.TIME_STAMPING],  # RFC 3161 wants it so
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski.value),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )


def test_document_timestamp_before_a_tsa_revocation_keeps_signature_timestamps_trusted(
    countersigned: bytes,
    ca: CertificateAuthority,
    root_key: rsa.RSAPrivateKey,
    crl: x509.CertificateRevocationList,
) -> None:
    """Archived (by a second TSA) ten minutes ago; the first TSA was revoked five minutes ago:
    its tokens existed before, so they still count."""
    now = datetime.now(UTC)
    key = generate_private_key()
    archive_tsa_cert = issue_by_root(
        ca,
        root_key,
        key,
        "docgen Arsip TSA",
        (now - timedelta(hours=1), now + timedelta(days=1)),
        [ExtendedKeyUsageOID.TIME_STAMPING],
    )
    archive_tsa = InternalTimeStamper(
        archive_tsa_cert, key, chain=ca.chain, fixed_time=now - timedelta(minutes=10)
    )
    archived = run(
        add_long_term_validation(
            countersigned, trust_roots=[ca.root_certificate], crls=[crl], timestamper=archive_tsa
        )
    )
    tsa_revoked = revoke(ca, ca.tsa_certificate, now - timedelta(minutes=5), number=5)
    report = validate(archived, ca, tsa_revoked)
    assert report.valid, report
    assert report.level == "B-LTA"
    # Without the document time stamp, the same tokens are judged now: revoked.
    assert not validate(countersigned, ca, tsa_revoked).valid


def test_certificate_expired_after_the_timestamp_stays_valid(
    ca: CertificateAuthority,
    root_key: rsa.RSAPrivateKey,
    past_tsa: InternalTimeStamper,
    crl: x509.CertificateRevocationList,
) -> None:
    """Valid from an hour ago until five minutes ago; time-stamped half an hour ago."""
    key = generate_private_key()
    now = datetime.now(UTC)
    certificate = issue_by_root(
        ca,
        root_key,
        key,
        "PEJABAT LAMA",
        (now - timedelta(hours=1), now - timedelta(minutes=5)),
        [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU],
    )
    signer = SigningIdentity(private_key=key, certificate=certificate, chain=ca.chain)
    signed = sign(prepared_pdf(), FIRST, signer, past_tsa)
    report = validate(signed, ca)
    assert report.valid, report
    assert only(report, FIRST).level == "B-T"
    report = validate(archive(signed, ca, [crl]), ca)
    assert report.valid and report.level == "B-LTA"

    # The same certificate without a time stamp is judged now, when it has expired.
    stale = sign(prepared_pdf(), FIRST, signer, ca.timestamper())
    late: SignatureReport = only(validate(stale, ca), FIRST)
    assert late.intact and not late.trusted
    assert late.reason == "Sertifikat penanda tangan sudah tidak berlaku"


# -- the library paths ----------------------------------------------------------------------


def comparable_signer_info(pdf: bytes, field: str) -> Any:
    """The signer info of ``field``'s signature, less what differs from document to document
    and token to token: the message digest, the signature over it, the time stamp token."""
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    (signature,) = [s for s in signatures if s.field_name == field]
    native: Any = signature.signer_info.native
    native["signature"] = None
    native["signed_attrs"] = [a for a in native["signed_attrs"] if a["type"] != "message_digest"]
    native["unsigned_attrs"] = [a["type"] for a in native["unsigned_attrs"]]
    return native


def pdfsig_verdicts(pdf: bytes, tmp_path: Path, nss_db: str) -> dict[str, list[str]]:
    """pdfsig's lines per field, but the signed byte ranges (each document has its own)."""
    return {
        field: [line for line in section.splitlines() if "Signed Ranges" not in line]
        for field, section in pdfsig_sections(pdfsig(pdf, tmp_path, nss_db)).items()
    }


def test_the_library_paths_sign_and_archive_as_the_fast_paths_do(
    archived: bytes,
    budi: SigningIdentity,
    siti: SigningIdentity,
    past_tsa: InternalTimeStamper,
    ca: CertificateAuthority,
    crl: x509.CertificateRevocationList,
    nss_db: str,
    tmp_path: Path,
    library_path: None,
) -> None:
    """pyHanko reading the PDFs and building the containers, asn1crypto the time stamp tokens:
    the same signatures, as pyHanko and pdfsig judge them, as the fast paths make."""
    certified = sign(prepared_pdf(), FIRST, budi, past_tsa, certify=True)
    library = archive(sign(certified, SECOND, siti, past_tsa), ca, [crl])
    fast_report, library_report = validate(archived, ca), validate(library, ca)
    assert library_report.valid and library_report.level == "B-LTA"
    assert library_report.signatures == fast_report.signatures
    assert fast_report.document_timestamp is not None
    assert library_report.document_timestamp is not None
    assert abs(library_report.document_timestamp - fast_report.document_timestamp) < timedelta(
        minutes=5
    )
    assert sorted(map(sorted, dss_of(library))) == sorted(map(sorted, dss_of(archived)))
    for field in (FIRST, SECOND):
        assert comparable_signer_info(library, field) == comparable_signer_info(archived, field)
    verdicts = pdfsig_verdicts(library, tmp_path, nss_db)
    assert verdicts == pdfsig_verdicts(archived, tmp_path, nss_db)
    for field in (FIRST, SECOND):
        assert "  - Signature Validation: Signature is Valid." in verdicts[field]
        assert "  - Certificate Validation: Certificate is Trusted." in verdicts[field]
