"""The crypto half of `signing/`: CA, sealed keys, PAdES signing and validation.

Real keys, certificates, time stamps and PDFs throughout, and poppler's pdfsig (with our root in
a fresh NSS database) as an independent validator beside pyHanko.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import secrets
import shutil
import string
import subprocess
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zxingcpp
from asn1crypto import cms, tsp
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fontTools.ttLib import TTFont
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter, init_xobject_dictionary
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.common_utils import handle_tsp_response
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.stamp import QRStamp
from pyhanko_certvalidator import ValidationContext

import signing.fast
import signing.fast.qr
import signing.prepare.stamp
from signing.errors import (
    CertificateAuthorityError,
    InvalidPdf,
    InvalidPin,
    KeyBlobError,
    SignatureFieldAlreadySigned,
    SignatureFieldNotFound,
    WrongSecret,
)
from signing.fast.appearance import _KeptQRStamp
from signing.pades.sign import (
    SignatureAppearance,
    SigningIdentity,
    _RsaKeySigner,
    sign_pdf,
)
from signing.pki.ca import DOCUMENT_SIGNING_EKU, CertificateAuthority
from signing.pki.keys import (
    generate_private_key,
    seal_private_key,
    seal_with_secret,
    unseal_private_key,
    unseal_with_secret,
)
from signing.pki.tsa import DOCGEN_TSA_POLICY_OID, InternalTimeStamper, to_asn1_certificate
from signing.validate.validation import ValidationReport, validate_pdf
from signing.waktu import Zona, format_waktu, format_waktu_wib
from tests.pdftools import nss_db_trusting, raw_text

T = TypeVar("T")

PEPPER = b"test-pepper-0123456789abcdef0123"
PIN = "246810"
PAGE_TEXT = b"PAKTA INTEGRITAS NOMOR 800/123/2024"
# Field boxes in PDF points on an A4 page (595 x 842).
FIELD_1 = (60, 480, 300, 560)
FIELD_2 = (320, 480, 560, 560)
VERIFY_URL = "https://ttd.example.go.id/v/Q2hlY2tDb2RlMTIzNDU2Nzg5MDEy"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def prepared_pdf(fields: bool = True) -> bytes:
    """A one-page PDF with two empty signature fields, the way signing/prepare/stamp.py leaves it
    (without fields: the page alone).

    The page text sits in an uncompressed content stream, so a test can flip a byte of it.
    """
    writer = PdfFileWriter(stream_xrefs=False)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
    )
    content = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 760 Td (" + PAGE_TEXT + b") Tj ET")
    )
    writer.insert_page(
        PageObject(contents=content, media_box=(0, 0, 595, 842), resources=resources)
    )
    if fields:
        append_signature_field(writer, SigFieldSpec("ttd_pihak_pertama", box=FIELD_1))
        append_signature_field(writer, SigFieldSpec("ttd_pihak_kedua", box=FIELD_2))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def marked_pdf(url: str) -> bytes:
    """The page with signing.prepare.stamp's verification mark for ``url`` and the two fields."""
    return signing.prepare.stamp.prepare_pdf(
        prepared_pdf(fields=False),
        verify_url=url,
        footer_text=f"Verifikasi: {url}",
        fields=[
            signing.prepare.stamp.SignatureBox("ttd_pihak_pertama", 0, FIELD_1),
            signing.prepare.stamp.SignatureBox("ttd_pihak_kedua", 0, FIELD_2),
        ],
    )


def appearance_qr(pdf: bytes, field: str) -> generic.StreamObject:
    """The QR form of ``field``'s appearance."""
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    (sig,) = [s for s in signatures if s.field_name == field]
    return sig.sig_field["/AP"]["/N"]["/Resources"]["/XObject"]["/QR"]  # type: ignore[no-any-return]


def add_page_text(pdf: bytes, text: bytes) -> bytes:
    """Append an incremental update that draws more text on page 1."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 700 Td (" + text + b") Tj ET")
    )
    writer.add_stream_to_page(0, stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca")


@pytest.fixture(scope="module")
def ca(ca_dir: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(ca_dir, organization="Pemkab")


@pytest.fixture(scope="module")
def budi(ca: CertificateAuthority) -> SigningIdentity:
    key = generate_private_key()
    cert = ca.issue_signer_certificate(
        key.public_key(),
        name="Drs. BUDI SANTOSO, M.Si.",
        nip="197001011990031001",
        jabatan="Camat Sukamaju",
        unit="Kecamatan Sukamaju",
    )
    return SigningIdentity(private_key=key, certificate=cert, chain=ca.chain)


@pytest.fixture(scope="module")
def siti(ca: CertificateAuthority) -> SigningIdentity:
    key = generate_private_key()
    cert = ca.issue_signer_certificate(
        key.public_key(),
        name="SITI AMINAH, S.H.",
        nip=None,
        jabatan=LONG_JABATAN,
        unit="Panwaslu",
    )
    return SigningIdentity(private_key=key, certificate=cert, chain=ca.chain)


BUDI_LOOK = SignatureAppearance(
    name="Drs. BUDI SANTOSO, M.Si.", jabatan="Camat Sukamaju", verify_url=VERIFY_URL
)
LONG_JABATAN = "Ketua Panitia Pengawas Pemilihan Umum Kecamatan Sukamaju Kabupaten Sidoarjo"
SITI_LOOK = SignatureAppearance(
    name="SITI AMINAH, S.H.", jabatan=LONG_JABATAN, verify_url=VERIFY_URL
)
# 27 June 2024 07:05 UTC is 14:05 WIB.
SIGNING_TIME = datetime(2024, 6, 27, 7, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def prepared() -> bytes:
    return prepared_pdf()


@pytest.fixture(scope="module")
def signed_once(prepared: bytes, ca: CertificateAuthority, budi: SigningIdentity) -> bytes:
    return run(
        sign_pdf(
            prepared,
            field_name="ttd_pihak_pertama",
            identity=budi,
            appearance=BUDI_LOOK,
            timestamper=ca.timestamper(),
            reason="Pihak Pertama Nota Kesepahaman",
            location="Sukamaju",
            signing_time=SIGNING_TIME,
        )
    )


@pytest.fixture(scope="module")
def signed_twice(signed_once: bytes, ca: CertificateAuthority, siti: SigningIdentity) -> bytes:
    return run(
        sign_pdf(
            signed_once,
            field_name="ttd_pihak_kedua",
            identity=siti,
            appearance=SITI_LOOK,
            timestamper=ca.timestamper(),
        )
    )


@pytest.fixture(scope="module")
def nss_db(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority) -> str:
    """A fresh NSS database that trusts only our root, for pdfsig."""
    return nss_db_trusting(tmp_path_factory.mktemp("nss"), ca.root_pem())


def pdfsig(pdf: bytes, tmp_path: Path, nss_db: str | None = None) -> str:
    path = tmp_path / f"pdfsig-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    command = ["pdfsig"] + (["-nssdir", nss_db] if nss_db else []) + [str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def pdfsig_sections(report: str) -> dict[str, str]:
    """pdfsig's report split per signature field: field name -> its lines."""
    sections: dict[str, str] = {}
    for chunk in report.split("Signature #")[1:]:
        for line in chunk.splitlines():
            if "Signature Field Name:" in line:
                sections[line.split(":", 1)[1].strip()] = chunk
    return sections


