"""Validate the signatures in an uploaded PDF against our trust roots.

For each ``/Sig`` signature this reports whether its bytes are intact, whether the signer (and
the time stamp authority) chain to a trust root, the time from the RFC 3161 token, and whether
the file was changed afterwards in a way other than adding signatures into pre-existing fields
(pyHanko's difference analysis: modification level at most FORM_FILLING and DocMDP-compliant).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import EmbeddedPdfSignature, async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from signing.errors import InvalidPdf
from signing.tsa import to_asn1_certificate

__all__ = ["SignatureReport", "ValidationReport", "validate_pdf"]

logger = logging.getLogger(__name__)

REASON_VALID: Final = "Tanda tangan sah"
REASON_NOT_INTACT: Final = "Tanda tangan tidak utuh: isi dokumen tidak cocok dengan tanda tangan"
REASON_UNREADABLE: Final = "Tanda tangan rusak atau tidak dapat dibaca"
REASON_BAD_TIMESTAMP: Final = "Cap waktu (timestamp) pada tanda tangan tidak sah"
REASON_MODIFIED: Final = "Dokumen telah diubah setelah ditandatangani"
REASON_UNTRUSTED: Final = "Sertifikat tidak dipercaya"
REASON_REVOKED: Final = "Sertifikat penanda tangan telah dicabut"
REASON_EXPIRED: Final = "Sertifikat penanda tangan sudah tidak berlaku"
REASON_NOT_YET_VALID: Final = "Sertifikat penanda tangan belum berlaku"
REASON_TSA_UNTRUSTED: Final = "Sertifikat cap waktu (timestamp) tidak dipercaya"

# Changes after a signature that do not count as modifying the signed document: none at all,
# DSS / document timestamps, and further signatures into existing fields.
_ALLOWED_LEVELS: Final = frozenset(
    {ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING}
)


@dataclass(frozen=True)
class SignatureReport:
    """The verdict on one signature; ``reason`` explains it in Bahasa Indonesia."""

    field: str
    signer: str | None
    intact: bool
    trusted: bool
    timestamp: datetime | None
    modified_after: bool
    reason: str

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted and not self.modified_after


@dataclass(frozen=True)
class ValidationReport:
    signatures: tuple[SignatureReport, ...]

    @property
    def valid(self) -> bool:
        """At least one signature, and every one intact, trusted and not modified after."""
        return bool(self.signatures) and all(s.valid for s in self.signatures)


def validate_pdf(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> ValidationReport:
    """Validate every signature in ``pdf``; a PDF without signatures gets an empty report.

    Synchronous: runs its own event loop, so do not call it from a thread that is running one
    (the service calls it in a worker process). Revocation is not checked online. Stream
    decoding is bounded by pyHanko's limits for untrusted input.

    Raises:
        InvalidPdf: ``pdf`` is not a readable PDF (garbage, truncated, broken cross-reference
            table, encrypted) or its signature fields cannot be enumerated. A malformed
            individual signature is reported (not intact, "rusak") instead.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        if reader.encrypted:
            raise InvalidPdf("encrypted PDFs are not supported")
        # Walk the form now, so that structural damage is reported as InvalidPdf rather than
        # as a broken signature.
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except InvalidPdf:
        raise
    except RecursionError as exc:
        raise InvalidPdf("the PDF structure is nested too deeply") from exc
    except Exception as exc:  # pyHanko raises many types for damaged files
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc

    embedded: list[EmbeddedPdfSignature] = []
    unreadable: list[SignatureReport] = []
    for name, sig_object, field in fields:
        try:
            if sig_object.get_object().get("/Type", "/Sig") != "/Sig":
                continue  # a document timestamp (PAdES B-LTA), not a signer's signature
            signature = EmbeddedPdfSignature(reader, field, name)
            _ = signature.signed_revision  # parses the byte range against the file
            embedded.append(signature)
        except Exception:  # the CMS blob or the signature dictionary is malformed
            logger.info("signature in field %r is unreadable", name, exc_info=True)
            unreadable.append(_unreadable(str(name), None))
    embedded.sort(key=lambda sig: sig.signed_revision)
    roots = [to_asn1_certificate(c) for c in trust_roots]
    reports = asyncio.run(_validate_all(embedded, roots))
    return ValidationReport(signatures=tuple(reports + unreadable))


def _unreadable(field: str, signer: str | None) -> SignatureReport:
    return SignatureReport(
        field=field,
        signer=signer,
        intact=False,
        trusted=False,
        timestamp=None,
        modified_after=False,
        reason=REASON_UNREADABLE,
    )


async def _validate_all(
    embedded: list[EmbeddedPdfSignature], roots: list[asn1_x509.Certificate]
) -> list[SignatureReport]:
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        return [await _validate_one(sig, context) for sig in embedded]
    finally:
        await context.aclose()


def _signer_cn(sig: EmbeddedPdfSignature) -> str | None:
    try:
        cn = sig.signer_cert.subject.native.get("common_name")
    except Exception:  # a signature without a usable signer certificate
        return None
    if isinstance(cn, list):  # multi-valued CN
        cn = cn[0] if cn else None
    return str(cn) if cn is not None else None


def _field_name(sig: EmbeddedPdfSignature) -> str:
    try:
        return str(sig.field_name)
    except Exception:
        return ""


async def _validate_one(sig: EmbeddedPdfSignature, context: ValidationContext) -> SignatureReport:
    field, signer = _field_name(sig), _signer_cn(sig)
    try:
        status = await async_validate_pdf_signature(sig, signer_validation_context=context)
    except Exception:  # malformed CMS, unsupported subfilter, broken byte range, ...
        logger.info("signature in field %r could not be validated", field, exc_info=True)
        return _unreadable(field, signer)
    return _report(field, signer, status)


def _modified_after(status: PdfSignatureStatus) -> bool:
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return False
    level = status.modification_level
    return level not in _ALLOWED_LEVELS or status.docmdp_ok is False


def _trust_reason(indication: AdESSubIndic | None) -> str:
    if indication in (AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE):
        return REASON_REVOKED
    if indication in (
        AdESIndeterminate.EXPIRED,
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    ):
        return REASON_EXPIRED
    if indication in (AdESFailure.NOT_YET_VALID, AdESIndeterminate.NOT_YET_VALID):
        return REASON_NOT_YET_VALID
    return REASON_UNTRUSTED


def _report(field: str, signer: str | None, status: PdfSignatureStatus) -> SignatureReport:
    ts = status.timestamp_validity
    ts_intact = ts is None or (ts.intact and ts.valid)
    ts_trusted = ts is None or ts.trusted
    intact = status.intact and status.valid and ts_intact
    signer_trusted = status.trusted
    trusted = signer_trusted and ts_trusted
    modified_after = _modified_after(status)
    timestamp = ts.timestamp if ts is not None and ts_intact and ts_trusted else None

    if not (status.intact and status.valid):
        reason = REASON_NOT_INTACT
    elif not ts_intact:
        reason = REASON_BAD_TIMESTAMP
    elif modified_after:
        reason = REASON_MODIFIED
    elif not signer_trusted:
        reason = _trust_reason(status.trust_problem_indic)
    elif not ts_trusted:
        reason = REASON_TSA_UNTRUSTED
    else:
        reason = REASON_VALID
    return SignatureReport(
        field=field,
        signer=signer,
        intact=intact,
        trusted=trusted,
        timestamp=timestamp,
        modified_after=modified_after,
        reason=reason,
    )
