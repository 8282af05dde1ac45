"""Validation data for long-term signatures: certificate chains, CRLs, time stamp tokens and the
document security store (DSS), as PAdES B-LT/B-LTA needs them.

Shared by :mod:`signing.pades.long_term` (which embeds validation data) and
:mod:`signing.validate.validation` (which reads it back). Deliberately small: our CAs issue
end-entity certificates directly or through a few intermediates and publish full CRLs, so a CRL
counts for a certificate when its issuer name is the certificate's issuer and its signature
verifies with that issuer's key.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.rw_common import PdfHandler
from pyhanko.sign.general import extract_certificate_info, find_cms_attribute_iter

from signing.pki.ca import RevokedCertificate

__all__ = [
    "CrlStore",
    "DssContents",
    "SignedDataCertificates",
    "build_chain",
    "certificates_of",
    "der",
    "from_asn1",
    "read_dss",
    "signature_timestamp_tokens",
    "token_time",
]

logger = logging.getLogger(__name__)

# Longer chains than this are not ours; stop rather than loop on a crafted certificate pool.
_MAX_CHAIN: Final = 8


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def from_asn1(certificate: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(certificate.dump())


@dataclass(frozen=True)
class SignedDataCertificates:
    """The certificates a CMS SignedData carries: the signer's and the others."""

    signer: x509.Certificate
    others: tuple[x509.Certificate, ...]


def certificates_of(signed_data: cms.SignedData) -> SignedDataCertificates:
    """Raises pyHanko's CMSExtractionError or ValueError when the signer certificate is missing
    or a certificate is malformed.

    What pyHanko's extract_certificate_info finds depends on the SignedData's certificates and
    its (single) signer's identifier only: the answer is kept per those (as DER), since the same
    signers and time stamp authorities sign document after document.
    """
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        extract_certificate_info(signed_data)  # raises as pyHanko does
    certificates = signed_data["certificates"]
    key = (certificates.dump() if certificates else b"", signer_infos[0]["sid"].dump())
    with _certificates_lock:
        found = _certificates_by_der.get(key)
    if found is None:
        info = extract_certificate_info(signed_data)
        found = SignedDataCertificates(
            signer=from_asn1(info.signer_cert),
            others=tuple(from_asn1(c) for c in info.other_certs),
        )
        with _certificates_lock:
            if len(_certificates_by_der) >= _CACHED_SIGNED_DATA:
                del _certificates_by_der[next(iter(_certificates_by_der))]  # the oldest
            _certificates_by_der[key] = found
    return found


_CACHED_SIGNED_DATA: Final = 256
"""Certificate sets (with a signer identifier) whose classification is kept: the signers and
time stamp authorities of a bulk run."""
_certificates_by_der: dict[tuple[bytes, bytes], SignedDataCertificates] = {}
_certificates_lock = threading.Lock()


def signature_timestamp_tokens(signer_info: cms.SignerInfo) -> list[cms.SignedData]:
    """The SignedData of each signature time stamp token (unsigned attribute) of a signature."""
    return [
        token["content"]
        for token in find_cms_attribute_iter(
            signer_info["unsigned_attrs"], "signature_time_stamp_token"
        )
    ]


def token_time(token: cms.SignedData) -> datetime | None:
    """The genTime a time stamp token claims (not verified here); None if it has none."""
    content = token["encap_content_info"]["content"]
    tst_info = content.parsed if content is not None else None
    if not isinstance(tst_info, tsp.TSTInfo):
        return None
    moment = tst_info["gen_time"].native
    return moment if isinstance(moment, datetime) else None


@functools.lru_cache(maxsize=1024)  # links of the chains in use; certificates hash by their DER
def _is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def build_chain(
    leaf: x509.Certificate,
    pool: Iterable[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> list[x509.Certificate] | None:
    """``leaf`` and its issuers up to and including a trust root, or None when there is none.

    Certificates are taken from ``pool`` and ``trust_roots``; each link is checked by name and
    signature (not by validity period: a chain is also needed for certificates that expired).
    """
    roots = set(trust_roots)  # certificates compare and hash by their DER
    candidates = list(pool) + list(trust_roots)
    chain = [leaf]
    while chain[-1] not in roots:
        if len(chain) >= _MAX_CHAIN:
            return None
        current = chain[-1]
        issuer = next(
            (
                c
                for c in candidates
                if c.subject == current.issuer and c not in chain and _is_issued_by(current, c)
            ),
            None,
        )
        if issuer is None:
            return None
        chain.append(issuer)
    return chain


def _may_sign_crls(issuer: x509.Certificate) -> bool:
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.crl_sign


class CrlStore:
    """CRLs from several sources (given by the caller, found in a DSS), without duplicates.

    A CRL is used for a certificate only after its signature has been checked against the
    certificate's issuer; each check is done once per process (see :func:`_crl_signed_by`).
    """

    def __init__(self, crls: Iterable[x509.CertificateRevocationList]) -> None:
        unique: dict[bytes, x509.CertificateRevocationList] = {}
        for crl in crls:
            unique.setdefault(crl.public_bytes(serialization.Encoding.DER), crl)
        self._crls = list(unique.values())
        self._ders = list(unique)

    def __len__(self) -> int:
        return len(self._crls)

    def issued_by(self, issuer: x509.Certificate) -> list[x509.CertificateRevocationList]:
        """The CRLs that ``issuer`` signed, newest first."""
        if not _may_sign_crls(issuer):
            return []
        issuer_der = der(issuer)
        found = []
        for crl, crl_der in zip(self._crls, self._ders, strict=True):
            if crl.issuer == issuer.subject and _crl_signed_by(crl_der, issuer_der):
                found.append(crl)
        found.sort(key=lambda crl: crl.last_update_utc, reverse=True)
        return found

    def revocation(
        self, cert: x509.Certificate, issuer: x509.Certificate
    ) -> RevokedCertificate | None:
        """The earliest revocation of ``cert`` that a CRL of ``issuer`` lists, if any."""
        earliest: RevokedCertificate | None = None
        for crl in self.issued_by(issuer):
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is None:
                continue
            try:
                reason: x509.ReasonFlags | None = entry.extensions.get_extension_for_class(
                    x509.CRLReason
                ).value.reason
            except x509.ExtensionNotFound:
                reason = None
            if earliest is None or entry.revocation_date_utc < earliest.revoked_at:
                earliest = RevokedCertificate(cert.serial_number, entry.revocation_date_utc, reason)
        return earliest


@functools.lru_cache(maxsize=256)  # (CRL, issuer) pairs in use: a few per CA
def _crl_signed_by(crl_der: bytes, issuer_der: bytes) -> bool:
    """Whether the CRL's signature verifies with the issuer's key: checked once per process for
    each pair (keyed by their DER, so a CRL is never taken for another)."""
    crl = x509.load_der_x509_crl(crl_der)
    issuer = x509.load_der_x509_certificate(issuer_der)
    key = cast(CertificateIssuerPublicKeyTypes, issuer.public_key())
    try:
        return crl.is_signature_valid(key)
    except (ValueError, TypeError):  # a key type the CRL's algorithm does not fit
        return False


@dataclass(frozen=True)
class DssContents:
    """What a document security store holds, as DER: certificates and CRLs."""

    certificates: frozenset[bytes]
    crls: tuple[x509.CertificateRevocationList, ...]

    @staticmethod
    def empty() -> DssContents:
        return DssContents(frozenset(), ())

    def holds_crl(self, crl: x509.CertificateRevocationList) -> bool:
        return crl in self.crls


def read_dss(handler: PdfHandler) -> DssContents:
    """The /DSS of a document (or of one of its revisions); empty when there is none.

    Entries that cannot be read are skipped: a broken DSS only lowers the level reached.
    """
    try:
        dss = handler.root.get_object()["/DSS"].get_object()
    except KeyError:
        return DssContents.empty()
    except Exception:  # a dangling or malformed reference: as if there were no DSS
        logger.info("unreadable DSS skipped", exc_info=True)
        return DssContents.empty()
    if not isinstance(dss, generic.DictionaryObject):
        return DssContents.empty()
    certificates = frozenset(_stream_data(dss, "/Certs", DecodePurpose.CERTIFICATE))
    crls = []
    for data in _stream_data(dss, "/CRLs", DecodePurpose.CRL):
        try:
            crls.append(x509.load_der_x509_crl(data))
        except ValueError:
            logger.info("unreadable CRL in the DSS skipped")
    return DssContents(certificates, tuple(crls))


def _stream_data(dss: generic.DictionaryObject, key: str, purpose: DecodePurpose) -> list[bytes]:
    try:
        refs = dss[key]
    except KeyError:
        return []
    if not isinstance(refs, generic.ArrayObject):
        return []
    found = []
    for ref in refs:
        try:
            stream = ref.get_object()
            if isinstance(stream, generic.StreamObject):
                found.append(stream.read_data(purpose))
        except Exception:  # a damaged entry: skip it, as documented
            logger.info("unreadable %s entry in the DSS skipped", key, exc_info=True)
    return found
