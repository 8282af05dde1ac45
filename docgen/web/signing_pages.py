"""The signer's pages and a document's page: the inbox (alone or a batch at a time, with one
PIN), a document as page images with signing, declining, revoking and a draft's issue and
delete, and the history of what the signer signed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from docgen.batches import repository as batches
from docgen.deps import (
    BulkSigningsDep,
    DocumentsDep,
    DraftsDep,
    EMeteraiDep,
    LinksDep,
    OfficeDep,
    SessionDep,
    SignersDep,
)
from docgen.documents import repository as documents
from docgen.documents.routes import readable_document
from docgen.documents.schemas import DeclineIn, RevokeIn, SignatureIn
from docgen.documents.service import waiting_for
from docgen.emeterai.rules import due as emeterai_due
from docgen.emeterai.schemas import EMeteraiOut
from docgen.errors import DataInvalid, DocgenError, NotFound
from docgen.kit.error_bodies import problem_message
from docgen.kit.paging import PageQuery
from docgen.paraf import repository as paraf_repository
from docgen.paraf.steps import current_step, waiting_before
from docgen.people.policies import AnyCaller, Caller, SignerCaller, StaffCaller
from docgen.people.profiles import zone_of, zones_of
from docgen.registry.models import Document, ParafStep, SignatureSlot
from docgen.registry.statuses import DocumentStatus, ParafState, RevisionKind, Role
from docgen.signers import repository as signers_repository
from docgen.web.labels import STATUS_LABELS
from docgen.web.render import Office

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

REVISION_LABELS = {
    RevisionKind.SOURCE: "DOCX sumber",
    RevisionKind.PREPARED: "PDF siap ditandatangani",
    RevisionKind.SIGNED: "PDF setelah tanda tangan",
    RevisionKind.EMETERAI: "PDF setelah e-Meterai dibubuhkan",
    RevisionKind.LONG_TERM: "PDF dengan validasi jangka panjang",
}
PAGE_WIDTH = 900
Problems = dict[str, str]


def _see(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?pesan={quote(message)}", status_code=303)


def _problems(exc: ValidationError | DataInvalid) -> Problems:
    """Each problem beside its field (form field name -> message)."""
    if isinstance(exc, DataInvalid):
        return {p.field or "": p.message for p in (exc.problems_out() or [])}
    return {".".join(str(p) for p in e["loc"]) or "": problem_message(e) for e in exc.errors()}


# The inbox ------------------------------------------------------------------------------------


@dataclass
class Waiting:
    """A signature the signer still has to make, as the inbox shows it."""

    document: Document
    slot: SignatureSlot
    before: list[str]  # who signs first: "label (name)"


@dataclass
class BatchGroup:
    """The documents of one batch waiting now for the same role of the signer."""

    batch_id: str
    role: str
    label: str
    items: list[Waiting] = field(default_factory=list)


async def _inbox(
    request: Request,
    caller: Caller,
    office: Office,
    signers: SignersDep,
    session: SessionDep,
    *,
    status_code: int = 200,
    error: tuple[str, str, str] | None = None,  # batch, role, message
) -> HTMLResponse:
    # As GET /api/v1/signers/{id}/pending: what waits for the signer, and who signs first.
    signer = await signers.own(caller)
    pending = [
        (document, slot, waiting_for(document, slot))
        for document, slot in await documents.pending_for(session, signer)
    ]
    names = await signers_repository.names(
        session, (s.assigned_signer_id for _, _, before in pending for s in before)
    )
    batch_of = await batches.batches_of(session, [document.id for document, _, _ in pending])
    ready: list[Waiting] = []
    later: list[Waiting] = []
    groups: dict[tuple[str, str], BatchGroup] = {}
    for document, slot, before in pending:
        item = Waiting(
            document,
            slot,
            [f"{s.label} ({names.get(s.assigned_signer_id or '', '-')})" for s in before],
        )
        if before:
            later.append(item)
        elif (batch_id := batch_of.get(document.id)) is not None:
            group = groups.setdefault(
                (batch_id, slot.role), BatchGroup(batch_id, slot.role, slot.label)
            )
            group.items.append(item)
        else:
            ready.append(item)
    # A batch with one waiting document is shown as that document.
    bulk = [g for g in groups.values() if len(g.items) > 1]
    ready += [g.items[0] for g in groups.values() if len(g.items) == 1]
    return office.page(
        request,
        caller,
        "ttd_kotak_masuk.html",
        status_code,
        ready=ready,
        later=later,
        groups=bulk,
        error=error,
    )


@router.get("/kotak-masuk", response_class=HTMLResponse)
async def inbox(
    caller: SignerCaller,
    request: Request,
    office: OfficeDep,
    signers: SignersDep,
    session: SessionDep,
) -> HTMLResponse:
    """What waits for the signer now, what waits for others first, a batch at a time."""
    return await _inbox(request, caller, office, signers, session)


@router.post("/kotak-masuk/batch/{batch_id}", response_class=HTMLResponse)
async def sign_batch(
    caller: SignerCaller,
    request: Request,
    office: OfficeDep,
    signers: SignersDep,
    session: SessionDep,
    bulk_signings: BulkSigningsDep,
    batch_id: str,
    role: Annotated[str, Form(max_length=100)],
    pin: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Sign every document of the batch waiting for the role, with one PIN (as POST
    /api/v1/batches/{id}/signatures); the signing goes on in the background."""
    try:
        body = SignatureIn(role=role, pin=pin)
        started = await bulk_signings.start(caller, batch_id, body.role, body.pin)
    except ValidationError:
        error, status_code = "Isi PIN Anda", 422
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see(f"/batch/{batch_id}", f"Penandatanganan {started.total} dokumen dimulai")
    return await _inbox(
        request,
        caller,
        office,
        signers,
        session,
        status_code=status_code,
        error=(batch_id, role, error),
    )


