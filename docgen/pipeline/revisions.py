"""The revisions a document's PDF goes through, made from bytes alone: the prepared PDF (QR
code, footer, empty signature fields) and each signed one, then the B-LTA one.

No registry, storage or service code is imported here, so the bulk worker processes
(docgen.pipeline.workers), which do exactly these steps, start without loading the whole service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from pyhanko.sign.timestamps.api import TimeStamper

from docgen.errors import TemplateInvalid
from signing.errors import AnchorNotFound
from signing.pades.long_term import add_long_term_validation
from signing.pades.sign import SignatureAppearance, SigningIdentity, sign_pdf
from signing.prepare.anchors import locate_anchors
from signing.prepare.stamp import prepare_pdf, signature_box_at

__all__ = [
    "FOOTER",
    "LONG_TERM",
    "PREPARED",
    "SIGNED",
    "SOURCE",
    "SignatureRequest",
    "apply_signature",
    "field_name",
    "stamp_converted",
]

# Revision kinds, in the order they are made.
SOURCE = "source"
PREPARED = "prepared"
SIGNED = "signed"
LONG_TERM = "lta"  # certificates, revocation data and a document time stamp (PAdES B-LTA)

FOOTER = (
    "Dokumen ini telah ditandatangani secara elektronik menggunakan sertifikat elektronik. "
    "Keaslian dokumen dapat diverifikasi dengan memindai kode QR atau melalui {url}"
)


def field_name(role: str) -> str:
    return f"ttd_{role}"


def stamp_converted(
    pdf: bytes, template_id: str, roles: Sequence[str], verify_url: str
) -> tuple[bytes, dict[str, int]]:
    """The converted PDF with QR code, footer and one empty signature field per role at its
    anchor; and the page of each role's field. CPU only (runs in worker processes too).

    Raises TemplateInvalid when a role's anchor is missing from the PDF.
    """
    try:
        anchors = locate_anchors(pdf, list(roles))
    except AnchorNotFound as exc:
        raise TemplateInvalid(f"Templat {template_id}: {exc}") from exc
    boxes = [signature_box_at(anchors[role], field_name(role)) for role in roles]
    prepared = prepare_pdf(
        pdf, verify_url=verify_url, footer_text=FOOTER.format(url=verify_url), fields=boxes
    )
    return prepared, {role: anchors[role].page for role in roles}


@dataclass(frozen=True)
class SignatureRequest:
    """What signing one slot of one document needs besides the key: picklable, so a worker
    process can do it (see docgen.pipeline.workers)."""

    field_name: str
    appearance: SignatureAppearance
    reason: str
    certify: bool  # the first signature certifies: afterwards only further signatures
    archive: bool  # the last signature is followed by the B-LTA revision


async def apply_signature(
    pdf: bytes,
    request: SignatureRequest,
    identity: SigningIdentity,
    timestamper: TimeStamper,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
) -> list[tuple[str, bytes]]:
    """The new revisions, (kind, PDF): the signed one, then the B-LTA one after the last signer."""
    signed = await sign_pdf(
        pdf,
        field_name=request.field_name,
        identity=identity,
        appearance=request.appearance,
        timestamper=timestamper,
        reason=request.reason,
        certify=request.certify,
    )
    outputs = [(SIGNED, signed)]
    if request.archive:
        long_term = await add_long_term_validation(
            signed, trust_roots=trust_roots, crls=crls, timestamper=timestamper
        )
        outputs.append((LONG_TERM, long_term))
    return outputs
