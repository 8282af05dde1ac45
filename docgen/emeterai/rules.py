"""The e-Meterai's rules on a document: pure functions of the registry's rows."""

from __future__ import annotations

from collections.abc import Mapping

from docgen.errors import FieldProblem
from docgen.registry.models import Document, SignatureSlot
from docgen.registry.statuses import DocumentStatus
from docgen.templating.manifest import TemplateManifest

__all__ = [
    "NOT_OFFERED",
    "affixed",
    "due",
    "offer_problems",
    "waits_for_emeterai",
]

NOT_OFFERED = (
    "layanan ini tidak terhubung ke penyedia e-Meterai; dokumen tidak dapat dibubuhi e-Meterai "
    "(kosongkan pilihan ini)"
)


def offer_problems(
    manifest: TemplateManifest, data: Mapping[str, object], configured: bool
) -> list[FieldProblem]:
    """Where no provider is configured, the template does not promise an e-Meterai: a request
    for one is a problem of its field (the template's text saying the document carries one is
    rendered only when the field is true, so the document never says so)."""
    if configured or manifest.emeterai is None or not manifest.emeterai_asked(data):
        return []
    return [FieldProblem(manifest.emeterai.field, NOT_OFFERED)]


def affixed(document: Document) -> bool:
    return document.emeterai_affixed_at is not None


def _before_order(document: Document) -> int | None:
    role = document.emeterai_before_role
    slot = next((s for s in document.slots if s.role == role), None) if role else None
    return slot.order if slot is not None else None


def waits_for_emeterai(document: Document, slot: SignatureSlot) -> bool:
    """Whether ``slot`` may not be signed yet because the e-Meterai is not affixed: it goes in
    before the role it names, so that role (and any later turn) waits for it."""
    order = _before_order(document)
    return order is not None and not affixed(document) and slot.order >= order


def due(document: Document) -> bool:
    """Whether the e-Meterai is to be affixed now: the document carries one, it is not there
    yet, the document waits for signatures, and every role before its role has signed."""
    order = _before_order(document)
    return (
        order is not None
        and not affixed(document)
        and document.status == DocumentStatus.MENUNGGU
        and all(s.signed_at is not None for s in document.slots if s.order < order)
    )
