"""A converted PDF made ready for signatures: QR code and verification footer on every page,
one empty signature field per signer at the anchor the template marked."""

from signing.prepare.anchors import AnchorPosition, anchor_marker, locate_anchors, locate_markers
from signing.prepare.stamp import FooterStyle, SignatureBox, prepare_pdf, signature_box_at

__all__ = [
    "AnchorPosition",
    "FooterStyle",
    "SignatureBox",
    "anchor_marker",
    "locate_anchors",
    "locate_markers",
    "prepare_pdf",
    "signature_box_at",
]
