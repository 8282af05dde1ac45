"""CMS structures assembled from DER pieces: PAdES signature containers and RFC 3161 tokens.

Building a SignedData as asn1crypto objects re-encodes its parts several times over (every
retagging, copy and dump walks the children again, certificates included). Here the parts that
depend only on the signer or the time stamping authority (certificates, identifiers, attributes,
algorithm identifiers) are encoded once by asn1crypto and kept; each container is then glued
from them with :mod:`signing.fast.der`, which takes microseconds.

Measured share (``bench/fast_signing.py``: CPU time, the median of 200 calls after a warm-up;
shares of the bulk run's ~45 ms of CPU per document, all processes):

- signature container, RSA-2048 signature included, time stamp token not: ~0.8 ms here against
  ~17 ms for pyHanko's ``Signer.async_sign``; 3 per document, ~48 ms saved per document, more
  than the bulk run's CPU per document in all;
- time stamp token (P-256), signature included: ~0.17 ms here against ~7 ms for asn1crypto's
  through pyHanko's request and response (``TimeStamper.async_timestamp``); 4 per document (one
  per signature, one document time stamp), ~27 ms saved per document, ~60 %.

The library paths sit beside each use: ``_RsaKeySigner`` (:mod:`signing.pades.sign`) falls
back to pyHanko's ``Signer.async_sign`` and :class:`signing.pki.tsa.InternalTimeStamper` to
asn1crypto when :func:`signing.fast.enabled` is False; tests/test_signing.py compares both
paths' structures, tests/test_long_term.py validates what both sign in pyHanko and pdfsig.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.sign.general import (
    as_signing_certificate,
    as_signing_certificate_v2,
    simple_cms_attribute,
)
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing.fast import der

__all__ = [
    "SignerParts",
    "TokenParts",
    "granted_response",
    "message_imprint",
    "pades_signed_attributes",
    "pades_signed_data",
    "signer_parts",
    "timestamp_token",
    "token_parts",
]


# -- PAdES signature containers -----------------------------------------------------------


@dataclass(frozen=True)
class SignerParts:
    """The DER of everything in a signer's containers that depends only on the signer."""

    signer_id: bytes
    """IssuerAndSerialNumber of the signing certificate."""
    signing_certificate_v2_attr: bytes
    certificates: bytes
    """[0] IMPLICIT CertificateSet: the signer's certificate and the chain (roots included)."""


