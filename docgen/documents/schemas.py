"""What goes in and out of the documents' routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, Field

from docgen.documents.repository import Listed
from docgen.emeterai.rules import waits_for_emeterai
from docgen.emeterai.schemas import EMeteraiOut
from docgen.errors import FieldInvalid
from docgen.kit.links import Links
from docgen.kit.paging import PageOut, PageQuery, one_of, optional_filter
from docgen.kit.types import Instant, PlainLines
from docgen.registry.models import Document, ParafStep, SignatureSlot
from docgen.registry.statuses import DocumentStatus, ParafState, RevisionKind, SlotStatus
from docgen.templating.manifest import MAX_PARAF_STEPS
from docgen.templating.validation import validate_date

__all__ = [
    "DocumentIn",
    "DocumentItemOut",
    "DocumentListOut",
    "DocumentOut",
    "DocumentQuery",
    "ParafStepOut",
    "PendingOut",
    "RevisionOut",
    "RevokeIn",
    "SignatureIn",
    "SlotOut",
]


UserId = Annotated[str, Field(min_length=1, max_length=32)]


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
    paraf: list[UserId] = Field(
        default_factory=list,
        max_length=MAX_PARAF_STEPS,
        description="the verifikator (user ids, role verifikator, of the document's unit) who "
        "initial it in this order before the first signature; as many as the template's paraf "
        "steps where it asks for paraf (422 otherwise, and for the one who makes it)",
    )
    draft: bool = Field(
        default=False,
        description="true: a draft (no number, nothing public; editable, deletable) that "
        "POST /documents/{id}/issue issues; false: issued at once",
    )


class DraftIn(BaseModel):
    """A draft's new data and chosen signers."""

    data: dict[str, Any]
    signers: dict[str, str] = Field(default_factory=dict)
    paraf: list[UserId] = Field(default_factory=list, max_length=MAX_PARAF_STEPS)


class PagesOut(BaseModel):
    """The document's pages as images (a draft's marked DRAF)."""

    pages: int
    draft: bool
    images: list[str] = Field(description="one URL per page: a PNG")


class SignatureIn(BaseModel):
    """The caller signs as themselves: their session or token says who they are."""

    role: str
    pin: str = Field(min_length=1, max_length=64)


class DeclineIn(BaseModel):
    role: str
    reason: PlainLines = Field(min_length=3, max_length=1000, examples=["Nama instansi keliru"])


class RevokeIn(BaseModel):
    reason: PlainLines = Field(min_length=3, max_length=1000, examples=["Terdapat kesalahan data"])
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


class ParafStepOut(BaseModel):
    """One verifikator's paraf of a document: who, in which step, its state, when, and the
    note of a return."""

    step: int
    label: str
    user_id: str
    username: str
    state: ParafState
    at: Instant | None = Field(description="when it was initialled or returned")
    note: str | None = Field(description="why it was returned (for the operator)")

    @classmethod
    def of(cls, step: ParafStep) -> ParafStepOut:
        return cls(
            step=step.step,
            label=step.label,
            user_id=step.user_id,
            username=step.user.username,
            state=step.state,
            at=step.done_at,
            note=step.note,
        )


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
    number: str | None = Field(description="null while the document is a draft")
    date: str = Field(description="the document's date, YYYY-MM-DD")
    data: dict[str, Any]
    verify_code: str | None = Field(description="null while the document is a draft")
    verify_url: str | None
    pending_roles: list[str]
    revoked_at: Instant | None
    revoke_reason: str | None
    replaced_by: str | None
    declined_at: Instant | None
    declined_role: str | None
    decline_reason: str | None
    signers: list[SlotOut]
    paraf: list[ParafStepOut] = Field(
        description="the verifikator's steps, in order, before the signatures (none: no paraf)"
    )
    emeterai: EMeteraiOut | None = Field(
        description="the e-Meterai the document carries (null: none)"
    )
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
            verify_url=links.verify_url(document.verify_code) if document.verify_code else None,
            pending_roles=[s.role for s in document.slots if s.signed_at is None],
            revoked_at=document.revoked_at,
            revoke_reason=document.revoke_reason,
            replaced_by=document.replaced_by_id,
            declined_at=document.declined_at,
            declined_role=document.declined_role,
            decline_reason=document.decline_reason,
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
            paraf=[ParafStepOut.of(step) for step in document.paraf_steps],
            emeterai=EMeteraiOut.of(document),
            revisions=[
                RevisionOut(
                    seq=r.seq, kind=r.kind, sha256=r.sha256, size=r.size, created_at=r.created_at
                )
                for r in document.revisions
            ],
            created_at=document.created_at,
        )


class PendingOut(BaseModel):
    """A signature a signer still has to make; ``ready`` is false while others sign first (or
    the e-Meterai is affixed first: ``waiting_for`` then names ``emeterai``)."""

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
            number=document.issued_number,
            title=document.title,
            template=document.template_id,
            role=slot.role,
            label=slot.label,
            ready=not before and not waits_for_emeterai(document, slot),
            waiting_for=[s.role for s in before]
            + (["emeterai"] if not before and waits_for_emeterai(document, slot) else []),
            verify_url=links.verify_url(document.issued_code),
        )


MAX_SEARCH = 200


def _search(value: str) -> str:
    if len(value) > MAX_SEARCH:
        raise FieldInvalid(f"paling panjang {MAX_SEARCH} karakter")
    return value


class DocumentQuery(PageQuery):
    """Which documents a listing shows (query parameters; an empty one is left out)."""

    q: Annotated[
        str | None,
        Field(
            max_length=MAX_SEARCH,
            description="search: the document number, or a name or NIP in its data (all "
            "words must match; a NIP may be typed in groups)",
        ),
        optional_filter(_search),
    ] = None
    status: Annotated[DocumentStatus | None, optional_filter(one_of(DocumentStatus))] = None
    template: Annotated[str | None, Field(description="template id"), optional_filter(str)] = None
    unit_id: Annotated[str | None, optional_filter(str)] = None
    date_from: Annotated[
        date | None,
        Field(description="document date on or after, YYYY-MM-DD"),
        optional_filter(validate_date),
    ] = None
    date_to: Annotated[
        date | None,
        Field(description="document date on or before, YYYY-MM-DD"),
        optional_filter(validate_date),
    ] = None


class DocumentItemOut(BaseModel):
    """A document as a listing shows it."""

    id: str
    number: str | None = Field(description="null while the document is a draft")
    title: str
    template: str
    status: DocumentStatus
    document_date: str = Field(description="YYYY-MM-DD")
    unit_id: str | None
    created_at: Instant
    pending_roles: list[str] = Field(description="roles not signed yet, in signing order")
    verify_url: str | None = Field(description="null while the document is a draft")

    @classmethod
    def of(cls, listed: Listed, links: Links) -> DocumentItemOut:
        return cls(
            id=listed.id,
            number=listed.number,
            title=listed.title,
            template=listed.template_id,
            status=listed.status,
            document_date=listed.document_date,
            unit_id=listed.unit_id,
            created_at=listed.created_at,
            pending_roles=listed.pending_roles,
            verify_url=links.verify_url(listed.verify_code) if listed.verify_code else None,
        )


class DocumentListOut(PageOut):
    """One page of the documents the caller may read, newest first."""

    items: list[DocumentItemOut]
