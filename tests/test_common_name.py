"""Signer names of any length get a certificate: X.509 allows 64 characters in a common name."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from signing.pki import CertificateAuthority, generate_private_key
from signing.pki.ca import common_name

LONG = "Prof. Dr. Ir. H. Muhammad Abdurrahman Syaifuddin Wicaksono, S.H., M.Si., M.Kn., CPL."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Drs. BUDI SANTOSO, M.Si.", "Drs. BUDI SANTOSO, M.Si."),
        ("  Drs.  BUDI   SANTOSO,  M.Si. ", "Drs. BUDI SANTOSO, M.Si."),
        (LONG, "Prof. Dr. Ir. H. Muhammad Abdurrahman Syaifuddin Wicaksono, S.H."),
        ("Budi " * 30, ("Budi " * 13).strip()),
        ("A" * 150, "A" * 64),
    ],
)
def test_common_name_keeps_what_fits(name: str, expected: str) -> None:
    assert common_name(name) == expected
    assert len(common_name(name)) <= 64


def test_a_long_name_gets_a_certificate(tmp_path: Path) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca", organization="Pemkab Sukamaju")
    certificate = ca.issue_signer_certificate(
        generate_private_key().public_key(),
        name=LONG + " " + "x" * 100,
        nip=None,
        jabatan="Kepala Dinas",
        unit="Dinas Pendidikan",
    )
    [cn] = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert cn.value == "Prof. Dr. Ir. H. Muhammad Abdurrahman Syaifuddin Wicaksono, S.H."