def render(pdf: bytes, tmp_path: Path, dpi: int = 100) -> Image.Image:
    path = tmp_path / f"render-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    prefix = tmp_path / f"page-{time.monotonic_ns()}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(path),
            str(prefix),
        ],
        check=True,
        timeout=60,
    )
    return Image.open(f"{prefix}.png").convert("L")


def field_region(image: Image.Image, box: tuple[int, int, int, int], dpi: int) -> Image.Image:
    scale = dpi / 72
    x1, y1, x2, y2 = box
    page_height = 842
    return image.crop(
        (
            int(x1 * scale),
            int((page_height - y2) * scale),
            int(x2 * scale),
            int((page_height - y1) * scale),
        )
    )


def dark_fraction(image: Image.Image) -> float:
    histogram = image.histogram()
    return sum(histogram[:128]) / max(1, sum(histogram))


def only(report: ValidationReport, field: str) -> Any:
    matches = [s for s in report.signatures if s.field == field]
    assert len(matches) == 1, report
    return matches[0]


# -- the certificate authority ------------------------------------------------------------


def test_ca_load_or_create_is_idempotent(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path / "ca")
    second = CertificateAuthority.load_or_create(tmp_path / "ca")
    assert second.root_certificate == first.root_certificate
    assert second.tsa_certificate == first.tsa_certificate
    assert second.root_pem() == first.root_pem()
    for key_file in ("root-key.pem", "tsa-key.pem"):
        assert (tmp_path / "ca" / key_file).stat().st_mode & 0o777 == 0o600


def test_a_ca_sealed_under_the_server_secret_opens_as_the_same_ca(tmp_path: Path) -> None:
    secret = secrets.token_bytes(32)
    made = CertificateAuthority.create(organization="Pemkab")
    sealed = made.seal(secret)
    assert b"PRIVATE KEY" not in sealed.root_key + sealed.tsa_key
    opened = CertificateAuthority.unseal(sealed, secret)
    assert opened.same_as(made) and opened.organization == "Pemkab"
    with pytest.raises(WrongSecret):
        CertificateAuthority.unseal(sealed, secrets.token_bytes(32))
    # Kept as the files of a directory (a cache), it loads in another process as it was.
    assert CertificateAuthority.load(tmp_path / "ca") is None
    made.write_to(tmp_path / "ca")
    loaded = CertificateAuthority.load(tmp_path / "ca")
    assert loaded is not None and loaded.same_as(made)
    CertificateAuthority.create().write_to(tmp_path / "ca")  # another one replaces it
    replaced = CertificateAuthority.load_or_create(tmp_path / "ca")
    assert not replaced.same_as(made)
    for key_file in ("root-key.pem", "tsa-key.pem"):
        assert (tmp_path / "ca" / key_file).stat().st_mode & 0o777 == 0o600


def test_a_key_sealed_under_the_secret_opens_only_with_it_and_its_purpose() -> None:
    secret = secrets.token_bytes(32)
    key = ec.generate_private_key(ec.SECP256R1())
    blob = seal_with_secret(key, secret, "tsa")
    opened = unseal_with_secret(blob, secret, "tsa")
    assert isinstance(opened, ec.EllipticCurvePrivateKey)
    assert opened.private_numbers() == key.private_numbers()
    with pytest.raises(WrongSecret):
        unseal_with_secret(blob, secrets.token_bytes(32), "tsa")
    with pytest.raises(WrongSecret):
        unseal_with_secret(blob, secret, "root")  # a TSA key cannot pass for the root's
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    with pytest.raises(WrongSecret):
        unseal_with_secret(bytes(flipped), secret, "tsa")


def test_ca_root_and_tsa_certificates(ca: CertificateAuthority) -> None:
    root = ca.root_certificate
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "docgen Root CA"
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Pemkab"
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert root.not_valid_after_utc - root.not_valid_before_utc > timedelta(days=3650)
    root.verify_directly_issued_by(root)

    tsa = ca.tsa_certificate
    tsa.verify_directly_issued_by(root)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_ca_with_missing_root_key_is_refused(tmp_path: Path) -> None:
    CertificateAuthority.load_or_create(tmp_path / "ca")
    (tmp_path / "ca" / "root-key.pem").unlink()
    with pytest.raises(CertificateAuthorityError):
        CertificateAuthority.load_or_create(tmp_path / "ca")


def test_ca_reissues_a_missing_tsa_under_the_same_root(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path / "ca")
    (tmp_path / "ca" / "tsa.pem").unlink()
    (tmp_path / "ca" / "tsa-key.pem").unlink()
    second = CertificateAuthority.load_or_create(tmp_path / "ca")
    assert second.root_certificate == first.root_certificate
    assert second.tsa_certificate != first.tsa_certificate
    second.tsa_certificate.verify_directly_issued_by(first.root_certificate)


