"""How a document's e-Meterai is shown, in the documents' JSON and the public verification."""

from __future__ import annotations

from pydantic import BaseModel, Field

from docgen.kit.types import Instant
from docgen.registry.models import Document
from signing.emeterai import LOCAL_NOTICE

__all__ = ["EMeteraiOut"]


class EMeteraiOut(BaseModel):
    """The e-Meterai a document carries: affixed or not yet, and by whom."""

    affixed: bool
    before_role: str = Field(description="the role that signs after it")
    serial: str | None = Field(description="its serial number, once affixed")
    affixed_at: Instant | None
    provider: str | None = Field(description="who affixed it, as people read it")
    local: bool | None = Field(
        description="true: a local provider, not Peruri's: no stamp duty was paid"
    )
    note: str | None = Field(description="what a reader must know of it, in Bahasa Indonesia")

    @classmethod
    def of(cls, document: Document) -> EMeteraiOut | None:
        """None for a document without an e-Meterai."""
        if document.emeterai_before_role is None:
            return None
        affixed = document.emeterai_affixed_at is not None
        if not affixed:
            note = "e-Meterai belum dibubuhkan; dibubuhkan sebelum tanda tangan berikutnya."
        elif document.emeterai_local:
            note = LOCAL_NOTICE
        else:
            note = None
        return cls(
            affixed=affixed,
            before_role=document.emeterai_before_role,
            serial=document.emeterai_serial,
            affixed_at=document.emeterai_affixed_at,
            provider=document.emeterai_provider,
            local=document.emeterai_local,
            note=note,
        )
