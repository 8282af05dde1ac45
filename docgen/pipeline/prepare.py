"""Prepare: the converted PDF made ready for signatures (QR code, footer, one empty signature
field per role at its anchor). Bytes in, bytes out: the bulk worker processes run it too."""

from __future__ import annotations

from collections.abc import Sequence

from docgen.errors import TemplateInvalid
from docgen.templating.manifest import EMETERAI_MARKER
from signing.errors import AnchorNotFound
from signing.prepare import locate_anchors, locate_markers, prepare_pdf, signature_box_at

__all__ = ["EMETERAI_FIELD", "FOOTER", "field_name", "stamp_converted"]

EMETERAI_FIELD = "emeterai"
"""The signature field the e-Meterai goes into (a role's field is ``ttd_<role>``)."""

FOOTER = (
    "Dokumen ini telah ditandatangani secara elektronik menggunakan sertifikat elektronik. "
    "Keaslian dokumen dapat diverifikasi dengan memindai kode QR atau melalui {url}"
)


def field_name(role: str) -> str:
    """The PDF signature field of a signer role."""
    return f"ttd_{role}"


def stamp_converted(
    pdf: bytes,
    template_id: str,
    roles: Sequence[str],
    verify_url: str,
    emeterai_size: float | None = None,
) -> tuple[bytes, dict[str, int]]:
    """The converted PDF with QR code, footer and one empty signature field per role at its
    anchor; and the page of each role's field. CPU only (runs in worker processes too).

    ``emeterai_size``: the document carries an e-Meterai; its box (that many points square,
    top-left at the template's ``#EMETERAI#``) becomes the empty signature field
    ``EMETERAI_FIELD`` now, so that affixing it later is a permitted change under the first
    signature's DocMDP (a signature into a field that was there).

    Raises TemplateInvalid when a role's anchor (or the e-Meterai's marker) is missing.
    """
    try:
        anchors = locate_anchors(pdf, list(roles))
    except AnchorNotFound as exc:
        raise TemplateInvalid(f"Templat {template_id}: {exc}") from exc
    boxes = [signature_box_at(anchors[role], field_name(role)) for role in roles]
    if emeterai_size is not None:
        found = locate_markers(pdf, {EMETERAI_FIELD: EMETERAI_MARKER})
        if EMETERAI_FIELD not in found:
            raise TemplateInvalid(
                f"Templat {template_id}: kotak e-Meterai ({EMETERAI_MARKER}) tidak ada di dokumen"
            )
        boxes.append(
            signature_box_at(
                found[EMETERAI_FIELD], EMETERAI_FIELD, width=emeterai_size, height=emeterai_size
            )
        )
    prepared = prepare_pdf(
        pdf, verify_url=verify_url, footer_text=FOOTER.format(url=verify_url), fields=boxes
    )
    return prepared, {role: anchors[role].page for role in roles}
