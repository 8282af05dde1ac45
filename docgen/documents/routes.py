"""Documents: make one, read it and its revisions, sign a role, revoke it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from docgen.deps import DocumentsDep, DraftsDep, EMeteraiDep, LinksDep, SessionDep
from docgen.documents import repository
from docgen.documents.schemas import (
    DeclineIn,
    DocumentIn,
    DocumentItemOut,
    DocumentListOut,
    DocumentOut,
    DocumentQuery,
    DraftIn,
    PagesOut,
    RevokeIn,
    SignatureIn,
)
from docgen.documents.service import DocumentService, list_readable, readable
from docgen.errors import Conflict, NotFound, error_responses
from docgen.kit import idempotency
from docgen.kit.idempotency import IdempotencyKeyHeader
from docgen.people.policies import AnyCaller, Caller, SignerCaller, StaffCaller
from docgen.pipeline.preview import MAX_PAGE_WIDTH
from docgen.pipeline.store import DOCX_TYPE, PDF_TYPE
from docgen.registry.models import Document, Revision
from docgen.registry.statuses import DocumentStatus, RevisionKind

router = APIRouter(prefix="/documents", tags=["dokumen"], responses=error_responses(401, 403))


def file_responses(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a download: the file in one of ``media_types``, or an error."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        200: {"content": {media_type: binary for media_type in media_types}},
        **error_responses(401, 403, 404, 502, 503),
    }


async def readable_document(session: SessionDep, caller: Caller, document_id: str) -> Document:
    """The document, if the caller may read it. Raises NotFound (the same for one that exists
    but is not the caller's)."""
    document = await repository.get(session, document_id)
    if not readable(caller, document):
        raise NotFound("Dokumen tidak ditemukan")
    return document


async def _document(
    session: SessionDep, links: LinksDep, caller: Caller, document_id: str
) -> DocumentOut:
    return DocumentOut.of(await readable_document(session, caller, document_id), links)


@router.post(
    "",
    status_code=201,
    response_model=DocumentOut,
    responses=error_responses(400, 404, 409, 422, 502, 503),
)
async def create_document(
    caller: StaffCaller,
    documents: DocumentsDep,
    drafts: DraftsDep,
    session: SessionDep,
    links: LinksDep,
    body: DocumentIn,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DocumentOut:
    """Make a document of the caller's unit from a template and data: every signer role bound
    to one enrolled signer, numbered, converted, stamped with its QR code, stored, and waiting
    for its signers; with ``paraf``, first for its verifikator to initial it in order. With
    ``"draft": true``, a draft instead: no number, nothing public,
    editable and deletable until ``POST /documents/{id}/issue``."""

    async def make() -> str:
        if body.draft:
            return await drafts.save(
                caller, body.template, body.data, body.signers, body.unit_id, body.paraf
            )
        return await documents.create(
            caller, body.template, body.data, body.signers, body.unit_id, body.paraf
        )

    digest = idempotency.request_digest(caller.id, body.model_dump_json())
    document_id, replayed = await idempotency.once(
        documents.db, "documents", idempotency_key, digest, make
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return await _document(session, links, caller, document_id)


@router.get("", response_model=DocumentListOut, responses=error_responses(422))
async def list_documents(
    caller: AnyCaller,
    session: SessionDep,
    links: LinksDep,
    query: Annotated[DocumentQuery, Query()],
) -> DocumentListOut:
    """The documents the caller may read (admins every one, operators and auditors their
    units', a signer those with a role bound to them), newest first, a page at a time:
    searched by number, name or NIP, filtered by status, template, unit and date."""
    listed, total = await list_readable(session, caller, query)
    return DocumentListOut(
        items=[DocumentItemOut.of(document, links) for document in listed],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@router.get("/{document_id}", response_model=DocumentOut, responses=error_responses(404))
async def get_document(
    caller: AnyCaller, session: SessionDep, links: LinksDep, document_id: str
) -> DocumentOut:
    """Metadata, signers, revisions and the verification URL."""
    return await _document(session, links, caller, document_id)


def issued(document: Document) -> Document:
    """The document, if it was issued. Raises Conflict (409) for a draft: it has no files."""
    if document.status == DocumentStatus.DRAF:
        raise Conflict("Dokumen masih draf dan belum memiliki berkas; lihat pratinjaunya")
    return document


async def revision_response(
    documents: DocumentService, document: Document, revision: Revision
) -> Response:
    """A revision's bytes as a download, with its SHA-256 in ``X-Content-SHA256``."""
    source = revision.kind == RevisionKind.SOURCE
    filename = f"{document.template_id}-{document.id[:8]}.{'docx' if source else 'pdf'}"
    return Response(
        await documents.read(revision),
        media_type=DOCX_TYPE if source else PDF_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "X-Content-SHA256": revision.sha256,
        },
    )


@router.get("/{document_id}/pdf", response_class=Response, responses=file_responses(PDF_TYPE))
async def document_pdf(
    caller: AnyCaller, documents: DocumentsDep, session: SessionDep, document_id: str
) -> Response:
    """The latest PDF revision."""
    document = issued(await readable_document(session, caller, document_id))
    return await revision_response(documents, document, document.revisions[-1])


@router.get("/{document_id}/docx", response_class=Response, responses=file_responses(DOCX_TYPE))
async def document_docx(
    caller: AnyCaller, documents: DocumentsDep, session: SessionDep, document_id: str
) -> Response:
    """The rendered DOCX the PDF revisions were converted from."""
    document = issued(await readable_document(session, caller, document_id))
    return await revision_response(documents, document, document.revisions[0])


@router.get(
    "/{document_id}/revisions/{seq}",
    response_class=Response,
    responses=file_responses(DOCX_TYPE, PDF_TYPE),
)
async def document_revision(
    caller: AnyCaller, documents: DocumentsDep, session: SessionDep, document_id: str, seq: int
) -> Response:
    """One revision as it was issued (``seq`` as listed under ``revisions``): the DOCX source,
    the prepared PDF, or the PDF after a signature."""
    document = await readable_document(session, caller, document_id)
    revision = next((r for r in document.revisions if r.seq == seq), None)
    if revision is None:
        raise NotFound(f"Dokumen ini tidak memiliki revisi {seq}")
    return await revision_response(documents, document, revision)


@router.post(
    "/{document_id}/signatures",
    response_model=DocumentOut,
    responses=error_responses(403, 404, 409, 423, 502, 503),
)
async def sign_document(
    caller: SignerCaller,
    documents: DocumentsDep,
    links: LinksDep,
    document_id: str,
    body: SignatureIn,
) -> DocumentOut:
    """The caller signs ``role``, bound to them, with their PIN; the last signature makes the
    document SAH."""
    await documents.sign(caller, document_id, body.role, body.pin)
    async with documents.db.session() as session:
        return await _document(session, links, caller, document_id)


@router.post(
    "/{document_id}/decline", response_model=DocumentOut, responses=error_responses(404, 409)
)
async def decline_document(
    caller: SignerCaller,
    documents: DocumentsDep,
    links: LinksDep,
    document_id: str,
    body: DeclineIn,
) -> DocumentOut:
    """The signer bound to ``role`` declines to sign, with a reason the operator sees (and is
    mailed): the document is DITOLAK; the operator revokes it and makes a new one."""
    await documents.decline(caller, document_id, body.role, body.reason)
    async with documents.db.session() as session:
        return await _document(session, links, caller, document_id)


@router.post(
    "/{document_id}/revoke", response_model=DocumentOut, responses=error_responses(404, 409, 422)
)
async def revoke_document(
    caller: StaffCaller, documents: DocumentsDep, links: LinksDep, document_id: str, body: RevokeIn
) -> DocumentOut:
    """DICABUT (by an operator of the document's unit or an admin), with a reason and
    optionally the document that replaces it; every revision stays retrievable and
    verifiable."""
    await documents.revoke(caller, document_id, body.reason, body.replaced_by)
    async with documents.db.session() as session:
        return await _document(session, links, caller, document_id)


@router.post(
    "/{document_id}/emeterai",
    response_model=DocumentOut,
    responses=error_responses(404, 409, 502, 503),
)
async def affix_emeterai(
    caller: StaffCaller,
    emeterai: EMeteraiDep,
    session: SessionDep,
    links: LinksDep,
    document_id: str,
) -> DocumentOut:
    """Affix the document's e-Meterai now (an operator of its unit or an admin): it is affixed
    by itself once the signatures before its role are in; this is for when that failed (the
    provider could not be reached). 409 when the document carries none, it is affixed
    already, or its turn has not come."""
    await emeterai.affix(caller, document_id)
    return await _document(session, links, caller, document_id)


@router.put("/{document_id}", response_model=DocumentOut, responses=error_responses(404, 409, 422))
async def change_draft(
    caller: StaffCaller, drafts: DraftsDep, links: LinksDep, document_id: str, body: DraftIn
) -> DocumentOut:
    """New data and chosen signers for a draft (an issued document cannot change)."""
    await drafts.update(caller, document_id, body.data, body.signers, body.paraf)
    async with drafts.db.session() as session:
        return await _document(session, links, caller, document_id)


@router.delete("/{document_id}", status_code=204, responses=error_responses(404, 409))
async def delete_draft(caller: StaffCaller, drafts: DraftsDep, document_id: str) -> Response:
    """Delete a draft (an issued document is revoked instead: nothing issued is deleted)."""
    await drafts.delete(caller, document_id)
    return Response(status_code=204)


@router.post(
    "/{document_id}/issue",
    response_model=DocumentOut,
    responses=error_responses(404, 409, 422, 502, 503),
)
async def issue_draft(
    caller: StaffCaller, drafts: DraftsDep, links: LinksDep, document_id: str
) -> DocumentOut:
    """Issue a draft: its number is taken, every role bound to its signer, the document made
    with its QR code and opened for signing, under the same id."""
    await drafts.issue(caller, document_id)
    async with drafts.db.session() as session:
        return await _document(session, links, caller, document_id)


@router.get(
    "/{document_id}/pages", response_model=PagesOut, responses=error_responses(404, 502, 503)
)
async def document_pages(caller: AnyCaller, drafts: DraftsDep, document_id: str) -> PagesOut:
    """The document's pages as images, to read it on a phone; a draft's are marked DRAF."""
    count = await drafts.pages(caller, document_id)
    async with drafts.db.session() as session:
        document = await repository.get(session, document_id)
    return PagesOut(
        pages=count,
        draft=document.status == DocumentStatus.DRAF,
        images=[f"/api/v1/documents/{document_id}/pages/{n}" for n in range(1, count + 1)],
    )


@router.get(
    "/{document_id}/pages/{page}",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 502, 503),
    },
)
async def document_page(
    caller: AnyCaller,
    drafts: DraftsDep,
    document_id: str,
    page: int,
    width: Annotated[int, Query(ge=200, le=MAX_PAGE_WIDTH, description="pixels")] = 900,
) -> Response:
    """One page as a PNG ``width`` pixels wide."""
    png = await drafts.page_image(caller, document_id, page, width)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
