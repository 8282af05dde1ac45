"""What the public sees: by verification code, and for an uploaded PDF."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.documents import repository as documents
from docgen.documents.service import pending_roles
from docgen.errors import UploadInvalid
from docgen.indonesia import mask_nip
from docgen.kit.limits import refuse_oversized
from docgen.kit.links import Links
from docgen.kit.sandbox import Sandbox, SandboxFailed, SandboxTimeout
from docgen.registry.models import Document, Revision, SignatureSlot
from docgen.registry.statuses import DocumentStatus, RevisionKind
from docgen.verification.schemas import (
    PublicDocumentOut,
    PublicSignatureOut,
    ReplacementOut,
    SignatureCheckOut,
    UploadCheckOut,
    UploadedRevisionOut,
    VerificationOut,
)
from signing.waktu import format_waktu_wib

__all__ = ["TrustFiles", "UploadChecks", "public_view", "verify_code"]

STATUS_LABEL = {
    DocumentStatus.SAH: "SAH",
    DocumentStatus.DICABUT: "DICABUT",
    DocumentStatus.DITOLAK: "DITOLAK",
}


@dataclass(frozen=True)
class TrustFiles:
    """What the validation processes trust: our root certificate (PEM) and the current CRL
    (DER), as files they read."""

    roots: Path
    crl: Path


def public_view(
    document: Document, links: Links, replacement: Document | None = None
) -> VerificationOut:
    """The document as a citizen may see it: no NIK, NIP masked.

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
        ),
        replaced_by=(
            ReplacementOut(
                number=replacement.issued_number,
                title=replacement.title,
                verify_url=links.verify_url(replacement.issued_code),
            )
            if replacement is not None
            else None
        ),
        signatures=[_signature_view(slot) for slot in document.slots],
        level=signature_level(document),
        pending_roles=pending_roles(document),
        sha256=current.sha256,
        verify_url=links.verify_url(document.issued_code),
        download_url=f"/v/{document.issued_code}/pdf",
    )


def signature_level(document: Document) -> str | None:
    """The PAdES level the current revision reached: B-LTA once the last signer has signed."""
    kinds = {r.kind for r in document.revisions}
    if RevisionKind.LONG_TERM in kinds:
        return "B-LTA"
    return "B-T" if RevisionKind.SIGNED in kinds else None


def _signature_view(slot: SignatureSlot) -> PublicSignatureOut:
    signer = slot.signer
    revoked_at = signer.revoked_at if signer else None
    valid = slot.signed_at is not None
    note = None
    if revoked_at is not None and slot.signed_at is not None:
        # The recorded time follows the signature's RFC 3161 time stamp, and nothing is recorded
        # once the certificate is revoked: only a time before the revocation proves it.
        if slot.signed_at < revoked_at:
            note = (
                f"Sertifikat penanda tangan dicabut pada {format_waktu_wib(revoked_at)}, setelah "
                "dokumen ini ditandatangani; tanda tangan ini tetap sah karena waktunya "
                "dibuktikan dengan cap waktu (timestamp)."
            )
        else:
            valid = False
            note = (
                f"Sertifikat penanda tangan dicabut pada {format_waktu_wib(revoked_at)}; cap waktu "
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
    )


async def _public_view(session: AsyncSession, document: Document, links: Links) -> VerificationOut:
    replacement = None
    if document.replaced_by_id is not None:
        replacement = await session.get(Document, document.replaced_by_id)
    return public_view(document, links, replacement)


async def verify_code(session: AsyncSession, links: Links, code: str) -> VerificationOut:
    """Raises NotFound, the same for every unknown code."""
    return await _public_view(session, await documents.by_code(session, code), links)


class UploadChecks:
    """Checks uploaded PDFs: each in a bounded process of the sandbox, against our trust
    files, then compared with what we issued."""

    def __init__(self, links: Links, sandbox: Sandbox, trust: TrustFiles, max_bytes: int) -> None:
        self.links = links
        self.sandbox = sandbox
        self.trust = trust
        self.max_bytes = max_bytes

    async def check(self, session: AsyncSession, pdf: bytes) -> UploadCheckOut:
        """Compare with what we issued and validate every signature.

        Raises UploadTooLarge (413), UploadInvalid (400) for anything that is not a readable
        PDF.
        """
        refuse_oversized("Berkas PDF", pdf, self.max_bytes)
        if not pdf.lstrip()[:5] == b"%PDF-":
            raise UploadInvalid("Berkas bukan PDF")
        report = await self._validate(pdf)
        sha256 = hashlib.sha256(pdf).hexdigest()
        revision = await session.scalar(select(Revision).where(Revision.sha256 == sha256))
        document = await session.get(Document, revision.document_id) if revision else None
        return UploadCheckOut(
            issued_here=revision is not None,
            sha256=sha256,
            revision=(
                UploadedRevisionOut(seq=revision.seq, kind=revision.kind) if revision else None
            ),
            is_latest=document is not None and document.revisions[-1].sha256 == sha256,
            document=await _public_view(session, document, self.links) if document else None,
            valid=bool(report["valid"]),
            level=report["level"],
            document_timestamp=report["document_timestamp"],
            signatures=[SignatureCheckOut(**s) for s in report["signatures"]],
        )

    async def _validate(self, pdf: bytes) -> dict[str, Any]:
        try:
            found = await self.sandbox.run(
                "docgen.verification.worker", [str(self.trust.roots), str(self.trust.crl)], pdf
            )
        except SandboxTimeout:
            raise UploadInvalid("Berkas PDF tidak dapat diperiksa dalam batas waktu") from None
        except SandboxFailed:
            raise UploadInvalid(
                "Berkas PDF tidak dapat dibaca (rusak atau terlalu rumit)"
            ) from None
        report: dict[str, Any] = json.loads(found)
        if "invalid_pdf" in report:
            raise UploadInvalid(f"Berkas bukan PDF yang dapat dibaca: {report['invalid_pdf']}")
        return report