# A document's page ----------------------------------------------------------------------------


@dataclass
class SlotView:
    label: str
    role: str
    assigned: str  # the name of the signer bound to it
    signed_by: str | None
    signed_at: Any
    next: bool


def _own_slot(caller: Caller, document: Document) -> SignatureSlot | None:
    """The caller's unsigned slot of a document waiting for signatures, its turn first."""
    signer_id = caller.user.signer_id if caller.user else None
    if caller.role != Role.SIGNER or document.status != DocumentStatus.MENUNGGU:
        return None
    mine = [s for s in document.slots if s.assigned_signer_id == signer_id and not s.signed_at]
    return next((s for s in mine if not waiting_for(document, s)), mine[0] if mine else None)


def _own_paraf(caller: Caller, document: Document) -> ParafStep | None:
    """The caller's step of a document waiting for paraf, if they have not initialled it."""
    if caller.role != Role.VERIFIKATOR or document.status != DocumentStatus.MENUNGGU_PARAF:
        return None
    return next(
        (
            s
            for s in document.paraf_steps
            if s.user_id == caller.id and s.state == ParafState.MENUNGGU
        ),
        None,
    )


@dataclass
class DocumentPageParts:
    """What drawing the document page takes, received once per route."""

    request: Request
    office: OfficeDep
    session: SessionDep
    drafts: DraftsDep
    links: LinksDep


PagePartsDep = Annotated[DocumentPageParts, Depends(DocumentPageParts)]


