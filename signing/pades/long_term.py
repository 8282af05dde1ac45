"""PAdES B-LTA: validation data and a document time stamp after the last signer.

:func:`add_long_term_validation` appends one incremental update holding a document security
store (DSS) with the certificates and CRLs needed to validate every signature and every time
stamp in the file, and a document time stamp (``/DocTimeStamp``) over the file including that
DSS. Later, a verifier can check each signature at the time of its time stamp even after the
certificates have expired or been revoked, without asking the CA for anything.

It works offline: the CRLs are given, nothing is fetched, and chains are built from the
certificates in the file and the trust roots with one signature check per link (the signatures
themselves are not validated again: that is :func:`signing.validate.validate_pdf`'s job).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import misc
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature

from signing.errors import InvalidPdf, LongTermValidationFailed, SignatureCreationFailed
from signing.fast.objects import preload_first_page, preload_signature_dictionaries
from signing.fast.pdf_reading import open_pdf
from signing.fast.writing import IncrementalWriter
from signing.pki.tsa import to_asn1_certificate
from signing.validate.validation_data import (
    CrlStore,
    build_chain,
    certificates_of,
    signature_timestamp_tokens,
)

__all__ = ["DOCUMENT_TIMESTAMP_FIELD", "add_long_term_validation"]

DOCUMENT_TIMESTAMP_FIELD: Final = "ArsipCapWaktu"
"""Name prefix of the document time stamp fields (one per archive update)."""


async def add_long_term_validation(
    pdf: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    timestamper: TimeStamper,
) -> bytes:
    """Make every signature in ``pdf`` verifiable in the long term (PAdES B-LTA).

    Appends one incremental update: a DSS with the certificate chains of every signer, of
    every time stamp authority (signature and document time stamps already in the file) and
    the newest CRL from each issuer in those chains, followed by a document time stamp from
    ``timestamper``. Earlier signatures stay valid, and the update does not count as a
    modification of them. Calling it again on its result renews the archive time stamp.

    Raises:
        InvalidPdf: ``pdf`` cannot be parsed.
        LongTermValidationFailed: the document has no signatures, a signature or time stamp
            cannot be read, a certificate does not chain to one of ``trust_roots``, or no CRL in
            ``crls`` covers a certificate of a chain (its issuer did not sign one).
        SignatureCreationFailed: the document time stamp could not be obtained or written.
    """
    try:
        reader = open_pdf(pdf)
        # What is read to find the signatures and to add the DSS and the time stamp field (on
        # the first page): read it fast.
        preload_signature_dictionaries(reader, pdf)
        preload_first_page(reader, pdf)
        writer = IncrementalWriter.from_reader(reader)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # pyHanko raises assorted errors for garbage
        raise InvalidPdf(f"cannot read the PDF: {exc}") from exc
    if not signatures:
        raise LongTermValidationFailed("the document has no signatures")

    certificates, revocation_lists = _validation_data(signatures, trust_roots, CrlStore(crls))
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,  # no /VRI: ETSI EN 319 142-1 no longer asks for it, and it costs a hash per sig
        certs=[_asn1_certificate(c) for c in certificates],
        crls=[_asn1_crl(crl.public_bytes(serialization.Encoding.DER)) for crl in revocation_lists],
    )
    # In the same revision as the DSS, so that the document time stamp covers it.
    try:
        output = await PdfTimeStamper(
            timestamper, field_name=f"{DOCUMENT_TIMESTAMP_FIELD}{_next_index(signatures)}"
        ).async_timestamp_pdf(writer, "sha256")
    except (PyHankoSigningError, TimestampRequestError, misc.PdfError) as exc:
        raise SignatureCreationFailed(f"could not add the document time stamp: {exc}") from exc
    return bytes(output.getvalue())


def _next_index(signatures: Sequence[EmbeddedPdfSignature]) -> int:
    return 1 + sum(1 for sig in signatures if sig.sig_object_type == "/DocTimeStamp")


def _leaves_and_pool(
    signatures: Sequence[EmbeddedPdfSignature],
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """The certificates that signed something (signers, TSAs), and every certificate found."""
    leaves: list[x509.Certificate] = []
    pool: list[x509.Certificate] = []
    for sig in signatures:
        try:
            # A document time stamp's SignedData is the token itself: its signer is the TSA.
            signed = [sig.signed_data]
            if sig.sig_object_type == "/Sig":
                signed += signature_timestamp_tokens(sig.signer_info)
            for signed_data in signed:
                found = certificates_of(signed_data)
                leaves.append(found.signer)
                pool.extend(found.others)
        except Exception as exc:  # malformed CMS or certificate
            raise LongTermValidationFailed(
                f"cannot read the signature in field {sig.field_name!r}: {exc}"
            ) from exc
    return _unique_certificates(leaves), _unique_certificates(pool)


def _validation_data(
    signatures: Sequence[EmbeddedPdfSignature],
    trust_roots: Sequence[x509.Certificate],
    crls: CrlStore,
) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    leaves, pool = _leaves_and_pool(signatures)
    certificates: list[x509.Certificate] = []
    revocation_lists: list[x509.CertificateRevocationList] = []
    for leaf in leaves:
        chain = build_chain(leaf, pool, trust_roots)
        if chain is None:
            raise LongTermValidationFailed(
                f"the certificate of {leaf.subject.rfc4514_string()} does not chain to a trust root"
            )
        certificates.extend(chain)
        for cert, issuer in zip(chain, chain[1:], strict=False):
            newest = next(iter(crls.issued_by(issuer)), None)
            if newest is None:
                raise LongTermValidationFailed(
                    f"no CRL from {issuer.subject.rfc4514_string()} covers the certificate of "
                    f"{cert.subject.rfc4514_string()}"
                )
            revocation_lists.append(newest)
    unique_crls = {crl.public_bytes(serialization.Encoding.DER): crl for crl in revocation_lists}
    return _unique_certificates(certificates), list(unique_crls.values())


def _unique_certificates(certificates: list[x509.Certificate]) -> list[x509.Certificate]:
    # Certificates compare and hash by their DER, without encoding it again.
    return list(dict.fromkeys(certificates))


# pyHanko's DSS reads each certificate's issuer and serial number (parsing and hashing the
# issuer) and the encoding of each; the same few certificates and CRLs go into every document's
# DSS, so their asn1crypto objects are kept, keyed by their DER (and only read): a certificate
# hashes and compares by its DER.


_asn1_certificate: Final = functools.lru_cache(maxsize=256)(to_asn1_certificate)
"""Kept for the signers, TSAs and CAs of a bulk run."""


@functools.lru_cache(maxsize=16)  # the current CRL of each CA
def _asn1_crl(der: bytes) -> asn1_crl.CertificateList:
    return asn1_crl.CertificateList.load(der)
