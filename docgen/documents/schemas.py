"""What goes in and out of the documents' routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from docgen.kit.links import Links
from docgen.kit.types import Instant
from docgen.registry.models import Document, SignatureSlot
from docgen.registry.statuses import DocumentStatus, RevisionKind, SlotStatus

__all__ = [
    "DocumentIn",
    "DocumentOut",
    "PendingOut",
    "RevisionOut",
    "RevokeIn",
    "SignatureIn",
    "SlotOut",
]


class DocumentIn(BaseModel):
    template: str = Field(examples=["pakta-integritas"])
    data: dict[str, Any]
    signers: dict[str, str] = Field(
        default_factory=dict,
        description="per role, the id of the enrolled signer who must sign it; roles left out "
        "are bound by the NIP / NI PPPK / NIK in the data (422 naming a role that cannot be)",
    )
    unit_id: str | None = Field(
        default=None, description="the document's unit; the operator's own if they have one"
    )


class SignatureIn(BaseModel):
    """The caller signs as themselves: their session or token says who they are."""

    role: str
    pin: str = Field(min_length=1, max_length=64)


class RevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, examples=["Terdapat kesalahan data"])
    replaced_by: str | None = Field(default=None, description="id of the replacing document")


class SlotOut(BaseModel):
    """One signer role of a document and its state."""

    role: str
    label: str
    order: int
    status: SlotStatus
    signer_id: str | None
    assigned_signer_id: str | None
    name: str | None = Field(description="who signed it")
    signed_at: Instant | None


class RevisionOut(BaseModel):
    seq: int
    kind: RevisionKind
    sha256: str
    size: int
    created_at: Instant


class DocumentOut(BaseModel):
    id: str
    template: str
    template_version: int
    template_sha256: str
    type: str
    title: str
    status: DocumentStatus
    number: str
    date: str = Field(description="the document's date, YYYY-MM-DD")
    data: dict[str, Any]
    verify_code: str
    verify_url: str
    pending_roles: list[str]
    revoked_at: Instant | None
    revoke_reason: str | None
    replaced_by: str | None
    signers: list[SlotOut]
    revisions: list[RevisionOut]
    created_at: Instant

    @classmethod
    def of(cls, document: Document, links: Links) -> DocumentOut:
        return cls(
            id=document.id,
            template=document.template_id,
            template_version=document.template_version,
            template_sha256=document.template_sha256,
            type=document.document_type,
            title=document.title,
            status=document.status,
            number=document.number,
            date=document.document_date,
            data=document.data,
            verify_code=document.verify_code,
            verify_url=links.verify_url(document.verify_code),
            pending_roles=[s.role for s in document.slots if s.signed_at is None],
            revoked_at=document.revoked_at,
            revoke_reason=document.revoke_reason,
            replaced_by=document.replaced_by_id,
            signers=[
                SlotOut(
                    role=slot.role,
                    label=slot.label,
                    order=slot.order,
                    status=SlotStatus.SIGNED if slot.signed_at else SlotStatus.PENDING,
                    signer_id=slot.signer_id,
                    assigned_signer_id=slot.assigned_signer_id,
                    name=slot.signer.name if slot.signer else None,
                    signed_at=slot.signed_at,
                )
                for slot in document.slots
            ],
            revisions=[
                RevisionOut(
                    seq=r.seq, kind=r.kind, sha256=r.sha256, size=r.size, created_at=r.created_at
                )
                for r in document.revisions
            ],
            created_at=document.created_at,
        )


class PendingOut(BaseModel):
    """A signature a signer still has to make; ``ready`` is false while others sign first."""

    document_id: str
    number: str
    title: str
    template: str
    role: str
    label: str
    ready: bool
    waiting_for: list[str]
    verify_url: str

    @classmethod
    def of(
        cls, document: Document, slot: SignatureSlot, before: list[SignatureSlot], links: Links
    ) -> PendingOut:
        return cls(
            document_id=document.id,
            number=document.number,
            title=document.title,
            template=document.template_id,
            role=slot.role,
            label=slot.label,
            ready=not before,
            waiting_for=[s.role for s in before],
            verify_url=links.verify_url(document.verify_code),
        )