async def _document_page(
    parts: DocumentPageParts,
    caller: Caller,
    document_id: str,
    *,
    status_code: int = 200,
    form: str | None = None,  # which form the error or problems below belong to
    error: str | None = None,
    problems: Problems | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    request, office, session, drafts, links = (
        parts.request,
        parts.office,
        parts.session,
        parts.drafts,
        parts.links,
    )
    try:
        document = await readable_document(session, caller, document_id)
    except NotFound as exc:
        return office.page(request, caller, "ttd_tidak_ada.html", 404, detail=exc.detail)
    draft = document.status == DocumentStatus.DRAF
    chosen = document.chosen_signers or {}
    manifest = drafts.catalogue.get(document.template_id, document.template_version).manifest
    roles = {role.name: role.label for role in manifest.roles}
    names = await signers_repository.names(
        session, [s.assigned_signer_id for s in document.slots] + list(chosen.values())
    )
    # A draft's verifikator, named for when it is issued (an issued one has its steps).
    named = await paraf_repository.users(session, document.chosen_paraf or []) if draft else {}
    unsigned = [s.order for s in document.slots if s.signed_at is None]
    slots = [
        SlotView(
            label=s.label,
            role=s.role,
            assigned=names.get(s.assigned_signer_id or "", "-"),
            signed_by=s.signer.name if s.signer else None,
            signed_at=s.signed_at,
            next=document.status == DocumentStatus.MENUNGGU
            and bool(unsigned)
            and s.signed_at is None
            and s.order == min(unsigned),
        )
        for s in document.slots
    ]
    try:
        pages, pages_error = await drafts.pages(caller, document_id), None
    except DocgenError as exc:
        pages, pages_error = 0, exc.detail
    own = _own_slot(caller, document)
    own_paraf = _own_paraf(caller, document)
    staff = caller.role in (Role.ADMIN, Role.OPERATOR) and caller.in_unit(document.unit_id)
    return office.page(
        request,
        caller,
        "ttd_dokumen.html",
        status_code,
        document=document,
        status_label=STATUS_LABELS[document.status],
        zona=await zone_of(session, document.unit_id),
        draft=draft,
        chosen=[(roles.get(role, role), names.get(i, "-")) for role, i in chosen.items()],
        chosen_paraf=[
            named[i].username if i in named else "-" for i in document.chosen_paraf or []
        ],
        slots=slots,
        declined_label=next(
            (s.label for s in document.slots if s.role == document.declined_role), None
        ),
        pages=range(1, pages + 1),
        pages_error=pages_error,
        width=PAGE_WIDTH,
        revisions=[] if draft else list(reversed(document.revisions)),
        revision_labels=REVISION_LABELS,
        verify_url=links.verify_url(document.verify_code) if document.verify_code else None,
        own=own,
        own_turn=own is not None and not waiting_for(document, own),
        paraf_steps=document.paraf_steps,
        paraf_current=current_step(document),
        paraf_returned=next(
            (s for s in document.paraf_steps if s.state == ParafState.DIKEMBALIKAN), None
        ),
        own_paraf=own_paraf,
        own_paraf_before=waiting_before(document, own_paraf) if own_paraf else [],
        staff=staff,
        may_revoke=staff and document.status not in (DocumentStatus.DICABUT, DocumentStatus.DRAF),
        emeterai=EMeteraiOut.of(document),
        # The automatic affix failed (the provider): staff may try again.
        may_affix=staff and emeterai_due(document),
        form=form,
        error=error,
        problems=problems or {},
        values=values or {},
    )


@router.get("/dokumen/{document_id}", response_class=HTMLResponse)
async def document_page(
    caller: AnyCaller,
    parts: PagePartsDep,
    document_id: str,
) -> HTMLResponse:
    """Status, who signed and who is next, the pages as images, downloads, and what the
    caller may do with it."""
    return await _document_page(parts, caller, document_id)


@router.post("/dokumen/{document_id}/tandatangani", response_class=HTMLResponse)
async def sign(
    caller: SignerCaller,
    parts: PagePartsDep,
    documents_service: DocumentsDep,
    document_id: str,
    role: Annotated[str, Form(max_length=100)],
    pin: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The signer signs their role with their PIN (as POST /api/v1/documents/{id}/signatures)."""
    try:
        body = SignatureIn(role=role, pin=pin)
        await documents_service.sign(caller, document_id, body.role, body.pin)
    except ValidationError:
        error, status_code = "Isi PIN Anda", 422
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see(f"/dokumen/{document_id}", "Dokumen berhasil ditandatangani")
    return await _document_page(
        parts,
        caller,
        document_id,
        status_code=status_code,
        form="tandatangani",
        error=error,
    )


@router.post("/dokumen/{document_id}/tolak", response_class=HTMLResponse)
async def decline(
    caller: SignerCaller,
    parts: PagePartsDep,
    documents_service: DocumentsDep,
    document_id: str,
    role: Annotated[str, Form(max_length=100)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The signer declines with a reason the operator sees (as POST .../decline)."""
    problems: Problems = {}
    error = None
    try:
        body = DeclineIn(role=role, reason=reason.strip())
        await documents_service.decline(caller, document_id, body.role, body.reason)
    except ValidationError as exc:
        problems, status_code = _problems(exc), 422
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see(f"/dokumen/{document_id}", "Dokumen ditolak; operator diberi tahu")
    return await _document_page(
        parts,
        caller,
        document_id,
        status_code=status_code,
        form="tolak",
        error=error,
        problems=problems,
        values={"reason": reason},
    )


@router.post("/dokumen/{document_id}/cabut", response_class=HTMLResponse)
async def revoke(
    caller: StaffCaller,
    parts: PagePartsDep,
    documents_service: DocumentsDep,
    document_id: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    replaced_by: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Revoke with a reason and an optional replacement (as POST .../revoke)."""
    problems: Problems = {}
    error = None
    try:
        body = RevokeIn(reason=reason.strip(), replaced_by=replaced_by.strip() or None)
        await documents_service.revoke(caller, document_id, body.reason, body.replaced_by)
    except (ValidationError, DataInvalid) as exc:
        problems, status_code = _problems(exc), 422
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see(f"/dokumen/{document_id}", "Dokumen dicabut")
    return await _document_page(
        parts,
        caller,
        document_id,
        status_code=status_code,
        form="cabut",
        error=error,
        problems=problems,
        values={"reason": reason, "replaced_by": replaced_by},
    )


@router.post("/dokumen/{document_id}/emeterai", response_class=HTMLResponse)
async def affix_emeterai(
    caller: StaffCaller,
    parts: PagePartsDep,
    emeterai: EMeteraiDep,
    document_id: str,
) -> Response:
    """Affix the e-Meterai now, after its automatic affix failed (as POST .../emeterai)."""
    try:
        await emeterai.affix(caller, document_id)
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see(f"/dokumen/{document_id}", "e-Meterai dibubuhkan")
    return await _document_page(
        parts, caller, document_id, status_code=status_code, form="emeterai", error=error
    )


@router.post("/dokumen/{document_id}/terbitkan", response_class=HTMLResponse)
async def issue(
    caller: StaffCaller,
    parts: PagePartsDep,
    document_id: str,
) -> Response:
    """Issue a draft: its number is taken and it opens for signing (as POST .../issue)."""
    problems: Problems = {}
    error = None
    try:
        await parts.drafts.issue(caller, document_id)
    except DataInvalid as exc:
        error, problems, status_code = exc.detail, _problems(exc), 422
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see(f"/dokumen/{document_id}", "Dokumen diterbitkan dan siap ditandatangani")
    return await _document_page(
        parts,
        caller,
        document_id,
        status_code=status_code,
        form="terbitkan",
        error=error,
        problems=problems,
    )


@router.post("/dokumen/{document_id}/hapus", response_class=HTMLResponse)
async def delete(
    caller: StaffCaller,
    parts: PagePartsDep,
    document_id: str,
) -> Response:
    """Delete a draft (as DELETE /api/v1/documents/{id})."""
    try:
        await parts.drafts.delete(caller, document_id)
    except DocgenError as exc:
        return await _document_page(
            parts,
            caller,
            document_id,
            status_code=exc.status_code,
            form="hapus",
            error=exc.detail,
        )
    return _see("/dokumen", "Draf dihapus")


# The history ----------------------------------------------------------------------------------


@router.get("/riwayat", response_class=HTMLResponse)
async def history(
    caller: SignerCaller,
    request: Request,
    office: OfficeDep,
    signers: SignersDep,
    session: SessionDep,
    halaman: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """What the signer signed, newest first."""
    signer = await signers.own(caller)
    page = PageQuery(page=halaman)
    signed, total = await documents.signed_by(session, signer.id, page)
    return office.page(
        request,
        caller,
        "ttd_riwayat.html",
        signed=signed,
        zones=await zones_of(session, [document.unit_id for document, _ in signed]),
        status_labels=STATUS_LABELS,
        page=halaman,
        pages=max(1, -(-total // page.per_page)),
        total=total,
    )
