"""An in-process RFC 3161 time-stamping authority signed by the internal CA's TSA certificate.

pyHanko's :class:`DummyTimeStamper` is the engine: it builds correct TimeStampResp structures.
Two things are changed: the TSA policy OID is ours rather than the example one it ships with,
and the TSA key is kept as a loaded ``cryptography`` key. The dummy reloads the key from DER
for every token, which costs ~0.1 s for RSA-3072 because of the key consistency check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from asn1crypto import cms, core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

__all__ = ["DOCGEN_TSA_POLICY_OID", "InternalTimeStamper", "to_asn1_certificate"]

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
        tsa_key: RSAPrivateKey,
        chain: Sequence[x509.Certificate] = (),
        *,
        fixed_time: datetime | None = None,
    ) -> None:
        self._rsa_key = tsa_key
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

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        tst_info = super()._build_tst_info(message_imprint, dt, req)
        tst_info["policy"] = tsp.ObjectIdentifier(DOCGEN_TSA_POLICY_OID)
        return tst_info

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        # Same signed attributes as the dummy, signed with the already-loaded key.
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._rsa_key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs
