"""Prepare: the converted PDF made ready for signatures (QR code, footer, one empty signature
field per role at its anchor). Bytes in, bytes out: the bulk worker processes run it too."""

from __future__ import annotations

from collections.abc import Sequence

from docgen.errors import TemplateInvalid
from signing.errors import AnchorNotFound
from signing.prepare import locate_anchors, prepare_pdf, signature_box_at

__all__ = ["FOOTER", "field_name", "stamp_converted"]

FOOTER = (
    "Dokumen ini telah ditandatangani secara elektronik menggunakan sertifikat elektronik. "
    "Keaslian dokumen dapat diverifikasi dengan memindai kode QR atau melalui {url}"
)


def field_name(role: str) -> str:
    """The PDF signature field of a signer role."""
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
