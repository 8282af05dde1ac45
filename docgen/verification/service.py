"""What the public sees: by verification code, and for an uploaded PDF."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import signing.fast
from docgen.documents import repository as documents
from docgen.documents.service import pending_roles
from docgen.emeterai.schemas import EMeteraiOut
from docgen.errors import NotFound, TooManyRequests, UploadInvalid
from docgen.indonesia import mask_nip
from docgen.kit.limits import refuse_oversized
from docgen.kit.links import Links
from docgen.kit.sandbox import Sandbox, SandboxBusy, SandboxFailed, SandboxTimeout
from docgen.kit.together import side_by_side
from docgen.people.profiles import zone_of
from docgen.registry.db import Database
from docgen.registry.models import Document, Revision, SignatureSlot, Unit
from docgen.registry.statuses import DocumentStatus, RevisionKind
from docgen.verification.schemas import (
    CertificateOut,
    IssuerOut,
    PublicDocumentOut,
    PublicSignatureOut,
    ReplacementOut,
    SignatureCheckOut,
    UploadCheckOut,
    UploadedRevisionOut,
    Verdict,
    VerificationOut,
)
from signing.waktu import Zona, format_waktu, format_waktu_wib

__all__ = [
    "KeptView",
    "VERIFY_MODULE",
    "PublicViews",
    "TrustFiles",
    "UploadChecks",
    "public_download",
    "structural_refusal",
    "upload_verdict",
]

VERIFY_MODULE = "docgen.verification.worker"  # what the sandbox runs for an uploaded PDF

STATUS_LABEL = {
    DocumentStatus.SAH: "SAH",
    DocumentStatus.DICABUT: "DICABUT",
    DocumentStatus.DITOLAK: "DITOLAK",
    DocumentStatus.MENUNGGU_PARAF: "MENUNGGU PARAF",
    DocumentStatus.DIKEMBALIKAN: "DIKEMBALIKAN",
}

CACHED_VIEWS = 10_000  # the most recently read, ~2 KB each

# The public PDF: once every signer has signed; a revoked one stays there, marked revoked.
DOWNLOADABLE = frozenset({DocumentStatus.SAH, DocumentStatus.DICABUT})

VERDICT_TEXT: dict[Verdict, tuple[str, str]] = {
    Verdict.ASLI: (
        "ASLI",
        "Berkas ini sama persis dengan versi terakhir dokumen yang kami terbitkan, telah "
        "ditandatangani oleh seluruh penanda tangan, dan setiap tanda tangan elektroniknya sah.",
    ),
    Verdict.BELUM_LENGKAP: (
        "BELUM LENGKAP",
        "Berkas ini kami terbitkan, tetapi dokumennya belum ditandatangani oleh seluruh "
        "penanda tangan, sehingga belum berlaku.",
    ),
    Verdict.BUKAN_VERSI_TERAKHIR: (
        "BUKAN VERSI TERAKHIR",
        "Berkas ini versi lama dokumen yang kami terbitkan: belum memuat semua tanda tangan "
        "atau data validasinya. Mintalah versi terakhir dari halaman status dokumen.",
    ),
    Verdict.DICABUT: (
        "DICABUT",
        "Dokumen ini kami terbitkan, tetapi telah dicabut dan tidak berlaku lagi.",
    ),
    Verdict.DITOLAK: (
        "DITOLAK",
        "Dokumen ini ditolak oleh penanda tangan dan tidak berlaku.",
    ),
    Verdict.TANDA_TANGAN_SAH: (
        "TANDA TANGAN SAH",
        "Tanda tangan elektronik dalam berkas ini sah, tetapi berkas ini bukan dokumen yang "
        "diterbitkan melalui layanan ini.",
    ),
    Verdict.TIDAK_SAH: (
        "TIDAK SAH",
        "Berkas ini tidak dapat dipercaya: ada tanda tangan yang tidak sah atau berkas diubah "
        "setelah ditandatangani.",
    ),
}
UNSIGNED_TEXT = (
    "Berkas ini tidak dapat dipercaya: tidak memuat tanda tangan elektronik dan bukan dokumen "
    "yang diterbitkan melalui layanan ini."
)


@dataclass(frozen=True)
class TrustFiles:
    """What the validation processes trust: our root certificate (PEM) and the current CRL
    (DER), as files they read."""

    roots: Path
    crl: Path


def upload_verdict(document: Document | None, is_latest: bool, valid: bool) -> Verdict:
    """Green only for the current revision of a complete, unrevoked document we issued whose
    every signature holds; a revoked or declined one is red whichever revision it is."""
    if document is None:
        return Verdict.TANDA_TANGAN_SAH if valid else Verdict.TIDAK_SAH
    if document.status == DocumentStatus.DICABUT:
        return Verdict.DICABUT
    if document.status == DocumentStatus.DITOLAK:
        return Verdict.DITOLAK
    if document.status != DocumentStatus.SAH:
        return Verdict.BELUM_LENGKAP
    if not is_latest:
        return Verdict.BUKAN_VERSI_TERAKHIR
    return Verdict.ASLI if valid else Verdict.TIDAK_SAH


def public_download(document: Document) -> str | None:
    """Where the public may download the document's PDF, if they may yet."""
    if document.status not in DOWNLOADABLE:
        return None
    return f"/v/{document.issued_code}/pdf"


