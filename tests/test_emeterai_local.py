"""The local e-Meterai provider as a library: after the first (certifying) signature it affixes
its stamp into the reserved box, the last signer signs after it, and every signature holds
(pyHanko and pdfsig), the e-Meterai's too; the stamp's text is printed inside the box."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

import signing.prepare.stamp
from signing.emeterai import LOCAL_PROVIDER_NAME, LocalEMeteraiProvider
from signing.errors import SignatureFieldAlreadySigned, SignatureFieldNotFound
from signing.pades import SignatureAppearance, SigningIdentity, sign_pdf
from signing.pki.ca import CertificateAuthority
from signing.pki.keys import generate_private_key
from signing.validate.validation import validate_pdf
from tests.pdftools import nss_db_trusting, words_with_annotations

FIRST = (60, 480, 260, 550)
METERAI = (280, 480, 350, 550)  # 70 x 70 pt, left of the second signature
SECOND = (360, 480, 560, 550)
URL = "https://ttd.example.go.id/v/Q2hlY2tDb2RlMTIzNDU2Nzg5MDEy"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"))


def person(ca: CertificateAuthority, name: str) -> SigningIdentity:
    key = generate_private_key()
    cert = ca.issue_signer_certificate(
        key.public_key(), name=name, nip=None, jabatan="Camat", unit="Kecamatan"
    )
    return SigningIdentity(key, cert, ca.chain)


def blank_prepared() -> bytes:
    import pikepdf

    out = io.BytesIO()
    with pikepdf.new() as doc:
        doc.add_blank_page(page_size=(595, 842))
        doc.save(out)
    return signing.prepare.stamp.prepare_pdf(
        out.getvalue(),
        verify_url=URL,
        footer_text="Verifikasi",
        fields=[
            signing.prepare.stamp.SignatureBox("ttd_pihak_pertama", 0, FIRST),
            signing.prepare.stamp.SignatureBox("emeterai", 0, METERAI),
            signing.prepare.stamp.SignatureBox("ttd_pihak_kedua", 0, SECOND),
        ],
    )


def test_affixed_between_two_signatures_every_signature_holds(
    ca: CertificateAuthority, tmp_path: Path, either_path: str
) -> None:
    provider = LocalEMeteraiProvider(ca, ca.timestamper())
    first = asyncio.run(
        sign_pdf(
            blank_prepared(),
            field_name="ttd_pihak_pertama",
            identity=person(ca, "BUDI SANTOSO"),
            appearance=SignatureAppearance("BUDI SANTOSO", "Camat", URL),
            timestamper=ca.timestamper(),
            certify=True,
        )
    )
    affixed = asyncio.run(provider.affix(first, field_name="emeterai", reason="Nota Kesepahaman"))
    assert affixed.pdf.startswith(first)  # one incremental update more
    assert affixed.serial.startswith("LOKAL") and len(affixed.serial) == 22
    assert affixed.local and affixed.provider == LOCAL_PROVIDER_NAME
    assert affixed.stamp_png.startswith(b"\x89PNG")
    with pytest.raises(SignatureFieldAlreadySigned):
        asyncio.run(provider.affix(affixed.pdf, field_name="emeterai", reason="lagi"))
    with pytest.raises(SignatureFieldNotFound):
        asyncio.run(provider.affix(first, field_name="meterai_lain", reason="x"))
    final = asyncio.run(
        sign_pdf(
            affixed.pdf,
            field_name="ttd_pihak_kedua",
            identity=person(ca, "SITI AMINAH"),
            appearance=SignatureAppearance("SITI AMINAH", "Ketua", URL),
            timestamper=ca.timestamper(),
        )
    )

    report = validate_pdf(final, [ca.root_certificate])
    assert report.valid, report
    by_field = {s.field: s for s in report.signatures}
    assert set(by_field) == {"ttd_pihak_pertama", "emeterai", "ttd_pihak_kedua"}
    assert by_field["ttd_pihak_pertama"].certified
    assert by_field["emeterai"].signer is not None and "bukan Peruri" in by_field["emeterai"].signer

    # The provider's certificate: issued by the deployment's CA, named as what it is.
    embedded = PdfFileReader(io.BytesIO(final)).embedded_signatures
    (seal,) = [s for s in embedded if s.field_name == "emeterai"]
    cert = x509.load_der_x509_certificate(seal.signer_cert.dump())
    (common_name,) = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert common_name.value == LOCAL_PROVIDER_NAME
    assert cert.issuer == ca.root_certificate.subject

    path = tmp_path / "final.pdf"
    path.write_bytes(final)
    import subprocess

    db = nss_db_trusting(tmp_path / "nss", ca.root_pem())
    pdfsig = subprocess.run(
        ["pdfsig", "-nssdir", db, str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    assert pdfsig.count("Signature Validation: Signature is Valid.") == 3, pdfsig
    assert "emeterai" in pdfsig

    (page,) = words_with_annotations(final, tmp_path)
    inside = [
        w
        for w, (x1, y1, x2, y2) in page
        if x1 >= METERAI[0] - 0.5
        and x2 <= METERAI[2] + 0.5
        and y1 >= METERAI[1] - 0.5
        and y2 <= METERAI[3] + 0.5
    ]
    # (the stamp's lines come out whole: its text is shaped, spaces are glyph positions)
    printed = " ".join(inside)
    assert affixed.serial in printed
    for said in ("e-METERAI LOKAL", "BUKAN PERURI", "bukan bea meterai", "kepada negara"):
        assert said in printed, printed
    (path.parent / "stamped.pdf").write_bytes(final)
