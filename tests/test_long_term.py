"""Several signers, certification, CRLs and long-term (PAdES B-LTA) signatures.

Real keys, certificates, CRLs, time stamps and PDFs; pyHanko and poppler's pdfsig as
validators. Signature time stamps come from the internal TSA with its clock set half an hour
back, so that a certificate can be revoked (or expire) between signing and now.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.ca import CertificateAuthority, RevokedCertificate
from signing.errors import LongTermValidationFailed, SignatureCreationFailed
from signing.keys import generate_private_key
from signing.long_term import add_long_term_validation
from signing.pades import SigningIdentity, sign_pdf
from signing.tsa import InternalTimeStamper
from tests.test_signing import (
    BUDI_LOOK,
    SITI_LOOK,
    prepared_pdf,
    run,
)

CRL_URL = "http://ttd.example.go.id/crl/root.crl"
FIRST, SECOND = "ttd_pihak_pertama", "ttd_pihak_kedua"


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca")


@pytest.fixture(scope="module")
def ca(ca_dir: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(ca_dir, organization="Pemkab Sidoarjo")


@pytest.fixture(scope="module")
def signed_at() -> datetime:
    """When the signature time stamps say the signers signed: half an hour ago."""
    return datetime.now(UTC) - timedelta(minutes=30)


@pytest.fixture(scope="module")
def past_tsa(ca: CertificateAuthority, ca_dir: Path, signed_at: datetime) -> InternalTimeStamper:
    """The CA's own TSA (same certificate and key) with its clock at ``signed_at``."""
    key = serialization.load_pem_private_key((ca_dir / "tsa-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
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


def dss_of(pdf: bytes) -> tuple[list[bytes], list[bytes]]:
    """The DER of every certificate and CRL in the document's /DSS dictionary."""
    dss = PdfFileReader(io.BytesIO(pdf)).root["/DSS"]
    return (
        [ref.get_object().data for ref in dss["/Certs"]],
        [ref.get_object().data for ref in dss["/CRLs"]],
    )


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


def test_only_the_first_signature_can_certify(
    certified: bytes, siti: SigningIdentity, ca: CertificateAuthority
) -> None:
    with pytest.raises(SignatureCreationFailed):
        sign(certified, SECOND, siti, ca.timestamper(), certify=True)


# -- B-LTA ----------------------------------------------------------------------------------


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