def _public_view(
    document: Document,
    links: Links,
    issuer: IssuerOut,
    replacement: Document | None = None,
    zona: Zona = Zona.WIB,
) -> VerificationOut:
    """The document as a citizen may see it: no NIK, NIP masked; times written in ``zona``
    (its unit's).

    ``replacement`` is the document that replaces a revoked one (``document.replaced_by_id``).
    """
    current = document.revisions[-1]
    return VerificationOut(
        status=document.status,
        status_label=STATUS_LABEL.get(document.status, "MENUNGGU TANDA TANGAN"),
        document=PublicDocumentOut(
            type=document.document_type.replace("_", " ").title(),
            title=document.title,
            number=document.issued_number,
            date=document.document_date,
            template=document.template_id,
            issued_at=document.created_at,
            revoked_at=document.revoked_at,
            revoke_reason=document.revoke_reason,
            timezone=zona,
        ),
        issuer=issuer,
        replaced_by=(
            ReplacementOut(
                number=replacement.issued_number,
                title=replacement.title,
                verify_url=links.verify_url(replacement.issued_code),
            )
            if replacement is not None
            else None
        ),
        signatures=[_signature_view(slot, zona) for slot in document.slots],
        emeterai=EMeteraiOut.of(document),
        level=signature_level(document),
        pending_roles=pending_roles(document),
        sha256=current.sha256,
        verify_url=links.verify_url(document.issued_code),
        download_url=public_download(document),
    )


def _in_zone(signature: dict[str, Any], zona: Zona) -> dict[str, Any]:
    """A signature's check of an uploaded copy of a document issued here, its revocation time
    written in the zone of the document's unit. signing/ validates without knowing whose the
    document is (WIB); the registry tells us once the copy is found to be ours."""
    revoked_at = signature.get("revoked_at")
    if not revoked_at or zona == Zona.WIB:
        return signature
    moment = datetime.fromisoformat(revoked_at)
    reason = str(signature["reason"]).replace(format_waktu_wib(moment), format_waktu(moment, zona))
    return {**signature, "reason": reason}


def signature_level(document: Document) -> str | None:
    """The PAdES level the current revision reached: B-LTA once the last signer has signed."""
    kinds = {r.kind for r in document.revisions}
    if RevisionKind.LONG_TERM in kinds:
        return "B-LTA"
    return "B-T" if RevisionKind.SIGNED in kinds else None


