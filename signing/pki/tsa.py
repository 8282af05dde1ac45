"""An in-process RFC 3161 time-stamping authority signed by the internal CA's TSA certificate.

pyHanko's :class:`DummyTimeStamper` defines the tokens: the same TimeStampResp structure, with
four things changed. The TSA policy OID is ours rather than the example one it ships with; the
TSA key is kept as a loaded ``cryptography`` key (the dummy reloads it from DER for every token,
~0.1 s for RSA-3072 because of the key consistency check); the key may be ECDSA as well as RSA
(the dummy signs with RSA only); and the response is assembled from DER pieces prepared once per
TSA (certificates, signer identifier, signingCertificate attribute, algorithm identifiers),
because building the whole structure with asn1crypto took ~5 ms a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import algos, cms, core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps.common_utils import get_nonce
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing.fast import der

__all__ = ["DOCGEN_TSA_POLICY_OID", "InternalTimeStamper", "TsaKey", "to_asn1_certificate"]

TsaKey = RSAPrivateKey | ec.EllipticCurvePrivateKey

# A UUID-derived OID (ITU-T X.667, arc 2.25): ours without a registration.
DOCGEN_TSA_POLICY_OID: Final = "2.25.168790458318212397093624125584418626017"


def to_asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """Convert a ``cryptography`` certificate to the asn1crypto type that pyHanko uses."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


