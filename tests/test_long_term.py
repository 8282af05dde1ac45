"""Several signers, certification, CRLs and long-term (PAdES B-LTA) signatures.

Real keys, certificates and CRLs from the internal CA.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from signing.ca import CertificateAuthority, RevokedCertificate
from signing.keys import generate_private_key
from signing.pades import SigningIdentity

CRL_URL = "http://ttd.example.go.id/crl/root.crl"


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca")


@pytest.fixture(scope="module")
def ca(ca_dir: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(ca_dir, organization="Pemkab Sidoarjo")


def identity(ca: CertificateAuthority, name: str, jabatan: str) -> SigningIdentity:
    key = generate_private_key()
    cert = ca.issue_signer_certificate(
        key.public_key(), name=name, nip=None, jabatan=jabatan, unit="Sukamaju", crl_url=CRL_URL
    )
    return SigningIdentity(private_key=key, certificate=cert, chain=ca.chain)


@pytest.fixture(scope="module")
def budi(ca: CertificateAuthority) -> SigningIdentity:
    return identity(ca, "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju")


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


# -- B-LTA ----------------------------------------------------------------------------------


# -- changes after signing --------------------------------------------------------------


# -- revocation ---------------------------------------------------------------------------


# -- timings ------------------------------------------------------------------------------