def _signature_view(slot: SignatureSlot, zona: Zona) -> PublicSignatureOut:
    signer = slot.signer
    revoked_at = signer.revoked_at if signer else None
    valid = slot.signed_at is not None
    note = None
    if revoked_at is not None and slot.signed_at is not None:
        # The recorded time follows the signature's RFC 3161 time stamp, and nothing is recorded
        # once the certificate is revoked: only a time before the revocation proves it.
        dicabut = format_waktu(revoked_at, zona)
        if slot.signed_at < revoked_at:
            note = (
                f"Sertifikat penanda tangan dicabut pada {dicabut}, setelah "
                "dokumen ini ditandatangani; tanda tangan ini tetap sah karena waktunya "
                "dibuktikan dengan cap waktu (timestamp)."
            )
        else:
            valid = False
            note = (
                f"Sertifikat penanda tangan dicabut pada {dicabut}; cap waktu "
                "tanda tangan ini tidak membuktikan bahwa ia dibuat sebelumnya: TIDAK SAH."
            )
    return PublicSignatureOut(
        role=slot.role,
        label=slot.label,
        name=signer.name if signer else None,
        jabatan=signer.jabatan if signer else None,
        nip=mask_nip(signer.nip) if signer and signer.nip else None,
        signed_at=slot.signed_at,
        certificate_revoked_at=revoked_at,
        valid=valid,
        note=note,
        certificate=(
            _certificate_view(signer.certificate_pem)
            if signer and signer.certificate_pem and slot.signed_at
            else None
        ),
    )


def _certificate_view(pem: str) -> CertificateOut:
    certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return CertificateOut(
        subject=_common_name(certificate.subject),
        issuer=_common_name(certificate.issuer),
        serial=format(certificate.serial_number, "X"),
    )