@functools.lru_cache(maxsize=256)  # signers active in a bulk run; each entry a few KB
def signer_parts(certificate: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> SignerParts:
    """Keyed by the certificate and the chain (``cryptography`` certificates compare and hash
    by their DER), so a signer never gets another's."""
    signing_cert = _asn1_certificate(certificate)
    return SignerParts(
        signer_id=cms.IssuerAndSerialNumber(
            {"issuer": signing_cert.issuer, "serial_number": signing_cert.serial_number}
        ).dump(),
        signing_certificate_v2_attr=simple_cms_attribute(
            "signing_certificate_v2", as_signing_certificate_v2(signing_cert)
        ).dump(),
        certificates=_certificate_set([signing_cert, *(_asn1_certificate(c) for c in chain)]),
    )


def pades_signed_attributes(parts: SignerParts, data_digest: bytes) -> bytes:
    """The signed attributes of a PAdES signature over a document whose SHA-256 digest is
    ``data_digest``, as the DER SET OF that the signer signs: content type, message digest and
    signingCertificateV2 (no signing time: PAdES claims it in the signature dictionary's /M)."""
    return der.set_of(
        der.SET,
        [
            _CONTENT_TYPE_DATA_ATTR,
            _attribute(_MESSAGE_DIGEST, der.element(der.OCTET_STRING, data_digest)),
            parts.signing_certificate_v2_attr,
        ],
    )


def pades_signed_data(
    parts: SignerParts, signed_attributes: bytes, signature: bytes, timestamp_token: bytes
) -> bytes:
    """The ContentInfo (SignedData, detached, SHA-256 with RSA) of a PAdES signature: the
    signed attributes from :func:`pades_signed_attributes`, their ``signature``, and the DER of
    the time stamp token over that signature as the unsigned attribute."""
    signer_info = der.element(
        der.SEQUENCE,
        _V1,
        parts.signer_id,
        _SHA256,
        # [0] IMPLICIT SET OF Attribute: the same encoding, another tag
        bytes((der.CONTEXT_0,)) + signed_attributes[1:],
        _SHA256_RSA,
        der.element(der.OCTET_STRING, signature),
        der.set_of(der.CONTEXT_1, [_attribute(_TIME_STAMP_TOKEN, timestamp_token)]),
    )
    signed_data = der.element(
        der.SEQUENCE,
        _V1,
        der.element(der.SET, _SHA256),
        _DATA_CONTENT_INFO,
        parts.certificates,
        der.element(der.SET, signer_info),
    )
    return der.element(der.SEQUENCE, _SIGNED_DATA, der.element(der.CONTEXT_0, signed_data))


# -- RFC 3161 time stamp tokens -----------------------------------------------------------


@dataclass(frozen=True)
class TokenParts:
    """The DER of everything in a token that depends only on the TSA and the digest algorithm."""

    md_algorithm: str
    policy: bytes
    tsa_name: bytes
    """TSTInfo's ``tsa`` field: [0] EXPLICIT GeneralName (the TSA's subject)."""
    content_type_attr: bytes
    signing_certificate_attr: bytes
    signer_id: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    certificates: bytes


def token_parts(
    tsa_cert: asn1_x509.Certificate,
    certs_to_embed: Iterable[asn1_x509.Certificate],
    *,
    md_algorithm: str,
    signature_algorithm: algos.SignedDigestAlgorithm,
    policy: str,
) -> TokenParts:
    """The parts of the tokens that ``tsa_cert``'s TSA signs with ``md_algorithm`` and
    ``signature_algorithm`` under the TSA policy OID ``policy``."""
    return TokenParts(
        md_algorithm=md_algorithm,
        policy=tsp.ObjectIdentifier(policy).dump(),
        tsa_name=der.element(
            der.CONTEXT_0,
            asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject).dump(),
        ),
        content_type_attr=simple_cms_attribute("content_type", "tst_info").dump(),
        signing_certificate_attr=simple_cms_attribute(
            "signing_certificate", as_signing_certificate(tsa_cert)
        ).dump(),
        signer_id=cms.IssuerAndSerialNumber(
            {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
        ).dump(),
        digest_algorithm=algos.DigestAlgorithm({"algorithm": md_algorithm}).dump(),
        signature_algorithm=signature_algorithm.dump(),
        certificates=_certificate_set([*certs_to_embed, tsa_cert]),
    )


def message_imprint(parts: TokenParts, message_digest: bytes) -> bytes:
    """The DER of the MessageImprint of ``message_digest`` (made with ``parts``' algorithm)."""
    return der.element(
        der.SEQUENCE, parts.digest_algorithm, der.element(der.OCTET_STRING, message_digest)
    )


def timestamp_token(
    parts: TokenParts,
    *,
    imprint: bytes,
    serial_number: int,
    moment: datetime,
    nonce: int | None,
    sign: Callable[[bytes], bytes],
) -> bytes:
    """The DER of a token (ContentInfo) for the MessageImprint ``imprint`` (DER), made at
    ``moment`` (aware), with ``nonce`` if not None; ``sign`` signs the DER of the signed
    attributes (as a SET OF) with the TSA's key."""
    tst_info = der.element(
        der.SEQUENCE,
        _V1,
        parts.policy,
        imprint,
        core.Integer(serial_number).dump(),
        core.GeneralizedTime(moment).dump(),
        b"" if nonce is None else core.Integer(nonce).dump(),
        parts.tsa_name,
    )
    digest = hashes.Hash(get_pyca_cryptography_hash(parts.md_algorithm))
    digest.update(tst_info)
    signed_attributes = der.set_of(
        der.SET,
        [
            parts.content_type_attr,
            _attribute(_SIGNING_TIME, cms.Time({"utc_time": core.UTCTime(moment)}).dump()),
            parts.signing_certificate_attr,
            _attribute(_MESSAGE_DIGEST, der.element(der.OCTET_STRING, digest.finalize())),
        ],
    )
    signer_info = der.element(
        der.SEQUENCE,
        _V1,
        parts.signer_id,
        parts.digest_algorithm,
        bytes((der.CONTEXT_0,)) + signed_attributes[1:],  # [0] IMPLICIT SET OF Attribute
        parts.signature_algorithm,
        der.element(der.OCTET_STRING, sign(signed_attributes)),
    )
    signed_data = der.element(
        der.SEQUENCE,
        _V3,
        der.element(der.SET, parts.digest_algorithm),
        der.element(
            der.SEQUENCE,
            _TST_INFO,
            der.element(der.CONTEXT_0, der.element(der.OCTET_STRING, tst_info)),
        ),
        parts.certificates,
        der.element(der.SET, signer_info),
    )
    return der.element(der.SEQUENCE, _SIGNED_DATA, der.element(der.CONTEXT_0, signed_data))


def granted_response(token: bytes) -> bytes:
    """The DER of a TimeStampResp granting the token ``token`` (DER)."""
    return der.element(der.SEQUENCE, _GRANTED, token)


# -- shared -------------------------------------------------------------------------------


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _certificate_set(certificates: Iterable[asn1_x509.Certificate]) -> bytes:
    """[0] IMPLICIT CertificateSet of ``certificates``, each once."""
    return der.set_of(
        der.CONTEXT_0,
        list({cms.CertificateChoices(name="certificate", value=c).dump() for c in certificates}),
    )


def _attribute(attribute_type: bytes, value: bytes) -> bytes:
    return der.element(der.SEQUENCE, attribute_type, der.element(der.SET, value))


_V1: Final = core.Integer(1).dump()
_V3: Final = core.Integer(3).dump()
_SHA256: Final = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
_SHA256_RSA: Final = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()
_SIGNED_DATA: Final = cms.ContentType("signed_data").dump()
_TST_INFO: Final = cms.ContentType("tst_info").dump()
_DATA_CONTENT_INFO: Final = cms.EncapsulatedContentInfo({"content_type": "data"}).dump()
_CONTENT_TYPE_DATA_ATTR: Final = simple_cms_attribute("content_type", "data").dump()
_MESSAGE_DIGEST: Final = cms.CMSAttributeType("message_digest").dump()
_SIGNING_TIME: Final = cms.CMSAttributeType("signing_time").dump()
_TIME_STAMP_TOKEN: Final = cms.CMSAttributeType("signature_time_stamp_token").dump()
_GRANTED: Final = tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}).dump()