def test_signer_certificate(ca: CertificateAuthority, budi: SigningIdentity) -> None:
    cert = budi.certificate
    cert.verify_directly_issued_by(ca.root_certificate)

    def subject(oid: x509.ObjectIdentifier) -> object:
        return cert.subject.get_attributes_for_oid(oid)[0].value

    assert subject(NameOID.COMMON_NAME) == "Drs. BUDI SANTOSO, M.Si."
    assert subject(NameOID.SERIAL_NUMBER) == "197001011990031001"
    assert subject(NameOID.TITLE) == "Camat Sukamaju"
    assert subject(NameOID.ORGANIZATIONAL_UNIT_NAME) == "Kecamatan Sukamaju"
    assert subject(NameOID.ORGANIZATION_NAME) == "Pemkab"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku and DOCUMENT_SIGNING_EKU in eku
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = ca.root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == root_ski.value.digest
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.serial_number.bit_length() > 64  # random, not sequential
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=729) < validity < timedelta(days=731)


def test_signer_without_nip_has_no_serial_number(siti: SigningIdentity) -> None:
    assert not siti.certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)


def _comparable(response: tsp.TimeStampResp) -> dict[str, Any]:
    """The response's content, less what differs from token to token by design (serial
    number, and with it the message digest and the signature) and the policy we set."""
    native: dict[str, Any] = response.native
    token = native["time_stamp_token"]["content"]
    tst_info = token["encap_content_info"]["content"]
    tst_info["serial_number"] = tst_info["policy"] = None
    signer_info = token["signer_infos"][0]
    signer_info["signature"] = None
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"] == "message_digest":
            attribute["values"] = None
    return native


def _comparable_token(token: cms.ContentInfo) -> dict[str, Any]:
    """The token, less what differs from token to token (serial number, nonce, and with them the
    message digest and the signature)."""
    native: dict[str, Any] = cms.ContentInfo.load(token.dump()).native  # a copy to change
    tst_info = native["content"]["encap_content_info"]["content"]
    tst_info["serial_number"] = tst_info["nonce"] = None
    signer_info = native["content"]["signer_infos"][0]
    signer_info["signature"] = None
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"] == "message_digest":
            attribute["values"] = None
    # DER orders the attributes by their encoding, which the message digest is part of
    signer_info["signed_attrs"].sort(key=lambda attribute: attribute["type"])
    return native