class InternalTimeStamper(DummyTimeStamper):
    """RFC 3161 time stamps issued in-process under the internal CA's TSA certificate.

    ``chain`` (normally just the root) is embedded in each token beside the TSA certificate,
    so a verifier that trusts the root can validate the token offline.
    """

    def __init__(
        self,
        tsa_certificate: x509.Certificate,
        tsa_key: TsaKey,
        chain: Sequence[x509.Certificate] = (),
        *,
        fixed_time: datetime | None = None,
    ) -> None:
        self._key = tsa_key
        key_info = asn1_keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        super().__init__(
            tsa_cert=to_asn1_certificate(tsa_certificate),
            tsa_key=key_info,
            certs_to_embed=[to_asn1_certificate(c) for c in chain],  # type: ignore[arg-type]
            fixed_dt=fixed_time,
        )
        self._parts: dict[str, _TokenParts] = {}  # per digest algorithm: a handful at most

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """A granted response with a token for ``req``: what DummyTimeStamper answers (with our
        policy), assembled from DER."""
        imprint = req["message_imprint"]
        md_algorithm = self.override_md or imprint["hash_algorithm"]["algorithm"].native
        nonce = req["nonce"]
        token = self._token(
            imprint.dump(), md_algorithm, nonce.dump() if nonce.native is not None else b""
        )
        return tsp.TimeStampResp.load(der.element(der.SEQUENCE, _GRANTED, token))

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        """The token TimeStamper.async_timestamp gets for ``message_digest`` (with a fresh nonce
        in it), without building a TimeStampReq for :meth:`request_tsa_response` and taking its
        TimeStampResp apart again with asn1crypto (~0.25 ms a token)."""
        imprint = der.element(
            der.SEQUENCE,
            self._token_parts(md_algorithm).digest_algorithm,
            der.element(der.OCTET_STRING, message_digest),
        )
        nonce = core.Integer(get_nonce()).dump() if self.include_nonce else b""
        token = self._token(imprint, self.override_md or md_algorithm, nonce)
        return cms.ContentInfo.load(token)

    def _token(self, imprint: bytes, md_algorithm: str, nonce: bytes) -> bytes:
        """The DER of a token (ContentInfo) for the MessageImprint ``imprint``, signed with
        ``md_algorithm``, with ``nonce`` (an INTEGER's DER, or nothing)."""
        parts = self._token_parts(md_algorithm)
        moment = self.fixed_dt or datetime.now(UTC)
        tst_info = der.element(
            der.SEQUENCE,
            _V1,
            parts.policy,
            imprint,
            core.Integer(get_nonce()).dump(),  # serial number
            core.GeneralizedTime(moment).dump(),
            nonce,
            parts.tsa_name,
        )
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info)
        # DER orders the members of a SET OF by their encodings.
        signed_attrs = b"".join(
            sorted(
                [
                    parts.content_type_attr,
                    der.element(
                        der.SEQUENCE,
                        _SIGNING_TIME,
                        der.element(der.SET, cms.Time({"utc_time": core.UTCTime(moment)}).dump()),
                    ),
                    parts.signing_certificate_attr,
                    der.element(
                        der.SEQUENCE,
                        _MESSAGE_DIGEST,
                        der.element(der.SET, der.element(der.OCTET_STRING, digest.finalize())),
                    ),
                ]
            )
        )
        to_sign = der.element(der.SET, signed_attrs)
        hash_algorithm = get_pyca_cryptography_hash(md_algorithm.upper())
        if isinstance(self._key, RSAPrivateKey):
            signature = self._key.sign(to_sign, PKCS1v15(), hash_algorithm)
        else:
            signature = self._key.sign(to_sign, ec.ECDSA(hash_algorithm))
        signer_info = der.element(
            der.SEQUENCE,
            _V1,
            parts.signer_id,
            parts.digest_algorithm,
            der.element(der.CONTEXT_0, signed_attrs),  # [0] IMPLICIT SET OF Attribute
            parts.signature_algorithm,
            der.element(der.OCTET_STRING, signature),
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

    def _token_parts(self, md_algorithm: str) -> _TokenParts:
        if md_algorithm in self._parts:
            return self._parts[md_algorithm]
        digest_algorithm = algos.DigestAlgorithm({"algorithm": md_algorithm})
        certificates = sorted(
            cms.CertificateChoices(name="certificate", value=c).dump()
            for c in {*self.certs_to_embed, self.tsa_cert}
        )
        parts = _TokenParts(
            policy=tsp.ObjectIdentifier(DOCGEN_TSA_POLICY_OID).dump(),
            tsa_name=tsp.TSTInfo(
                {"tsa": asn1_x509.GeneralName(name="directory_name", value=self.tsa_cert.subject)}
            )["tsa"].dump(),
            content_type_attr=simple_cms_attribute("content_type", "tst_info").dump(),
            signing_certificate_attr=simple_cms_attribute(
                "signing_certificate", general.as_signing_certificate(self.tsa_cert)
            ).dump(),
            signer_id=cms.IssuerAndSerialNumber(
                {"issuer": self.tsa_cert.issuer, "serial_number": self.tsa_cert.serial_number}
            ).dump(),
            digest_algorithm=digest_algorithm.dump(),
            signature_algorithm=algos.SignedDigestAlgorithm(
                # RSA's names the padding (the digest is digest_algorithm's); ECDSA's the pair
                {
                    "algorithm": "rsassa_pkcs1v15"
                    if isinstance(self._key, RSAPrivateKey)
                    else f"{md_algorithm}_ecdsa"
                }
            ).dump(),
            certificates=der.element(der.CONTEXT_0, *certificates),  # [0] IMPLICIT CertificateSet
        )
        self._parts[md_algorithm] = parts
        return parts


@dataclass(frozen=True)
class _TokenParts:
    """The DER of everything in a token that depends only on the TSA and the digest algorithm."""

    policy: bytes
    tsa_name: bytes
    """TSTInfo's ``tsa`` field: [0] EXPLICIT GeneralName (the TSA's subject)."""
    content_type_attr: bytes
    signing_certificate_attr: bytes
    signer_id: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    certificates: bytes


_V1: Final = core.Integer(1).dump()
_V3: Final = core.Integer(3).dump()
_GRANTED: Final = tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}).dump()
_SIGNED_DATA: Final = cms.ContentType("signed_data").dump()
_TST_INFO: Final = cms.ContentType("tst_info").dump()
_SIGNING_TIME: Final = cms.CMSAttributeType("signing_time").dump()
_MESSAGE_DIGEST: Final = cms.CMSAttributeType("message_digest").dump()
