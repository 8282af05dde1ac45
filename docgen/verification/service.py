"""What the public sees: by verification code, and for an uploaded PDF."""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import anyio
from sqlalchemy import select

from docgen.documents.service import DICABUT, SAH, find_by_code, latest_pdf, pending_roles
from docgen.errors import UploadInvalid
from docgen.indonesia import mask_nip
from docgen.kit.limits import refuse_oversized
from docgen.pipeline.revisions import LONG_TERM, SIGNED
from docgen.registry.models import Document, Revision, SignatureSlot
from docgen.runtime import Runtime
from signing.waktu import format_waktu_wib

STATUS_LABEL = {SAH: "SAH", DICABUT: "DICABUT"}


def public_view(
    rt: Runtime, document: Document, replacement: Document | None = None
) -> dict[str, Any]:
    """The document as a citizen may see it: no NIK, NIP masked.

    ``replacement`` is the document that replaces a revoked one (``document.replaced_by_id``).
    """
    current = latest_pdf(document)
    return {
        "status": document.status,
        "status_label": STATUS_LABEL.get(document.status, "MENUNGGU TANDA TANGAN"),
        "document": {
            "type": document.document_type.replace("_", " ").title(),
            "title": document.title,
            "number": document.number,
            "date": document.document_date,
            "template": document.template_id,
            "issued_at": document.created_at.isoformat(),
            "revoked_at": document.revoked_at.isoformat() if document.revoked_at else None,
            "revoke_reason": document.revoke_reason,
        },
        "replaced_by": (
            {
                "number": replacement.number,
                "title": replacement.title,
                "verify_url": rt.verify_url(replacement.verify_code),
            }
            if replacement is not None
            else None
        ),
        "signatures": [_signature_view(slot) for slot in document.slots],
        "level": signature_level(document),
        "pending_roles": pending_roles(document),
        "sha256": current.sha256,
        "verify_url": rt.verify_url(document.verify_code),
        "download_url": f"/v/{document.verify_code}/pdf",
    }


def signature_level(document: Document) -> str | None:
    """The PAdES level the current revision reached: B-LTA once the last signer has signed."""
    kinds = {r.kind for r in document.revisions}
    if LONG_TERM in kinds:
        return "B-LTA"
    return "B-T" if SIGNED in kinds else None


def _signature_view(slot: SignatureSlot) -> dict[str, Any]:
    signer = slot.signer
    revoked_at = signer.revoked_at if signer else None
    note = None
    if revoked_at is not None and slot.signed_at is not None:
        note = (
            f"Sertifikat penanda tangan dicabut pada {format_waktu_wib(revoked_at)}, setelah "
            "dokumen ini ditandatangani; tanda tangan ini tetap sah karena waktunya dibuktikan "
            "dengan cap waktu (timestamp)."
        )
    return {
        "role": slot.role,
        "label": slot.label,
        "name": signer.name if signer else None,
        "jabatan": signer.jabatan if signer else None,
        "nip": mask_nip(signer.nip) if signer and signer.nip else None,
        "signed_at": slot.signed_at.isoformat() if slot.signed_at else None,
        "certificate_revoked_at": revoked_at.isoformat() if revoked_at else None,
        "note": note,
    }


async def _public_view(rt: Runtime, document: Document) -> dict[str, Any]:
    replacement = None
    if document.replaced_by_id is not None:
        async with rt.db.session() as session:
            replacement = await session.get(Document, document.replaced_by_id)
    return public_view(rt, document, replacement)


async def verify_code(rt: Runtime, code: str) -> dict[str, Any]:
    """Raises NotFound."""
    return await _public_view(rt, await find_by_code(rt, code))


async def _validate_bounded(rt: Runtime, pdf: bytes) -> dict[str, Any]:
    try:
        async with rt.verify_slots:
            with anyio.fail_after(rt.settings.verify_timeout):
                result = await anyio.run_process(
                    [
                        sys.executable,
                        "-m",
                        "docgen.verification.worker",
                        str(rt.trust_roots_path),
                        str(rt.crl_path),
                    ],
                    input=pdf,
                    check=False,
                )
    except TimeoutError:
        raise UploadInvalid("Berkas PDF tidak dapat diperiksa dalam batas waktu") from None
    if result.returncode != 0:
        raise UploadInvalid("Berkas PDF tidak dapat dibaca (rusak atau terlalu rumit)")
    report: dict[str, Any] = json.loads(result.stdout)
    if "invalid_pdf" in report:
        raise UploadInvalid(f"Berkas bukan PDF yang dapat dibaca: {report['invalid_pdf']}")
    return report


async def verify_upload(rt: Runtime, pdf: bytes) -> dict[str, Any]:
    """Compare with what we issued and validate every signature.

    Raises UploadTooLarge (413), UploadInvalid (400) for anything that is not a readable PDF.
    """
    refuse_oversized("Berkas PDF", pdf, rt.settings.max_upload_bytes)
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise UploadInvalid("Berkas bukan PDF")
    report = await _validate_bounded(rt, pdf)
    sha256 = hashlib.sha256(pdf).hexdigest()
    async with rt.db.session() as session:
        revision = await session.scalar(select(Revision).where(Revision.sha256 == sha256))
        document = await session.get(Document, revision.document_id) if revision else None
    return {
        "issued_here": revision is not None,
        "sha256": sha256,
        "revision": {"seq": revision.seq, "kind": revision.kind} if revision else None,
        "is_latest": document is not None and latest_pdf(document).sha256 == sha256,
        "document": await _public_view(rt, document) if document else None,
        "valid": bool(report["valid"]),
        "level": report["level"],
        "document_timestamp": report["document_timestamp"],
        "signatures": report["signatures"],
    }