@pytest.fixture(scope="module")
def rsa_tsa_ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA directory as docgen made them before its TSA keys were P-256: an RSA-3072 TSA."""
    directory = tmp_path_factory.mktemp("ca-rsa-tsa")
    root = CertificateAuthority.load_or_create(directory, organization="Pemkab").root_certificate
    root_key = serialization.load_pem_private_key((directory / "root-key.pem").read_bytes(), None)
    assert isinstance(root_key, rsa.RSAPrivateKey)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    now = datetime.now(UTC)
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docgen TSA (RSA)")]))
        .issuer_name(root.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    (directory / "tsa-key.pem").write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "tsa.pem").write_bytes(tsa_cert.public_bytes(serialization.Encoding.PEM))
    return directory


def test_new_tsa_keys_are_p256_and_their_tokens_validate(
    ca: CertificateAuthority, either_path: str
) -> None:
    public_key = ca.tsa_certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    message_digest = hashes.Hash(hashes.SHA256())
    message_digest.update(b"isi dokumen")
    imprint = message_digest.finalize()
    token = run(ca.timestamper().async_timestamp(imprint, "sha256"))
    signer_info = token["content"]["signer_infos"][0]
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    public_key.verify(
        signer_info["signature"].native,
        b"\x31" + signer_info["signed_attrs"].dump()[1:],  # as a SET, not [0] IMPLICIT
        ec.ECDSA(hashes.SHA256()),
    )
    # pyHanko's own check of a time stamp token: intact, trusted, for this imprint
    status = run(
        validate_tst_signed_data(
            token["content"],
            ValidationContext(trust_roots=[to_asn1_certificate(ca.root_certificate)]),
            expected_tst_imprint=lambda md_algorithm: imprint,
        )
    )
    assert status["intact"] and status["valid"]
    assert status["trust_problem_indic"] is None and status["validation_path"] is not None


def test_a_ca_with_an_rsa_tsa_keeps_it(rsa_tsa_ca_dir: Path, either_path: str) -> None:
    ca = CertificateAuthority.load_or_create(rsa_tsa_ca_dir)
    assert isinstance(ca.tsa_certificate.public_key(), rsa.RSAPublicKey)
    token = run(ca.timestamper().async_timestamp(b"\x00" * 32, "sha256"))
    signature_algorithm = token["content"]["signer_infos"][0]["signature_algorithm"]
    assert signature_algorithm["algorithm"].native == "rsassa_pkcs1v15"


def test_tsa_tokens_are_what_pyhanko_dummy_tsa_makes(
    rsa_tsa_ca_dir: Path, either_path: str
) -> None:
    """The TSA's tokens, assembled from DER pieces (fast path) or built with asn1crypto (library
    path), say what DummyTimeStamper's say (which signs with RSA only, so this compares an RSA
    TSA)."""
    ca = CertificateAuthority.load_or_create(rsa_tsa_ca_dir)
    key = serialization.load_pem_private_key((rsa_tsa_ca_dir / "tsa-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    moment = datetime(2024, 6, 27, 7, 5, 1, 123400, tzinfo=UTC)
    ours = InternalTimeStamper(ca.tsa_certificate, key, chain=ca.chain, fixed_time=moment)
    reference = DummyTimeStamper(
        tsa_cert=to_asn1_certificate(ca.tsa_certificate),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        certs_to_embed=[to_asn1_certificate(c) for c in ca.chain],  # type: ignore[arg-type]
        fixed_dt=moment,
    )
    for md_algorithm in ("sha256", "sha512"):
        digest = hashes.Hash(getattr(hashes, md_algorithm.upper())())
        digest.update(b"isi dokumen")
        nonce, request = ours.request_cms(digest.copy().finalize(), md_algorithm)
        response = ours.request_tsa_response(request)
        assert _comparable(response) == _comparable(reference.request_tsa_response(request))
        token = handle_tsp_response(response, nonce)  # granted, our nonce, parseable
        # A signature's time stamp skips the request and response: the same token otherwise.
        direct = run(ours.async_timestamp(digest.copy().finalize(), md_algorithm))
        assert _comparable_token(direct) == _comparable_token(token)
        direct_info = direct["content"]["encap_content_info"]["content"].parsed
        assert direct_info["message_imprint"].dump() == request["message_imprint"].dump()
        assert isinstance(direct_info["nonce"].native, int)
        content = token["content"]["encap_content_info"]["content"]
        assert content.parsed["policy"].dotted == DOCGEN_TSA_POLICY_OID
        # signed by the TSA over the signed attributes, which hold the TSTInfo's digest
        signer_info = token["content"]["signer_infos"][0]
        signed_attrs = signer_info["signed_attrs"]
        ca.tsa_certificate.public_key().verify(  # type: ignore[union-attr]
            signer_info["signature"].native,
            b"\x31" + signed_attrs.dump()[1:],  # as a SET, not [0] IMPLICIT
            PKCS1v15(),
            getattr(hashes, md_algorithm.upper())(),
        )
        (message_digest,) = (
            a["values"][0].native for a in signed_attrs if a["type"].native == "message_digest"
        )
        tst_digest = hashes.Hash(getattr(hashes, md_algorithm.upper())())
        tst_digest.update(content.contents)
        assert message_digest == tst_digest.finalize()


def test_tsa_tokens_are_the_same_on_both_paths(ca: CertificateAuthority, ca_dir: Path) -> None:
    """The default TSA (P-256, which DummyTimeStamper cannot stand in for): its tokens assembled
    from DER (fast path) say what those built with asn1crypto and requested through pyHanko's
    TimeStamper (library path) say, and pyHanko finds both intact and trusted."""
    key = serialization.load_pem_private_key((ca_dir / "tsa-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    moment = datetime(2024, 6, 27, 7, 5, 1, 123400, tzinfo=UTC)
    tsa = InternalTimeStamper(ca.tsa_certificate, key, chain=ca.chain, fixed_time=moment)
    context = ValidationContext(trust_roots=[to_asn1_certificate(ca.root_certificate)])
    for md_algorithm in ("sha256", "sha512"):
        digest = hashes.Hash(getattr(hashes, md_algorithm.upper())())
        digest.update(b"isi dokumen")
        imprint = digest.finalize()
        tokens: list[cms.ContentInfo] = []
        for fast in (True, False):
            signing.fast.use(fast)
            try:
                tokens.append(run(tsa.async_timestamp(imprint, md_algorithm)))
                nonce, request = tsa.request_cms(imprint, md_algorithm)
                tokens.append(handle_tsp_response(tsa.request_tsa_response(request), nonce))
            finally:
                signing.fast.use(True)
        assert len({str(_comparable_token(token)) for token in tokens}) == 1
        for token in tokens:
            status = run(
                validate_tst_signed_data(
                    token["content"],
                    context,
                    expected_tst_imprint=lambda _, imprint=imprint: imprint,
                )
            )
            assert status["intact"] and status["valid"] and status["trust_problem_indic"] is None


def _comparable_container(container: cms.ContentInfo) -> dict[str, Any]:
    """The container's content, less the time stamp tokens (serial number and time differ from
    token to token), with the certificate set in a fixed order."""
    native: dict[str, Any] = container.native
    for attribute in native["content"]["signer_infos"][0]["unsigned_attrs"]:
        attribute["values"] = [
            token["content"]["encap_content_info"]["content_type"] for token in attribute["values"]
        ]
    native["content"]["certificates"] = sorted(repr(c) for c in native["content"]["certificates"])
    return native


def test_signature_containers_are_what_pyhanko_builds(
    ca: CertificateAuthority, budi: SigningIdentity, siti: SigningIdentity
) -> None:
    """sign_pdf's containers are assembled from DER pieces kept per signer (fast path); they
    are the SignedData pyHanko's Signer.async_sign builds (library path), for each signer (never
    another's pieces): the same signed attributes, byte for byte, and so the same signature."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"isi dokumen")
    document_digest = digest.finalize()
    settings = PdfCMSSignedAttributes(signing_time=SIGNING_TIME)
    for identity in (budi, siti, budi):
        signer = _RsaKeySigner(identity)

        def sign(fast: bool, signer: Signer = signer) -> cms.ContentInfo:
            signing.fast.use(fast)
            try:
                return run(
                    signer.async_sign(
                        document_digest,
                        "sha256",
                        use_pades=True,
                        timestamper=ca.timestamper(),
                        signed_attr_settings=settings,
                    )
                )
            finally:
                signing.fast.use(True)

        ours, pyhanko = sign(fast=True), sign(fast=False)
        assert _comparable_container(ours) == _comparable_container(pyhanko)
        ours_info, pyhanko_info = (c["content"]["signer_infos"][0] for c in (ours, pyhanko))
        assert ours_info["signed_attrs"].dump() == pyhanko_info["signed_attrs"].dump()
        assert ours_info["signature"].native == pyhanko_info["signature"].native  # PKCS#1 v1.5
        serial = ours_info["sid"].chosen["serial_number"].native
        assert serial == identity.certificate.serial_number


def test_other_signature_requests_go_to_pyhanko(
    ca: CertificateAuthority, budi: SigningIdentity
) -> None:
    """A request the fast path does not assemble (here: no time stamp) is pyHanko's, fast
    paths on or off."""
    signer = _RsaKeySigner(budi)
    settings = PdfCMSSignedAttributes(signing_time=SIGNING_TIME)
    container = run(
        signer.async_sign(b"\x00" * 32, "sha256", use_pades=True, signed_attr_settings=settings)
    )
    expected = run(
        Signer.async_sign(
            signer, b"\x00" * 32, "sha256", use_pades=True, signed_attr_settings=settings
        )
    )
    assert container.dump() == expected.dump()


# -- sealed keys --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_and_blob() -> tuple[Any, bytes]:
    key = generate_private_key()
    return key, seal_private_key(key, PIN, PEPPER)