def _common_name(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


@dataclass
class KeptView:
    """A document's public view while a process keeps it, with its JSON and its page made
    once each."""

    until: float  # time.monotonic()
    view: VerificationOut
    _json: bytes | None = None
    _page: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            self._json = self.view.model_dump_json().encode()
        return self._json

    def page(self, render: Callable[[dict[str, Any]], str]) -> bytes:
        """The page ``render`` makes of the view, UTF-8."""
        if self._page is None:
            self._page = render(self.view.model_dump(mode="json")).encode()
        return self._page


class PublicViews:
    """Documents as the public sees them, with who issued them (``DOCGEN_INSTANSI`` and the
    document's unit).

    A view read by its code is kept for ``cache_seconds``: a QR code scanned by many people at
    once (a document shown in a meeting, printed on a notice) costs the registry one read per
    second per process, and a change (a signature, a revocation) shows on every instance
    within that time, inside the deployment's two seconds. Unknown codes are not kept.

    While one caller reads an expired view again, the others get the expired one for up to half
    of ``cache_seconds`` more instead of waiting for that read: under wrk's 50 connections the
    whole queue of readers stalled once a second behind it (p99 134 ms at 2,300 reads/s). A view
    is kept from when its read *started*, so what anyone is shown was read less than
    1.5 x ``cache_seconds`` ago.
    """

    def __init__(
        self, db: Database, links: Links, instansi: str | None, cache_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.links = links
        self.instansi = instansi
        self.cache_seconds = cache_seconds
        self._cache: OrderedDict[str, KeptView] = OrderedDict()
        self._loading: dict[str, anyio.Event] = {}

    async def by_code(self, code: str) -> KeptView:
        """The view of the document of ``code``, with what was made of it while it is kept.

        Raises NotFound, the same for every unknown code.
        """
        kept = self.kept(code)
        if kept is not None:
            return kept
        loading = self._loading.get(code)
        if loading is not None:  # one read of the registry for all who ask at once
            await loading.wait()
            kept = self.kept(code)
            if kept is not None:
                return kept
        self._loading[code] = loaded = anyio.Event()
        started = time.monotonic()
        try:
            async with self.db.session() as session:
                view = await self.of(session, await documents.by_code(session, code))
            kept = KeptView(started + self.cache_seconds, view)
            if self.cache_seconds > 0:
                self._cache[code] = kept
                self._cache.move_to_end(code)
                while len(self._cache) > CACHED_VIEWS:
                    self._cache.popitem(last=False)
            return kept
        finally:
            del self._loading[code]
            loaded.set()

    def kept(self, code: str) -> KeptView | None:
        """The view of ``code`` while it is kept (or expired less than half ``cache_seconds``
        ago while another caller reads it again), else None: ``by_code`` then reads it."""
        kept = self._cache.get(code)
        if kept is None:
            return None
        now = time.monotonic()
        if kept.until > now:
            return kept
        if code in self._loading and now < kept.until + self.cache_seconds / 2:
            return kept
        return None

    async def of(self, session: AsyncSession, document: Document) -> VerificationOut:
        unit = await session.get(Unit, document.unit_id) if document.unit_id else None
        replacement = None
        if document.replaced_by_id is not None:
            replacement = await session.get(Document, document.replaced_by_id)
        issuer = IssuerOut(instansi=self.instansi, unit=unit.name if unit else None)
        zona = await zone_of(session, document.unit_id)
        return _public_view(document, self.links, issuer, replacement, zona)

    async def download(self, session: AsyncSession, code: str) -> tuple[Document, Revision]:
        """The document and its revision the public may download.

        Raises NotFound: an unknown code, or a document not every signer has signed yet.
        """
        document = await documents.by_code(session, code)
        if public_download(document) is None:
            raise NotFound(
                "Dokumen belum ditandatangani oleh seluruh penanda tangan; berkasnya belum "
                "dapat diunduh"
            )
        return document, document.revisions[-1]


# Bounds checked on the bytes before an upload waits for a process, each far above any document
# of ours: an MoU or a pakta has 1-3 signatures, a document timestamp and about 5 revisions (a
# berita acara for 40 people still has 3 signatures). A file over them is made to keep a process
# busy: pyHanko walks every revision for each signature. Counting words in the raw bytes sees only
# what is not compressed (the worker counts the form again after parsing) and may count a word
# twice (a field rewritten by a later revision), never less than there is.
MAX_SIGNATURES = 50  # signature dictionaries, each with one /ByteRange
MAX_SIGNATURE_FIELDS = 100  # /FT /Sig: a field rewritten in each of 5 revisions counts 5 times
MAX_REVISIONS = 100  # %%EOF markers, one per revision
# A check takes well under a second when nobody floods us: in a few seconds one of the
# client's is done.
RETRY_AFTER_SECONDS = 3
_SIGNATURE_FIELD = re.compile(rb"/FT\s*/Sig\b")


def structural_refusal(pdf: bytes) -> str | None:
    """Why the PDF is refused before it is parsed, in Bahasa Indonesia (None: it is not); a
    few linear scans of its bytes."""
    if pdf.count(b"/ByteRange") > MAX_SIGNATURES:
        return f"Berkas PDF memuat lebih dari {MAX_SIGNATURES} tanda tangan; tidak kami periksa"
    if len(_SIGNATURE_FIELD.findall(pdf)) > MAX_SIGNATURE_FIELDS:
        return (
            f"Berkas PDF memuat lebih dari {MAX_SIGNATURE_FIELDS} kolom tanda tangan; "
            "tidak kami periksa"
        )
    if pdf.count(b"%%EOF") > MAX_REVISIONS:
        return f"Berkas PDF memuat lebih dari {MAX_REVISIONS} revisi; tidak kami periksa"
    return None


@dataclass(frozen=True)
class _Issued:
    """What we issued of an uploaded file, found by its SHA-256: the revision, its document and
    the document's public view (None for a file not issued here)."""

    revision: Revision | None
    document: Document | None
    view: VerificationOut | None


class UploadChecks:
    """Checks uploaded PDFs: each in a bounded process of the sandbox, against our trust
    files, then compared with what we issued."""

    def __init__(
        self,
        views: PublicViews,
        sandbox: Sandbox,
        trust: TrustFiles,
        max_bytes: int,
        per_client: int,
    ) -> None:
        self.views = views
        self.per_client = per_client
        self.sandbox = sandbox
        self.trust = trust
        self.max_bytes = max_bytes

    async def check(self, session: AsyncSession, pdf: bytes, client: str) -> UploadCheckOut:
        """Compare with what we issued and validate every signature; ``client`` (the caller's
        address) waits its turn among the clients for a process.

        Raises UploadTooLarge (413), UploadInvalid (400) for anything that is not a readable
        PDF or is beyond our bounds, TooManyRequests (429) while the client has as many checks
        waiting or running as it may.
        """
        refuse_oversized("Berkas PDF", pdf, self.max_bytes)
        if not pdf.lstrip()[:5] == b"%PDF-":
            raise UploadInvalid("Berkas bukan PDF")
        refused = structural_refusal(pdf)
        if refused is not None:
            raise UploadInvalid(refused)
        sha256 = hashlib.sha256(pdf).hexdigest()
        # The registry is read while a process validates the file: its few queries (~10 ms)
        # no longer add to the check's time.
        report, issued = await side_by_side(
            lambda: self._validate(pdf, client), lambda: self._issued(session, sha256)
        )
        revision, document = issued.revision, issued.document
        is_latest = document is not None and document.revisions[-1].sha256 == sha256
        valid = bool(report["valid"])
        verdict = upload_verdict(document, is_latest, valid)
        label, text = VERDICT_TEXT[verdict]
        if verdict == Verdict.TIDAK_SAH and not report["signatures"]:
            text = UNSIGNED_TEXT
        return UploadCheckOut(
            verdict=verdict,
            verdict_label=label,
            verdict_text=text,
            issued_here=revision is not None,
            sha256=sha256,
            revision=(
                UploadedRevisionOut(seq=revision.seq, kind=revision.kind) if revision else None
            ),
            is_latest=is_latest,
            document=issued.view,
            valid=valid,
            level=report["level"],
            document_timestamp=report["document_timestamp"],
            signatures=[
                SignatureCheckOut(**_in_zone(s, issued.view.document.timezone))
                if issued.view is not None
                else SignatureCheckOut(**s)
                for s in report["signatures"]
            ],
        )

    async def _issued(self, session: AsyncSession, sha256: str) -> _Issued:
        revision = await session.scalar(select(Revision).where(Revision.sha256 == sha256))
        document = await session.get(Document, revision.document_id) if revision else None
        view = await self.views.of(session, document) if document else None
        return _Issued(revision, document, view)

    async def _validate(self, pdf: bytes, client: str) -> dict[str, Any]:
        try:
            found = await self.sandbox.run(
                VERIFY_MODULE,
                # the validation process takes this process's paths (settings.fast_paths)
                [
                    str(self.trust.roots),
                    str(self.trust.crl),
                    "fast" if signing.fast.enabled() else "library",
                ],
                pdf,
                client=client,
                per_client=self.per_client,
            )
        except SandboxBusy:
            raise TooManyRequests(
                "Masih ada pemeriksaan berkas Anda yang berjalan; coba lagi sebentar lagi",
                RETRY_AFTER_SECONDS,
            ) from None
        except SandboxTimeout:
            raise UploadInvalid("Berkas PDF tidak dapat diperiksa dalam batas waktu") from None
        except SandboxFailed:
            raise UploadInvalid(
                "Berkas PDF tidak dapat dibaca (rusak atau terlalu rumit)"
            ) from None
        report: dict[str, Any] = json.loads(found)
        if "refused" in report:
            raise UploadInvalid(report["refused"])
        if "invalid_pdf" in report:
            raise UploadInvalid(f"Berkas bukan PDF yang dapat dibaca: {report['invalid_pdf']}")
        return report
