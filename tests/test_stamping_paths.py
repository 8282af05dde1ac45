"""The verification mark and the signature appearances made on signing.fast's paths and on the
libraries' (``signing.fast.use(False)``: qrcode, pyHanko's own font engine and QR stamp): the same
QR codes, the same text and glyph widths, and signatures that validate the same in pyHanko and
in poppler's pdfsig. And the private pyHanko method the fast appearance overrides, pinned: these
tests fail, naming pyHanko and its version, when an upgrade breaks it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import inspect
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zxingcpp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.stamp import QRStamp, QRStampStyle

import signing.fast.appearance
from signing.fast.appearance import VerificationQRStyle, _KeptQRStamp
from signing.pades.sign import SignatureAppearance, SigningIdentity, sign_pdf
from signing.pki.ca import CertificateAuthority
from signing.pki.keys import generate_private_key
from signing.prepare.stamp import SignatureBox, prepare_pdf
from signing.validate.validation import ValidationReport, validate_pdf
from tests.conftest import library_paths_taken
from tests.pdftools import nss_db_trusting, raw_text
from tests.test_signing import (
    FIELD_1,
    FIELD_2,
    field_region,
    pdfsig,
    pdfsig_sections,
    prepared_pdf,
    render,
    run,
)

PYHANKO = f"pyHanko {importlib.metadata.version('pyhanko')}"
VERIFY_URL = "https://ttd.example.go.id/v/UGF0aHNDb21wYXJlZDEyMzQ1"
FOOTER = f"Dokumen ini ditandatangani secara elektronik. Verifikasi: {VERIFY_URL}"
SIGNERS = (
    ("ttd_pihak_pertama", "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju"),
    ("ttd_pihak_kedua", "Élodie Ñuñez Çakır, S.H.", "Kepala Seksi Kurikulum dan Penilaian"),
)
# 27 June 2024 07:05 UTC is 14:05 WIB.
SIGNING_TIME = datetime(2024, 6, 27, 7, 5, tzinfo=UTC)

PATHS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "fast": contextlib.nullcontext,
    "library": library_paths_taken,
}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"), organization="Pemkab")


@pytest.fixture(scope="module")
def identities(ca: CertificateAuthority) -> dict[str, SigningIdentity]:
    made = {}
    for field, name, jabatan in SIGNERS:
        key = generate_private_key()
        certificate = ca.issue_signer_certificate(
            key.public_key(), name=name, nip=None, jabatan=jabatan, unit="Kecamatan Sukamaju"
        )
        made[field] = SigningIdentity(private_key=key, certificate=certificate, chain=ca.chain)
    return made


@dataclasses.dataclass(frozen=True)
class Made:
    prepared: bytes
    """The page with the verification mark and two empty signature fields."""
    signed: bytes
    """Signed into both fields, the first signature certifying."""


@pytest.fixture(scope="module")
def made(ca: CertificateAuthority, identities: dict[str, SigningIdentity]) -> dict[str, Made]:
    """The same document prepared and signed twice on each path."""
    documents = {}
    for path, taken in PATHS.items():
        with taken():
            prepared = prepare_pdf(
                prepared_pdf(fields=False),
                verify_url=VERIFY_URL,
                footer_text=FOOTER,
                fields=[
                    SignatureBox(SIGNERS[0][0], 0, FIELD_1),
                    SignatureBox(SIGNERS[1][0], 0, FIELD_2),
                ],
            )
            signed = prepared
            for ix, (field, name, jabatan) in enumerate(SIGNERS):
                signed = run(
                    sign_pdf(
                        signed,
                        field_name=field,
                        identity=identities[field],
                        appearance=SignatureAppearance(name, jabatan, VERIFY_URL),
                        timestamper=ca.timestamper(),
                        signing_time=SIGNING_TIME,
                        certify=ix == 0,
                    )
                )
        documents[path] = Made(prepared=prepared, signed=signed)
    return documents


def fonts_and_qr_forms(pdf: bytes) -> tuple[list[generic.DictionaryObject], list[bytes]]:
    """The Type 0 fonts and the decoded QR forms of the footer and each appearance."""
    reader = PdfFileReader(io.BytesIO(pdf))
    _, resources = reader.find_page_for_modification(0)
    xobjects = resources.get_object()["/XObject"]
    (footer,) = (xobjects[name] for name in xobjects if name.startswith("/DocgenVerif"))
    forms = [footer]
    forms += [sig.sig_field["/AP"]["/N"] for sig in reader.embedded_signatures]
    return (
        [form["/Resources"]["/Font"]["/F1"] for form in forms],
        [form["/Resources"]["/XObject"]["/QR"].data for form in forms],
    )


def widths(type0: generic.DictionaryObject) -> dict[int, int]:
    """/W of a Type 0 font's CIDFont: the width of each glyph id it has."""
    entries = list(type0["/DescendantFonts"][0]["/W"])
    found: dict[int, int] = {}
    for first, run_ in zip(entries[::2], entries[1::2], strict=True):
        found.update((first + k, int(width)) for k, width in enumerate(run_))
    return found


def test_both_paths_show_the_same_text(made: dict[str, Made], tmp_path: Path) -> None:
    for stage in ("prepared", "signed"):
        fast, library = (raw_text(getattr(made[path], stage), tmp_path) for path in PATHS)
        assert fast == library, stage
    text = raw_text(made["fast"].signed, tmp_path)
    for expected in (
        "Dokumen ini ditandatangani",
        "Élodie Ñuñez Çakır, S.H.",
        "27 Juni 2024 14:05",
    ):
        assert expected in text, text