def test_seal_unseal_round_trip(key_and_blob: tuple[Any, bytes]) -> None:
    key, blob = key_and_blob
    assert key.key_size == 2048
    opened = unseal_private_key(blob, PIN, PEPPER)
    assert opened.private_numbers() == key.private_numbers()
    # Each seal uses a fresh salt and nonce.
    assert seal_private_key(key, PIN, PEPPER) != blob


def test_unseal_with_wrong_pin_or_pepper_raises_invalid_pin(
    key_and_blob: tuple[Any, bytes],
) -> None:
    _, blob = key_and_blob
    with pytest.raises(InvalidPin):
        unseal_private_key(blob, "246811", PEPPER)
    with pytest.raises(InvalidPin):
        unseal_private_key(blob, PIN, b"another-pepper-0123456789abcdef0")


def test_sealed_blob_does_not_contain_the_key_in_clear(key_and_blob: tuple[Any, bytes]) -> None:
    key, blob = key_and_blob
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    numbers = key.private_numbers()
    secrets = [numbers.d, numbers.p, numbers.q]
    assert der not in blob
    assert der[-64:] not in blob
    for secret in secrets:
        as_bytes = secret.to_bytes((secret.bit_length() + 7) // 8, "big")
        assert as_bytes[:32] not in blob
    assert PIN.encode() not in blob and PEPPER not in blob


def test_tampered_or_unknown_blobs(key_and_blob: tuple[Any, bytes]) -> None:
    _, blob = key_and_blob
    # The header (KDF parameters, salt, nonce) is authenticated: changing the salt fails the tag.
    tampered = bytearray(blob)
    tampered[10] ^= 0x01
    with pytest.raises(InvalidPin):
        unseal_private_key(bytes(tampered), PIN, PEPPER)
    with pytest.raises(KeyBlobError):
        unseal_private_key(b"\x02" + blob[1:], PIN, PEPPER)
    with pytest.raises(KeyBlobError):  # would ask scrypt for 2^40 * 1 KiB
        unseal_private_key(blob[:1] + b"\x28" + blob[2:], PIN, PEPPER)
    with pytest.raises(KeyBlobError):
        unseal_private_key(blob[:20], PIN, PEPPER)


def test_sealed_blob_keeps_the_kdf_cost(key_and_blob: tuple[Any, bytes]) -> None:
    # scrypt N=2^14, r=8, p=1 is tuned for a ~30-50 ms unseal (bench/signing_steps.py measures
    # it); cheaper parameters in the (authenticated) header would mean the KDF got weakened.
    _, blob = key_and_blob
    log2_n, r, p = blob[1], blob[2], blob[3]
    assert log2_n >= 14 and r >= 8 and p >= 1


# -- signing ------------------------------------------------------------------------------


def test_waktu_is_formatted_in_wib() -> None:
    assert format_waktu_wib(SIGNING_TIME) == "27 Juni 2024 14:05 WIB"
    assert (
        format_waktu_wib(datetime(2024, 12, 31, 17, 30, tzinfo=UTC)) == "1 Januari 2025 00:30 WIB"
    )
    with pytest.raises(ValueError):
        format_waktu_wib(datetime(2024, 6, 27, 7, 5))


def test_waktu_is_formatted_in_each_zone() -> None:
    assert format_waktu(SIGNING_TIME) == "27 Juni 2024 14:05 WIB"
    assert format_waktu(SIGNING_TIME, Zona.WITA) == "27 Juni 2024 15:05 WITA"
    assert format_waktu(SIGNING_TIME, Zona.WIT) == "27 Juni 2024 16:05 WIT"
    # 16:30 UTC on New Year's Eve: still 2024 in WIB, already 2025 in WIT.
    eve = datetime(2024, 12, 31, 16, 30, tzinfo=UTC)
    assert format_waktu(eve, Zona.WIB) == "31 Desember 2024 23:30 WIB"
    assert format_waktu(eve, Zona.WITA) == "1 Januari 2025 00:30 WITA"
    assert format_waktu(eve, Zona.WIT) == "1 Januari 2025 01:30 WIT"
    assert Zona("WITA").tzinfo.utcoffset(None) == timedelta(hours=8)


def sign_prepared(
    ca: CertificateAuthority, identity: SigningIdentity, look: SignatureAppearance, at: datetime
) -> bytes:
    """:func:`prepared_pdf` signed into its first field at ``at``."""
    return run(
        sign_pdf(
            prepared_pdf(),
            field_name="ttd_pihak_pertama",
            identity=identity,
            appearance=look,
            timestamper=ca.timestamper(),
            signing_time=at,
        )
    )


@pytest.mark.parametrize(
    ("zona", "waktu"),
    [(Zona.WITA, "27 Juni 2024 15:05 WITA"), (Zona.WIT, "27 Juni 2024 16:05 WIT")],
)
def test_the_appearance_writes_the_time_in_its_zone(
    ca: CertificateAuthority, budi: SigningIdentity, tmp_path: Path, zona: Zona, waktu: str
) -> None:
    look = SignatureAppearance(BUDI_LOOK.name, BUDI_LOOK.jabatan, VERIFY_URL, zona)
    signed = sign_prepared(ca, budi, look, SIGNING_TIME)
    text = raw_text(signed, tmp_path)
    assert waktu in text and "WIB" not in text, text


def test_signed_pdf_is_an_incremental_pades_signature(prepared: bytes, signed_once: bytes) -> None:
    assert signed_once.startswith(prepared)
    reader = PdfFileReader(io.BytesIO(signed_once))
    (signature,) = reader.embedded_regular_signatures
    assert signature.field_name == "ttd_pihak_pertama"
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.sig_object["/Reason"] == "Pihak Pertama Nota Kesepahaman"
    assert signature.sig_object["/Location"] == "Sukamaju"
    assert signature.md_algorithm == "sha256"
    assert signature.self_reported_timestamp == SIGNING_TIME
    embedded_subjects = {c.subject.native["common_name"] for c in signature.other_embedded_certs}
    assert "docgen Root CA" in embedded_subjects
    signed_attrs = {a["type"].native for a in signature.signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in signed_attrs  # CAdES / PAdES baseline
    unsigned_attrs = {a["type"].native for a in signature.signer_info["unsigned_attrs"]}
    assert "signature_time_stamp_token" in unsigned_attrs


def test_sign_then_validate(signed_once: bytes, ca: CertificateAuthority) -> None:
    report = validate_pdf(signed_once, [ca.root_certificate])
    assert report.valid
    sig = only(report, "ttd_pihak_pertama")
    assert sig.signer == "Drs. BUDI SANTOSO, M.Si."
    assert sig.intact and sig.trusted and not sig.modified_after
    assert sig.reason == "Tanda tangan sah"
    assert sig.timestamp is not None
    # The token's time is the TSA's clock, not the claimed signing time.
    assert abs(datetime.now(UTC) - sig.timestamp) < timedelta(minutes=10)


def test_pdfsig_reports_valid_and_trusted(signed_once: bytes, nss_db: str, tmp_path: Path) -> None:
    report = pdfsig(signed_once, tmp_path, nss_db)
    section = pdfsig_sections(report)["ttd_pihak_pertama"]
    assert "Signature Validation: Signature is Valid." in section, report
    assert "Certificate Validation: Certificate is Trusted." in section, report
    assert "ETSI.CAdES.detached" in section and "SHA-256" in section
    # Without our root pdfsig still finds the signature intact, but not trusted.
    untrusted = pdfsig_sections(pdfsig(signed_once, tmp_path))["ttd_pihak_pertama"]
    assert "Signature is Valid." in untrusted
    assert "Certificate is Trusted." not in untrusted


def test_visible_appearance_renders(prepared: bytes, signed_once: bytes, tmp_path: Path) -> None:
    dpi = 150
    before = field_region(render(prepared, tmp_path, dpi), FIELD_1, dpi)
    after_page = render(signed_once, tmp_path, dpi)
    after = field_region(after_page, FIELD_1, dpi)
    after.save(tmp_path / "appearance.png")
    assert dark_fraction(before) == 0.0
    assert dark_fraction(after) > 0.05
    # The second field is still empty.
    assert dark_fraction(field_region(after_page, FIELD_2, dpi)) == 0.0
    codes = [
        r.text for r in zxingcpp.read_barcodes(after) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert codes == [VERIFY_URL]


def test_appearance_draws_the_qr_symbol_of_its_own_url(
    prepared: bytes, ca: CertificateAuthority, budi: SigningIdentity, tmp_path: Path
) -> None:
    # signing.fast.appearance overrides QRStamp._qr_xobject (private in pyHanko) to draw the symbol
    # from signing.fast.qr's cache: pin that pyHanko still has it and still calls it for an
    # appearance (tests/test_stamping_paths.py pins more of it).
    assert "_qr_xobject" in vars(QRStamp)
    url = f"https://ttd.example.go.id/v/{secrets.token_urlsafe(18)}"
    misses = signing.fast.qr._cached_matrix.cache_info().misses
    signed = run(
        sign_pdf(
            prepared,
            field_name="ttd_pihak_pertama",
            identity=budi,
            appearance=SignatureAppearance(BUDI_LOOK.name, BUDI_LOOK.jabatan, url),
            timestamper=ca.timestamper(),
        )
    )
    assert signing.fast.qr._cached_matrix.cache_info().misses == misses + 1
    field = field_region(render(signed, tmp_path, 150), FIELD_1, 150)
    assert [r.text for r in zxingcpp.read_barcodes(field)] == [url]


def test_appearances_of_two_documents_show_their_own_urls(
    ca: CertificateAuthority, budi: SigningIdentity, siti: SigningIdentity, tmp_path: Path
) -> None:
    # The QR form of an appearance is kept per URL: two documents with their own verification
    # URLs, signed in turns in one process, each show their own URL in every appearance (the
    # same form twice in one document), never the other's.
    urls = [f"https://ttd.example.go.id/v/{secrets.token_urlsafe(18)}" for _ in range(2)]
    pdfs = [marked_pdf(url) for url in urls]
    fields = (("ttd_pihak_pertama", budi, BUDI_LOOK), ("ttd_pihak_kedua", siti, SITI_LOOK))
    for field, who, look in fields:
        for ix, url in enumerate(urls):
            appearance = SignatureAppearance(look.name, look.jabatan, url)
            pdfs[ix] = run(
                sign_pdf(
                    pdfs[ix],
                    field_name=field,
                    identity=who,
                    appearance=appearance,
                    timestamper=ca.timestamper(),
                )
            )
    drawn = []
    for pdf, url in zip(pdfs, urls, strict=True):
        report = validate_pdf(pdf, [ca.root_certificate])
        assert report.valid and len(report.signatures) == 2, report
        page = render(pdf, tmp_path, 150)
        forms = [appearance_qr(pdf, field) for field, _, _ in fields]
        assert forms[0].data == forms[1].data
        drawn.append(forms[0].data)
        for box in (FIELD_1, FIELD_2):
            assert [r.text for r in zxingcpp.read_barcodes(field_region(page, box, 150))] == [url]
    assert drawn[0] != drawn[1]


def test_the_qr_form_kept_for_a_url_is_the_one_drawn_for_it() -> None:
    url = f"https://ttd.example.go.id/v/{secrets.token_urlsafe(18)}"
    drawing, size = signing.fast.qr.qr_drawing(url, border=4, box_size=10)
    assert size == (signing.fast.qr.qr_matrix(url).size + 8) * 10
    expected = init_xobject_dictionary(drawing, size, size)
    expected.compress()
    stamp = _KeptQRStamp.__new__(_KeptQRStamp)  # just what _qr_xobject reads
    stamp.url, stamp.writer = url, PdfFileWriter()
    for _ in range(2):  # drawn, then kept
        ref, side = stamp._qr_xobject()
        form = ref.get_object()
        assert side == size
        assert dict(form) == dict(expected) and form.encoded_data == expected.encoded_data


def test_appearance_shows_its_url_whatever_the_mark_says(
    ca: CertificateAuthority, budi: SigningIdentity, tmp_path: Path
) -> None:
    marked_for, shown = (f"https://ttd.example.go.id/v/{secrets.token_urlsafe(18)}" for _ in "ab")
    signed = run(
        sign_pdf(
            marked_pdf(marked_for),
            field_name="ttd_pihak_pertama",
            identity=budi,
            appearance=SignatureAppearance(BUDI_LOOK.name, BUDI_LOOK.jabatan, shown),
            timestamper=ca.timestamper(),
        )
    )
    field = field_region(render(signed, tmp_path, 150), FIELD_1, 150)
    assert [r.text for r in zxingcpp.read_barcodes(field)] == [shown]


def test_appearance_text(signed_once: bytes, tmp_path: Path) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_once)
    text = raw_text(signed_once, tmp_path)
    for expected in (
        "Ditandatangani secara elektronik oleh",
        "Drs. BUDI SANTOSO, M.Si.",
        "Camat Sukamaju",
        "27 Juni 2024 14:05 WIB",
    ):
        assert expected in text, text
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "LiberationSans" in fonts, fonts  # embedded TrueType, not a standard-14 fallback


def appearance_font_program(pdf: bytes, field: str) -> bytes:
    """The TrueType program embedded for the text of ``field``'s appearance."""
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    (sig,) = [s for s in signatures if s.field_name == field]
    font = sig.sig_field["/AP"]["/N"]["/Resources"]["/Font"]["/F1"]
    descriptor = font["/DescendantFonts"][0]["/FontDescriptor"]
    return bytes(descriptor["/FontFile2"].data)


def test_appearances_at_other_times_embed_one_subset(
    ca: CertificateAuthority, budi: SigningIdentity, tmp_path: Path
) -> None:
    # One signer's appearances differ in the digits of their time, and embed every digit: the
    # same subset (compressed once). The name's letters outside that set are embedded too.
    look = SignatureAppearance("Élodie Ñuñez Çakır, S.H.", "Camat Sukamaju", VERIFY_URL)
    times = {SIGNING_TIME: "27 Juni 2024 14:05 WIB"}
    times[SIGNING_TIME + timedelta(days=1, minutes=53)] = "28 Juni 2024 14:58 WIB"
    programs = []
    for moment, waktu in times.items():
        signed = sign_prepared(ca, budi, look, moment)
        assert validate_pdf(signed, [ca.root_certificate]).valid
        text = raw_text(signed, tmp_path)
        assert look.name in text and waktu in text, text
        program = appearance_font_program(signed, "ttd_pihak_pertama")
        font = TTFont(io.BytesIO(program), checkChecksums=2)  # raises on a wrong checksum
        glyf = font["glyf"]
        outlined = {chr(c) for c, name in font.getBestCmap().items() if glyf[name].numberOfContours}
        assert set(look.name + waktu + string.digits) - {" "} <= outlined
        programs.append(program)
    assert programs[0] == programs[1]


def test_signing_errors(
    prepared: bytes, signed_once: bytes, ca: CertificateAuthority, budi: SigningIdentity
) -> None:
    def attempt(pdf: bytes, field: str) -> bytes:
        return run(
            sign_pdf(
                pdf,
                field_name=field,
                identity=budi,
                appearance=BUDI_LOOK,
                timestamper=ca.timestamper(),
            )
        )

    with pytest.raises(SignatureFieldNotFound) as missing:
        attempt(prepared, "ttd_saksi")
    assert missing.value.field_name == "ttd_saksi"
    with pytest.raises(SignatureFieldAlreadySigned):
        attempt(signed_once, "ttd_pihak_pertama")
    with pytest.raises(InvalidPdf):
        attempt(b"this is not a pdf", "ttd_pihak_pertama")
    with pytest.raises(ValueError):
        run(
            sign_pdf(
                prepared,
                field_name="ttd_pihak_pertama",
                identity=budi,
                appearance=BUDI_LOOK,
                timestamper=ca.timestamper(),
                signing_time=datetime(2024, 6, 27, 14, 5),
            )
        )


def contents_room(pdf: bytes, field: str) -> tuple[int, int]:
    """(bytes reserved for the signature container, bytes the container takes)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    (sig,) = (s for s in reader.embedded_signatures if s.field_name == field)
    return len(sig.pkcs7_content), len(sig.signed_data.dump()) + 19  # ContentInfo around it


def test_signature_room_is_computed_not_doubled(signed_once: bytes) -> None:
    # pyHanko's own estimate (a dry-run signature) leaves half as much again unused; the room
    # computed from the certificates and the TSA token is close to what the container takes.
    reserved, used = contents_room(signed_once, "ttd_pihak_pertama")
    assert used <= reserved < 1.2 * used


def test_too_little_room_signs_again_instead_of_breaking_the_file(
    prepared: bytes,
    ca: CertificateAuthority,
    budi: SigningIdentity,
    nss_db: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def attempt(bytes_reserved: int) -> bytes:
        return run(
            sign_pdf(
                prepared,
                field_name="ttd_pihak_pertama",
                identity=budi,
                appearance=BUDI_LOOK,
                timestamper=ca.timestamper(),
                bytes_reserved=bytes_reserved,
            )
        )

    with caplog.at_level(logging.WARNING, logger="signing.pades.sign"):
        signed = attempt(64)
    assert "signing field 'ttd_pihak_pertama' again" in caplog.text
    reserved, used = contents_room(signed, "ttd_pihak_pertama")
    assert used <= reserved
    report = validate_pdf(signed, [ca.root_certificate])
    assert report.valid, report
    section = pdfsig_sections(pdfsig(signed, tmp_path, nss_db))["ttd_pihak_pertama"]
    assert "Signature Validation: Signature is Valid." in section
    for odd in (0, 6001, -2):
        with pytest.raises(ValueError):
            attempt(odd)


# -- validation ---------------------------------------------------------------------------


def test_second_signature_keeps_the_first_valid(
    signed_twice: bytes, ca: CertificateAuthority, nss_db: str, tmp_path: Path
) -> None:
    report = validate_pdf(signed_twice, [ca.root_certificate])
    assert report.valid, report
    first, second = only(report, "ttd_pihak_pertama"), only(report, "ttd_pihak_kedua")
    assert not first.modified_after and first.intact and first.trusted
    assert second.signer == "SITI AMINAH, S.H." and second.timestamp is not None
    # A long jabatan is wrapped, not shrunk with the whole stamp into illegibility.
    lines = raw_text(signed_twice, tmp_path).splitlines()
    assert "Ketua Panitia Pengawas Pemilihan Umum" in lines
    assert "Kecamatan Sukamaju Kabupaten Sidoarjo" in lines
    dpi = 150
    second_field = field_region(render(signed_twice, tmp_path, dpi), FIELD_2, dpi)
    assert [r.text for r in zxingcpp.read_barcodes(second_field)] == [VERIFY_URL]
    sections = pdfsig_sections(pdfsig(signed_twice, tmp_path, nss_db))
    for field in ("ttd_pihak_pertama", "ttd_pihak_kedua"):
        assert "Signature Validation: Signature is Valid." in sections[field]
        assert "Certificate Validation: Certificate is Trusted." in sections[field]


def test_dss_and_document_timestamp_are_not_modifications(
    signed_twice: bytes, ca: CertificateAuthority
) -> None:
    """What the service appends after the last signer (B-LTA) leaves every signature valid."""

    async def archive() -> bytes:
        context = ValidationContext(
            trust_roots=[to_asn1_certificate(ca.root_certificate)], allow_fetching=False
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(signed_twice))
        output = await PdfTimeStamper(ca.timestamper()).async_timestamp_pdf(
            writer, "sha256", validation_context=context
        )
        return bytes(output.getvalue())

    archived = run(archive())
    assert b"/DSS" in archived[len(signed_twice) :]
    report = validate_pdf(archived, [ca.root_certificate])
    assert report.valid, report
    assert len(report.signatures) == 2
    assert not any(s.modified_after for s in report.signatures)


def flip_byte_in_page_text(pdf: bytes) -> bytes:
    at = pdf.index(PAGE_TEXT) + 6  # "PAKTA INTEGRITAS": the I becomes H
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]


def test_flipped_byte_breaks_the_signature(
    signed_once: bytes, ca: CertificateAuthority, nss_db: str, tmp_path: Path
) -> None:
    tampered = flip_byte_in_page_text(signed_once)
    assert tampered != signed_once
    report = validate_pdf(tampered, [ca.root_certificate])
    assert not report.valid
    sig = only(report, "ttd_pihak_pertama")
    assert not sig.intact
    assert "tidak utuh" in sig.reason
    section = pdfsig_sections(pdfsig(tampered, tmp_path, nss_db))["ttd_pihak_pertama"]
    assert "Signature is Valid." not in section, section


def test_flipped_byte_under_the_second_signature_breaks_both(
    signed_twice: bytes, ca: CertificateAuthority
) -> None:
    report = validate_pdf(flip_byte_in_page_text(signed_twice), [ca.root_certificate])
    assert not report.valid
    assert all(not s.intact for s in report.signatures)


def test_page_content_added_after_signing_is_detected(
    signed_once: bytes, signed_twice: bytes, ca: CertificateAuthority
) -> None:
    for signed in (signed_once, signed_twice):
        changed = add_page_text(signed, b"BATAL")
        report = validate_pdf(changed, [ca.root_certificate])
        assert not report.valid
        for sig in report.signatures:
            assert sig.intact  # the signed bytes are untouched ...
            assert sig.modified_after  # ... but the document shown is not what was signed
            assert sig.reason == "Dokumen telah diubah setelah ditandatangani"


def test_garbled_signature_container_is_reported_not_raised(
    signed_twice: bytes, ca: CertificateAuthority
) -> None:
    # Overwrite the start of the first /Contents hex string (outside the signed byte range).
    start = signed_twice.index(b"/Contents <") + len(b"/Contents <")
    garbled = signed_twice[:start] + b"00" * 16 + signed_twice[start + 32 :]
    report = validate_pdf(garbled, [ca.root_certificate])
    assert not report.valid
    assert len(report.signatures) == 2
    first, second = only(report, "ttd_pihak_pertama"), only(report, "ttd_pihak_kedua")
    assert not first.intact and first.reason == "Tanda tangan rusak atau tidak dapat dibaca"
    # The second signature covers the first one's bytes, so it no longer matches either.
    assert not second.intact and "tidak utuh" in second.reason


def test_untrusted_root(signed_once: bytes, tmp_path: Path) -> None:
    stranger = CertificateAuthority.load_or_create(tmp_path / "other-ca")
    report = validate_pdf(signed_once, [stranger.root_certificate])
    assert not report.valid
    sig = only(report, "ttd_pihak_pertama")
    assert sig.intact and not sig.trusted and not sig.modified_after
    assert sig.reason == "Sertifikat tidak dipercaya"
    assert validate_pdf(signed_once, []).valid is False


def test_unsigned_pdf_has_no_valid_signatures(prepared: bytes, ca: CertificateAuthority) -> None:
    report = validate_pdf(prepared, [ca.root_certificate])
    assert report.signatures == () and not report.valid


def broken_xref(pdf: bytes) -> bytes:
    # Point startxref into the middle of the file.
    at = pdf.rindex(b"startxref")
    return pdf[:at] + b"startxref\n17\n%%EOF\n"


@pytest.mark.parametrize(
    "damage",
    [
        lambda pdf: b"",
        lambda pdf: b"%PDF-1.7\n",
        lambda pdf: os.urandom(4096),
        lambda pdf: b"%PDF-1.7\n" + os.urandom(4096),
        lambda pdf: pdf[: len(pdf) // 2],
        lambda pdf: pdf[:-40],
        broken_xref,
        lambda pdf: pdf.replace(b"xref", b"xrXf"),
    ],
    ids=[
        "empty",
        "header-only",
        "garbage",
        "header-then-garbage",
        "half",
        "tail-cut",
        "bad-startxref",
        "no-xref",
    ],
)
def test_unreadable_pdf_raises_invalid_pdf(
    damage: Callable[[bytes], bytes], signed_twice: bytes, ca: CertificateAuthority
) -> None:
    with pytest.raises(InvalidPdf):
        validate_pdf(damage(signed_twice), [ca.root_certificate])


def test_tools_are_installed() -> None:
    # The independent checks above need poppler-utils and libnss3-tools (installed by `make test`).
    for tool in ("pdfsig", "pdftoppm", "pdftotext", "pdffonts", "certutil"):
        assert shutil.which(tool), f"{tool} is missing"
