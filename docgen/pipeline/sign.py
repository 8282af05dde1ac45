"""Sign: one signature into its field as an incremental update, and the B-LTA revision after
the last one. Bytes in, bytes out: the bulk worker processes run it too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign.timestamps.api import TimeStamper

from docgen.registry.statuses import RevisionKind
from signing.pades import (
    SignatureAppearance,
    SigningIdentity,
    add_long_term_validation,
    sign_pdf,
)

__all__ = ["SignatureRequest", "SigningKey", "Trust", "apply_signature"]


@dataclass(frozen=True)
class SigningKey:
    """An unsealed signer key on its way to a worker: DER, never written anywhere."""

    private_key_der: bytes
    certificate_der: bytes

    @classmethod
    def of(cls, private_key: RSAPrivateKey, certificate: x509.Certificate) -> SigningKey:
        return cls(
            private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            certificate.public_bytes(serialization.Encoding.DER),
        )


@dataclass(frozen=True)
class Trust:
    """What a B-LTA revision embeds besides the signer's chain: the trust roots and the current
    CRLs, as DER (picklable, for the worker processes)."""

    roots_der: tuple[bytes, ...]
    crls_der: tuple[bytes, ...]


@dataclass(frozen=True)
class SignatureRequest:
    """What signing one slot of one document needs besides the key: picklable, so a worker
    process can do it (see docgen.pipeline.workers)."""

    field_name: str
    appearance: SignatureAppearance
    reason: str
    certify: bool  # the first signature certifies: afterwards only further signatures
    archive: bool  # the last signature is followed by the B-LTA revision


async def apply_signature(
    pdf: bytes,
    request: SignatureRequest,
    identity: SigningIdentity,
    timestamper: TimeStamper,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
) -> list[tuple[RevisionKind, bytes]]:
    """The new revisions, (kind, PDF): the signed one, then the B-LTA one after the last signer."""
    signed = await sign_pdf(
        pdf,
        field_name=request.field_name,
        identity=identity,
        appearance=request.appearance,
        timestamper=timestamper,
        reason=request.reason,
        certify=request.certify,
    )
    outputs = [(RevisionKind.SIGNED, signed)]
    if request.archive:
        long_term = await add_long_term_validation(
            signed, trust_roots=trust_roots, crls=crls, timestamper=timestamper
        )
        outputs.append((RevisionKind.LONG_TERM, long_term))
    return outputs
