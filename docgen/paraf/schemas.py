"""What goes in and out of the paraf routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from docgen.kit.links import Links
from docgen.kit.types import PlainLines
from docgen.paraf.service import Pending

__all__ = ["ParafPendingOut", "ParafReturnIn"]


class ParafReturnIn(BaseModel):
    note: PlainLines = Field(
        min_length=3, max_length=1000, examples=["Dasar hukum pada konsideran belum lengkap"]
    )


class ParafPendingOut(BaseModel):
    """A paraf the verifikator still has to make; ``ready`` is false while an earlier
    verifikator has not initialled it yet."""

    document_id: str
    number: str
    title: str
    template: str
    step: int
    label: str
    ready: bool
    waiting_for: list[str] = Field(description="the labels of the steps that come first")
    page: str = Field(description="the document's office page")

    @classmethod
    def of(cls, pending: Pending, links: Links) -> ParafPendingOut:
        document = pending.document
        return cls(
            document_id=document.id,
            number=document.issued_number,
            title=document.title,
            template=document.template_id,
            step=pending.step.step,
            label=pending.step.label,
            ready=not pending.before,
            waiting_for=[s.label for s in pending.before],
            page=links.document_page(document.id),
        )
