"""Keys and certificates: the internal CA (signer certificates, CRLs), its time stamping
authority, and signer keys sealed under a PIN."""

from signing.pki.ca import (
    DOCUMENT_SIGNING_EKU,
    CertificateAuthority,
    RevokedCertificate,
    SealedAuthority,
)
from signing.pki.keys import generate_private_key, seal_private_key, unseal_private_key
from signing.pki.tsa import InternalTimeStamper

__all__ = [
    "DOCUMENT_SIGNING_EKU",
    "CertificateAuthority",
    "InternalTimeStamper",
    "RevokedCertificate",
    "SealedAuthority",
    "generate_private_key",
    "seal_private_key",
    "unseal_private_key",
]
