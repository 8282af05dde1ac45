"""An in-process RFC 3161 time-stamping authority signed by the internal CA's TSA certificate.

pyHanko's :class:`DummyTimeStamper` defines the tokens: the same TimeStampResp structure, with
three things changed. The TSA policy OID is ours rather than the example one it ships with; the
TSA key is kept as a loaded ``cryptography`` key (the dummy reloads it from DER for every token,
~0.1 s for RSA-3072 because of the key consistency check); and the key may be ECDSA as well as
RSA (the dummy signs with RSA only, so it cannot serve docgen's P-256 TSA keys as it is).

The tokens are built with asn1crypto as the dummy builds them, and requested through pyHanko's
``TimeStamper`` (a TimeStampReq in, a TimeStampResp out); with the fast paths on
(:mod:`signing.fast`) they are assembled by :mod:`signing.fast.cms` from DER pieces prepared
once per TSA, and a signature's time stamp skips the request and the response (measured there).
"""

from __future__ import annotations

from collections.abc import Sequence
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

import signing.fast
from signing.fast import cms as fast_cms

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
        self._parts: dict[str, fast_cms.TokenParts] = {}  # per digest algorithm: a handful at most

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """A granted response with a token for ``req``: what DummyTimeStamper answers, with our
        policy and key."""
        imprint = req["message_imprint"]
        md_algorithm = self.override_md or imprint["hash_algorithm"]["algorithm"].native
        nonce = req["nonce"].native
        if signing.fast.enabled():
            token = self._fast_token(imprint.dump(), md_algorithm, nonce)
            return tsp.TimeStampResp.load(fast_cms.granted_response(token))
        return tsp.TimeStampResp(
            {
                "status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}),
                "time_stamp_token": self._token(imprint, md_algorithm, nonce),
            }
        )

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        """The token for ``message_digest``, with a fresh nonce in it. With the fast paths on,
        without building a TimeStampReq for :meth:`request_tsa_response` and taking its
        TimeStampResp apart again."""
        if not signing.fast.enabled():
            return await super().async_timestamp(message_digest, md_algorithm)
        imprint = fast_cms.message_imprint(self._token_parts(md_algorithm), message_digest)
        nonce = get_nonce() if self.include_nonce else None
        return cms.ContentInfo.load(
            self._fast_token(imprint, self.override_md or md_algorithm, nonce)
        )

    def _token(
        self, imprint: tsp.MessageImprint, md_algorithm: str, nonce: int | None
    ) -> cms.ContentInfo:
        """A token for ``imprint``, signed with ``md_algorithm``, with ``nonce`` if not None:
        the structure DummyTimeStamper builds, built the same way (asn1crypto)."""
        moment = self.fixed_dt or datetime.now(UTC)
        tst_info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": DOCGEN_TSA_POLICY_OID,
                "message_imprint": imprint,
                "serial_number": get_nonce(),
                "gen_time": moment,
                "nonce": nonce,
                "tsa": asn1_x509.GeneralName(name="directory_name", value=self.tsa_cert.subject),
            }
        )
        tst_info_data = tst_info.dump()
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(moment)})),
                simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        digest_algorithm = algos.DigestAlgorithm({"algorithm": md_algorithm})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {
                                "issuer": self.tsa_cert.issuer,
                                "serial_number": self.tsa_cert.serial_number,
                            }
                        )
                    }
                ),
                "digest_algorithm": digest_algorithm,
                "signature_algorithm": self._signature_algorithm(md_algorithm),
                "signed_attrs": signed_attrs,
                "signature": self._sign(signed_attrs.dump(), md_algorithm),
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": cms.DigestAlgorithms((digest_algorithm,)),
                "encap_content_info": cms.EncapsulatedContentInfo(
                    {
                        "content_type": cms.ContentType("tst_info"),
                        "content": cms.ParsableOctetString(tst_info_data),
                    }
                ),
                # each once, as the dummy's set has them (it compares them by identity)
                "certificates": list(
                    {c.dump(): c for c in (*self.certs_to_embed, self.tsa_cert)}.values()
                ),
                "signer_infos": [signer_info],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    def _fast_token(self, imprint: bytes, md_algorithm: str, nonce: int | None) -> bytes:
        """The DER of :meth:`_token`'s token for the MessageImprint ``imprint`` (DER)."""
        return fast_cms.timestamp_token(
            self._token_parts(md_algorithm),
            imprint=imprint,
            serial_number=get_nonce(),
            moment=self.fixed_dt or datetime.now(UTC),
            nonce=nonce,
            sign=lambda signed_attrs: self._sign(signed_attrs, md_algorithm),
        )

    def _token_parts(self, md_algorithm: str) -> fast_cms.TokenParts:
        if md_algorithm not in self._parts:
            self._parts[md_algorithm] = fast_cms.token_parts(
                self.tsa_cert,
                self.certs_to_embed,
                md_algorithm=md_algorithm,
                signature_algorithm=self._signature_algorithm(md_algorithm),
                policy=DOCGEN_TSA_POLICY_OID,
            )
        return self._parts[md_algorithm]

    def _signature_algorithm(self, md_algorithm: str) -> algos.SignedDigestAlgorithm:
        # RSA's names the padding (the digest is the digest algorithm's); ECDSA's the pair
        if isinstance(self._key, RSAPrivateKey):
            return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
        return algos.SignedDigestAlgorithm({"algorithm": f"{md_algorithm}_ecdsa"})

    def _sign(self, signed_attrs: bytes, md_algorithm: str) -> bytes:
        hash_algorithm = get_pyca_cryptography_hash(md_algorithm.upper())
        if isinstance(self._key, RSAPrivateKey):
            return self._key.sign(signed_attrs, PKCS1v15(), hash_algorithm)
        return self._key.sign(signed_attrs, ec.ECDSA(hash_algorithm))
