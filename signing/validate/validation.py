"""Validate the signatures in an uploaded PDF against our trust roots.

For each ``/Sig`` signature this reports whether its bytes are intact, whether the signer (and
the time stamp authority) chain to a trust root, the time from the RFC 3161 token, whether
the file was changed afterwards in a way other than adding signatures into pre-existing fields,
DSS updates and document time stamps (pyHanko's difference analysis: modification level at most
FORM_FILLING and DocMDP-compliant), the PAdES level reached, and revocation.

Point-in-time validation: a signature with a trusted time stamp is validated at the time of
that stamp, so a certificate that expired or was revoked later does not invalidate it. Time
stamp authorities are validated at the time of the earliest valid document time stamp that
covers them (B-LTA), or now. Revocation comes from the CRLs given and those in the DSS; a CRL
counts when the certificate's issuer signed it (see :mod:`signing.validate.validation_data`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.path import ValidationPath

from signing.errors import InvalidPdf
from signing.fast.objects import preload_all_objects
from signing.fast.pdf_reading import open_pdf
from signing.pki.ca import RevokedCertificate
from signing.pki.tsa import to_asn1_certificate
from signing.validate.validation_data import (
    CrlStore,
    DssContents,
    der,
    from_asn1,
    read_dss,
    signature_timestamp_tokens,
    token_time,
)
from signing.waktu import format_waktu_wib

__all__ = [
    "LEVEL_B_B",
    "LEVEL_B_LT",
    "LEVEL_B_LTA",
    "LEVEL_B_T",
    "SignatureReport",
    "ValidationReport",
    "read_pdf",
    "validate_pdf",
]

logger = logging.getLogger(__name__)

REASON_VALID: Final = "Tanda tangan sah"
REASON_VALID_REVOKED_LATER: Final = (
    "Tanda tangan sah; sertifikat penanda tangan dicabut pada {waktu} setelah penandatanganan"
)
REASON_NOT_INTACT: Final = "Tanda tangan tidak utuh: isi dokumen tidak cocok dengan tanda tangan"
REASON_UNREADABLE: Final = "Tanda tangan rusak atau tidak dapat dibaca"
REASON_BAD_TIMESTAMP: Final = "Cap waktu (timestamp) pada tanda tangan tidak sah"
REASON_MODIFIED: Final = "Dokumen telah diubah setelah ditandatangani"
REASON_UNTRUSTED: Final = "Sertifikat tidak dipercaya"
REASON_REVOKED: Final = "Sertifikat penanda tangan telah dicabut"
REASON_EXPIRED: Final = "Sertifikat penanda tangan sudah tidak berlaku"
REASON_NOT_YET_VALID: Final = "Sertifikat penanda tangan belum berlaku"
REASON_TSA_UNTRUSTED: Final = "Sertifikat cap waktu (timestamp) tidak dipercaya"

# PAdES baseline levels (ETSI EN 319 142-1), lowest first.
LEVEL_B_B: Final = "B-B"
LEVEL_B_T: Final = "B-T"
LEVEL_B_LT: Final = "B-LT"
LEVEL_B_LTA: Final = "B-LTA"
_LEVELS: Final = (LEVEL_B_B, LEVEL_B_T, LEVEL_B_LT, LEVEL_B_LTA)

# Changes after a signature that do not count as modifying the signed document: none at all,
# DSS / document timestamps, and further signatures into existing fields.
_ALLOWED_LEVELS: Final = frozenset(
    {ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING}
)
_WHOLE_REVISION: Final = frozenset(
    {SignatureCoverageLevel.ENTIRE_REVISION, SignatureCoverageLevel.ENTIRE_FILE}
)


@dataclass(frozen=True)
class SignatureReport:
    """The verdict on one signature; ``reason`` explains it in Bahasa Indonesia.

    ``level`` is the PAdES level reached (``B-B`` to ``B-LTA``), ``certified`` marks the
    document's certification (DocMDP) signature, and ``revoked_at`` is when the signer's
    certificate (or a CA certificate above it) was revoked according to the CRLs at hand,
    also when that was after signing and the signature therefore stays valid.
    """

    field: str
    signer: str | None
    intact: bool
    trusted: bool
    timestamp: datetime | None
    modified_after: bool
    reason: str
    level: str
    certified: bool
    revoked_at: datetime | None

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted and not self.modified_after


@dataclass(frozen=True)
class ValidationReport:
    """Every signature's verdict; ``level`` is the lowest level over them (None without
    signatures), ``document_timestamp`` the time of the last valid document time stamp."""

    signatures: tuple[SignatureReport, ...]
    level: str | None
    document_timestamp: datetime | None

    @property
    def valid(self) -> bool:
        """At least one signature, and every one intact, trusted and not modified after."""
        return bool(self.signatures) and all(s.valid for s in self.signatures)


def read_pdf(pdf: bytes) -> PdfFileReader:
    """pyHanko's reader of ``pdf`` (its cross-reference tables read, no object yet), to give
    :func:`validate_pdf` after a look of one's own at the file.

    Raises:
        InvalidPdf: not a readable PDF (garbage, truncated, broken cross-reference table).
    """
    try:
        return open_pdf(pdf)
    except RecursionError as exc:
        raise InvalidPdf("the PDF structure is nested too deeply") from exc
    except Exception as exc:  # pyHanko raises many types for damaged files
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc


def validate_pdf(
    pdf: bytes,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList] = (),
    *,
    reader: PdfFileReader | None = None,
) -> ValidationReport:
    """Validate every signature in ``pdf``; a PDF without signatures gets an empty report.

    ``crls`` add to the CRLs in the document's DSS; nothing is fetched. ``reader``: the one
    :func:`read_pdf` gave for these bytes, if the caller has it (the file is not read twice).
    Synchronous: runs its own event loop, so do not call it from a thread that is running one
    (the service calls it in a worker process). Stream decoding is bounded by pyHanko's limits
    for untrusted input.

    Raises:
        InvalidPdf: ``pdf`` is not a readable PDF (garbage, truncated, broken cross-reference
            table, encrypted) or its signature fields cannot be enumerated. A malformed
            individual signature is reported (not intact, "rusak") instead.
    """
    if reader is None:
        reader = read_pdf(pdf)
    try:
        if reader.encrypted:
            raise InvalidPdf("encrypted PDFs are not supported")
        # pyHanko's difference analysis reads every object of the signed revisions: parsed
        # here in one pass when the fast paths are on (see preload_all_objects).
        preload_all_objects(reader, pdf)
        # Walk the form now, so that structural damage is reported as InvalidPdf rather than
        # as a broken signature.
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except InvalidPdf:
        raise
    except RecursionError as exc:
        raise InvalidPdf("the PDF structure is nested too deeply") from exc
    except Exception as exc:  # pyHanko raises many types for damaged files
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc

    signatures: list[EmbeddedPdfSignature] = []
    document_timestamps: list[EmbeddedPdfSignature] = []
    unreadable: list[SignatureReport] = []
    for name, sig_object, field in fields:
        kind = "/Sig"
        try:
            kind = sig_object.get_object().get("/Type", "/Sig")
            if kind not in ("/Sig", "/DocTimeStamp"):
                continue
            signature = EmbeddedPdfSignature(reader, field, name)
            _ = signature.signed_revision  # parses the byte range against the file
        except Exception:  # the CMS blob or the signature dictionary is malformed
            logger.info("signature in field %r is unreadable", name, exc_info=True)
            if kind == "/Sig":  # a broken document time stamp just does not count
                unreadable.append(_unreadable(str(name), None))
            continue
        (signatures if kind == "/Sig" else document_timestamps).append(signature)
    signatures.sort(key=lambda sig: sig.signed_revision)
    verifier = _Verifier(reader, trust_roots, crls)
    reports, stamps = asyncio.run(verifier.run(signatures, document_timestamps))
    all_reports = tuple(reports + unreadable)
    return ValidationReport(
        signatures=all_reports,
        level=min((r.level for r in all_reports), key=_LEVELS.index, default=None),
        document_timestamp=max((s.time for s in stamps), default=None),
    )


def _unreadable(field: str, signer: str | None) -> SignatureReport:
    return SignatureReport(
        field=field,
        signer=signer,
        intact=False,
        trusted=False,
        timestamp=None,
        modified_after=False,
        reason=REASON_UNREADABLE,
        level=LEVEL_B_B,
        certified=False,
        revoked_at=None,
    )


@dataclass(frozen=True)
class _DocumentTimestamp:
    """A valid, trusted document time stamp: the revision it covers and its DSS there."""

    revision: int
    time: datetime
    dss: DssContents


Chain = list[tuple[x509.Certificate, x509.Certificate]]
"""(certificate, its issuer) for every certificate of a path below the trust anchor."""


def _chain(path: ValidationPath | None) -> Chain | None:
    if path is None:
        return None
    certs = [from_asn1(c) for c in path.iter_certs(include_root=True)]
    certs.reverse()  # leaf first
    return list(zip(certs, certs[1:], strict=False))


class _Verifier:
    """State shared by the signatures of one document: contexts per moment, CRLs, DSS."""

    def __init__(
        self,
        reader: PdfFileReader,
        trust_roots: Sequence[x509.Certificate],
        crls: Sequence[x509.CertificateRevocationList],
    ) -> None:
        self._reader = reader
        self._roots = [to_asn1_certificate(c) for c in trust_roots]
        self._dss = read_dss(reader)
        self._extra_certs = [
            asn1_x509.Certificate.load(data) for data in sorted(self._dss.certificates)
        ]
        self._crls = CrlStore([*crls, *self._dss.crls])
        self._contexts: dict[datetime | None, ValidationContext] = {}
        self._now = datetime.now(UTC)

    def _context(self, moment: datetime | None) -> ValidationContext:
        """A context validating at ``moment`` (None: now); no revocation checks in pyHanko,
        revocation is ours (see :meth:`_revocation`)."""
        if moment not in self._contexts:
            self._contexts[moment] = ValidationContext(
                trust_roots=self._roots,
                other_certs=self._extra_certs,
                moment=moment,
                allow_fetching=False,
            )
        return self._contexts[moment]

    async def run(
        self,
        signatures: list[EmbeddedPdfSignature],
        document_timestamps: list[EmbeddedPdfSignature],
    ) -> tuple[list[SignatureReport], list[_DocumentTimestamp]]:
        try:
            stamps = await self._document_timestamps(document_timestamps)
            reports = [await self._validate(sig, stamps) for sig in signatures]
            return reports, stamps
        finally:
            for context in self._contexts.values():
                await context.aclose()

    # -- revocation and levels ------------------------------------------------------------

    def _revocation(self, chain: Chain | None) -> RevokedCertificate | None:
        """The earliest revocation of a certificate in ``chain`` that a CRL at hand lists."""
        found = [self._crls.revocation(cert, issuer) for cert, issuer in chain or ()]
        return min((r for r in found if r is not None), key=lambda r: r.revoked_at, default=None)

    def _holds_validation_data(self, dss: DssContents, chains: Sequence[Chain]) -> bool:
        """Whether ``dss`` has every certificate of ``chains`` and a CRL for each from its
        issuer (the trust anchors need neither)."""
        for chain in chains:
            for cert, issuer in chain:
                if der(cert) not in dss.certificates:
                    return False
                if not any(dss.holds_crl(crl) for crl in self._crls.issued_by(issuer)):
                    return False
        return True

    def _poe(self, revision: int, stamps: Sequence[_DocumentTimestamp]) -> datetime | None:
        """When the objects of ``revision`` provably existed: the earliest valid document
        time stamp over a later revision, or None (now)."""
        return min((s.time for s in stamps if s.revision > revision), default=None)

    # -- document time stamps -------------------------------------------------------------

    async def _document_timestamps(
        self, document_timestamps: list[EmbeddedPdfSignature]
    ) -> list[_DocumentTimestamp]:
        """The valid, trusted document time stamps; each TSA is validated at the time of
        the next valid document time stamp (the archive chain), the last one now."""
        valid: list[_DocumentTimestamp] = []
        for stamp in sorted(document_timestamps, key=lambda s: s.signed_revision, reverse=True):
            poe = self._poe(stamp.signed_revision, valid)
            try:
                status = await async_validate_pdf_timestamp(
                    stamp, validation_context=self._context(poe), skip_diff=True
                )
            except Exception:
                logger.info("document time stamp %r is unreadable", stamp.field_name, exc_info=True)
                continue
            revoked = self._revocation(_chain(status.validation_path))
            if not (
                status.intact
                and status.valid
                and status.trusted
                and status.coverage in _WHOLE_REVISION
                and (revoked is None or revoked.revoked_at > (poe or self._now))
            ):
                logger.info("document time stamp %r does not count", stamp.field_name)
                continue
            resolver = self._reader.get_historical_resolver(stamp.signed_revision)
            valid.append(
                _DocumentTimestamp(stamp.signed_revision, status.timestamp, read_dss(resolver))
            )
        return valid

    # -- signatures -----------------------------------------------------------------------

    async def _validate(
        self, sig: EmbeddedPdfSignature, stamps: Sequence[_DocumentTimestamp]
    ) -> SignatureReport:
        field, signer = _field_name(sig), _signer_cn(sig)
        poe = self._poe(sig.signed_revision, stamps)
        claimed = _claimed_timestamp(sig)
        try:
            status = await async_validate_pdf_signature(
                sig,
                signer_validation_context=self._context(claimed),
                ts_validation_context=self._context(poe),
            )
            ts = status.timestamp_validity
            ts_chain = _chain(ts.validation_path) if ts is not None else None
            tsa_revoked = self._revocation(ts_chain)
            ts_trusted = (
                ts is not None
                and ts.trusted
                and (tsa_revoked is None or tsa_revoked.revoked_at > (poe or self._now))
            )
            ts_ok = ts is not None and ts.intact and ts.valid and ts_trusted
            moment = ts.timestamp if ts is not None and ts_ok else None
            if moment != claimed:
                # The signer was validated at a time that does not count (a second token, or
                # a broken or untrusted one): again, at the right time. The difference
                # analysis from the first pass stays on ``sig``.
                status = await async_validate_pdf_signature(
                    sig,
                    signer_validation_context=self._context(moment),
                    ts_validation_context=self._context(poe),
                    skip_diff=True,
                )
        except Exception:  # malformed CMS, unsupported subfilter, broken byte range, ...
            logger.info("signature in field %r could not be validated", field, exc_info=True)
            return _unreadable(field, signer)

        signer_chain = _chain(status.validation_path)
        revoked = self._revocation(signer_chain)
        revoked_in_time = revoked is not None and revoked.revoked_at <= (moment or self._now)
        level = LEVEL_B_B
        if ts_ok:
            level = LEVEL_B_T
            chains = [c for c in (signer_chain, ts_chain) if c is not None]
            if len(chains) == 2 and self._holds_validation_data(self._dss, chains):
                level = LEVEL_B_LT
                if any(
                    s.revision > sig.signed_revision and self._holds_validation_data(s.dss, chains)
                    for s in stamps
                ):
                    level = LEVEL_B_LTA
        return _report(
            field,
            signer,
            status,
            ts_intact=ts is None or (ts.intact and ts.valid),
            ts_trusted=ts is None or ts_trusted,
            timestamp=moment,
            revoked=revoked,
            revoked_in_time=revoked_in_time,
            level=level,
            certified=_is_certification(sig),
        )


def _claimed_timestamp(sig: EmbeddedPdfSignature) -> datetime | None:
    """The time the first signature time stamp token claims, before it is verified."""
    try:
        tokens = signature_timestamp_tokens(sig.signer_info)
        return token_time(tokens[0]) if tokens else None
    except Exception:  # a malformed token: pyHanko's validation reports it
        return None


def _is_certification(sig: EmbeddedPdfSignature) -> bool:
    """A certification signature carries a DocMDP transform in its (signed) dictionary."""
    try:
        references = sig.sig_object.get("/Reference", generic.ArrayObject())
        return any(ref.get_object().get("/TransformMethod") == "/DocMDP" for ref in references)
    except Exception:  # a malformed /Reference: not a certification we can honour
        return False


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


def _report(
    field: str,
    signer: str | None,
    status: PdfSignatureStatus,
    *,
    ts_intact: bool,
    ts_trusted: bool,
    timestamp: datetime | None,
    revoked: RevokedCertificate | None,
    revoked_in_time: bool,
    level: str,
    certified: bool,
) -> SignatureReport:
    intact = status.intact and status.valid and ts_intact
    signer_trusted = status.trusted and not revoked_in_time
    trusted = signer_trusted and ts_trusted
    modified_after = _modified_after(status)

    if not (status.intact and status.valid):
        reason = REASON_NOT_INTACT
    elif not ts_intact:
        reason = REASON_BAD_TIMESTAMP
    elif modified_after:
        reason = REASON_MODIFIED
    elif revoked_in_time:
        reason = REASON_REVOKED
    elif not signer_trusted:
        reason = _trust_reason(status.trust_problem_indic)
    elif not ts_trusted:
        reason = REASON_TSA_UNTRUSTED
    elif revoked is not None:
        reason = REASON_VALID_REVOKED_LATER.format(waktu=format_waktu_wib(revoked.revoked_at))
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
        level=level,
        certified=certified,
        revoked_at=revoked.revoked_at if revoked is not None else None,
    )