def test_both_paths_embed_the_glyphs_shown_with_the_same_widths(made: dict[str, Made]) -> None:
    fast_fonts, _ = fonts_and_qr_forms(made["fast"].signed)
    library_fonts, _ = fonts_and_qr_forms(made["library"].signed)
    assert len(fast_fonts) == len(library_fonts) == 3  # the footer's, each appearance's
    for fast, library in zip(fast_fonts, library_fonts, strict=True):
        assert "LiberationSans" in str(fast["/BaseFont"]) and "LiberationSans" in str(
            library["/BaseFont"]
        )
        # the fast path embeds more glyphs (always_embed: URL characters, digits of times) with
        # the library's among them
        assert widths(library).items() < widths(fast).items()


def test_both_paths_draw_the_same_qr_codes(made: dict[str, Made], tmp_path: Path) -> None:
    _, fast_forms = fonts_and_qr_forms(made["fast"].signed)
    _, library_forms = fonts_and_qr_forms(made["library"].signed)
    assert fast_forms == library_forms
    page = render(made["library"].signed, tmp_path, 150)
    for box in (FIELD_1, FIELD_2):
        assert [r.text for r in zxingcpp.read_barcodes(field_region(page, box, 150))] == [
            VERIFY_URL
        ]


def comparable(report: ValidationReport) -> ValidationReport:
    """The report without the times the TSA put in the time stamps."""
    signatures = tuple(dataclasses.replace(s, timestamp=None) for s in report.signatures)
    return dataclasses.replace(report, signatures=signatures, document_timestamp=None)


def test_signatures_on_both_paths_validate_the_same(
    made: dict[str, Made], ca: CertificateAuthority, tmp_path: Path
) -> None:
    reports = {path: validate_pdf(made[path].signed, [ca.root_certificate]) for path in PATHS}
    assert reports["fast"].valid and len(reports["fast"].signatures) == 2, reports["fast"]
    assert comparable(reports["fast"]) == comparable(reports["library"])

    nss_db = nss_db_trusting(tmp_path / "nss", ca.root_pem())
    verdicts = {}
    for path in PATHS:
        sections = pdfsig_sections(pdfsig(made[path].signed, tmp_path, nss_db))
        verdicts[path] = {
            field: [
                line.strip()
                for line in section.splitlines()
                if "Validation:" in line or "Total document signed" in line
            ]
            for field, section in sections.items()
        }
    assert verdicts["fast"] == verdicts["library"]
    assert verdicts["fast"][SIGNERS[1][0]] == [
        "- Total document signed",
        "- Signature Validation: Signature is Valid.",
        "- Certificate Validation: Certificate is Trusted.",
    ], verdicts


# -- the private pyHanko method the fast appearance overrides ---------------------------------


def test_pyhanko_still_has_the_qr_form_method_the_fast_path_overrides() -> None:
    method = vars(QRStamp).get("_qr_xobject")
    assert callable(method), (
        f"{PYHANKO}: QRStamp._qr_xobject is gone; signing/fast/appearance.py overrides it to "
        "draw the QR form of signature appearances"
    )
    assert list(inspect.signature(method).parameters) == ["self"], (
        f"{PYHANKO}: QRStamp._qr_xobject{inspect.signature(method)} takes other arguments than "
        "the override in signing/fast/appearance.py"
    )


def url_stamp(style: QRStampStyle, url: str) -> QRStamp:
    return style.create_stamp(PdfFileWriter(), BoxConstraints(200, 70), {"url": url})


def test_the_kept_qr_form_is_the_one_pyhanko_makes() -> None:
    url = "https://ttd.example.go.id/v/S2VwdEZvcm1Jc1B5SGFua28x"
    pyhanko_stamp = url_stamp(QRStampStyle(), url)
    assert type(pyhanko_stamp) is QRStamp
    expected_ref, expected_size = pyhanko_stamp._qr_xobject()
    expected = expected_ref.get_object()
    kept_stamp = url_stamp(VerificationQRStyle(), url)
    assert isinstance(kept_stamp, _KeptQRStamp)
    for _ in range(2):  # made, then kept
        ref, size = kept_stamp._qr_xobject()
        form = ref.get_object()
        assert (size, dict(form), form.data) == (expected_size, dict(expected), expected.data), (
            f"{PYHANKO}: QRStamp._qr_xobject makes another QR form than the one "
            "signing/fast/appearance.py keeps for its URL"
        )


def test_pyhanko_calls_the_qr_form_method_for_an_appearance() -> None:
    url = "https://ttd.example.go.id/v/Q2FsbGVkRm9yQW5BcHBlYXJhbmNl"
    kept = signing.fast.appearance._kept_qr_form
    kept.cache_clear()
    url_stamp(VerificationQRStyle(), url).render()
    assert kept.cache_info().misses == 1, (
        f"{PYHANKO}: rendering a QR stamp no longer calls QRStamp._qr_xobject, which "
        "signing/fast/appearance.py overrides: appearances would draw no QR code"
    )
    with library_paths_taken():
        stamp = url_stamp(VerificationQRStyle(), url)
        stamp.render()
    assert type(stamp) is QRStamp  # pyHanko's own, which makes the QR form itself
    assert kept.cache_info().misses == 1 and kept.cache_info().hits == 0
