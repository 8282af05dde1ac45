"""HTTP routes: thin wrappers over the services."""

from __future__ import annotations

import json
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from docgen.batches import archive as batch_archive
from docgen.batches import service as batches
from docgen.batches import signing as bulk_signing
from docgen.documents import revocation
from docgen.documents import service as documents
from docgen.errors import DataInvalid, DocgenError, FieldProblem, NotFound
from docgen.kit import idempotency
from docgen.kit.limits import refuse_oversized
from docgen.pipeline.revisions import SOURCE
from docgen.registry.models import BatchSigning, Document, Revision, SignatureSlot, Signer
from docgen.runtime import Runtime
from docgen.signers import crl
from docgen.signers import service as signers
from docgen.templating import catalogue as template_registry
from docgen.templating.manifest import Template
from docgen.verification import service as verification
from docgen.verification.pages import Pages


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key returns what the first request made",
    ),
]
api = APIRouter(prefix="/api/v1")
public = APIRouter()


class DocumentIn(BaseModel):
    template: str = Field(examples=["pakta-integritas"])
    data: dict[str, Any]
    signers: dict[str, str] = Field(
        default_factory=dict,
        description="Optional: per role, the id of the enrolled signer who must sign it",
    )


class SignerRevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, examples=["Pindah tugas"])


class RevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, examples=["Terdapat kesalahan data"])
    replaced_by: str | None = Field(default=None, description="id of the replacing document")


class SignatureIn(BaseModel):
    role: str
    signer_id: str
    pin: str = Field(min_length=1, max_length=64)


def document_view(rt: Runtime, document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "template": document.template_id,
        "template_version": document.template_version,
        "template_sha256": document.template_sha256,
        "type": document.document_type,
        "title": document.title,
        "status": document.status,
        "number": document.number,
        "date": document.document_date,
        "data": document.data,
        "verify_code": document.verify_code,
        "verify_url": rt.verify_url(document.verify_code),
        "pending_roles": documents.pending_roles(document),
        "revoked_at": document.revoked_at.isoformat() if document.revoked_at else None,
        "revoke_reason": document.revoke_reason,
        "replaced_by": document.replaced_by_id,
        "signers": [
            {
                "role": slot.role,
                "label": slot.label,
                "order": slot.order,
                "status": "signed" if slot.signed_at else "pending",
                "signer_id": slot.signer_id,
                "assigned_signer_id": slot.assigned_signer_id,
                "name": slot.signer.name if slot.signer else None,
                "signed_at": slot.signed_at.isoformat() if slot.signed_at else None,
            }
            for slot in document.slots
        ],
        "revisions": [
            {
                "seq": r.seq,
                "kind": r.kind,
                "sha256": r.sha256,
                "size": r.size,
                "created_at": r.created_at.isoformat(),
            }
            for r in document.revisions
        ],
        "created_at": document.created_at.isoformat(),
    }


def pending_view(rt: Runtime, document: Document, slot: SignatureSlot) -> dict[str, Any]:
    before = documents.waiting_for(document, slot)
    return {
        "document_id": document.id,
        "number": document.number,
        "title": document.title,
        "template": document.template_id,
        "role": slot.role,
        "label": slot.label,
        "ready": not before,
        "waiting_for": [s.role for s in before],
        "verify_url": rt.verify_url(document.verify_code),
    }


def signing_view(signing: BatchSigning) -> dict[str, Any]:
    return {
        "id": signing.id,
        "role": signing.role,
        "signer_id": signing.signer_id,
        "status": signing.status,
        "total": signing.total,
        "done": signing.done,
        "failed": signing.failed,
        "errors": signing.errors,
        "created_at": signing.created_at.isoformat(),
        "finished_at": signing.finished_at.isoformat() if signing.finished_at else None,
    }


def batch_view(rt: Runtime, state: batches.BatchState) -> dict[str, Any]:
    batch = state.batch
    return {
        "id": batch.id,
        "template": batch.template_id,
        "template_version": batch.template_version,
        "filename": batch.filename,
        "source_sha256": batch.source_sha256,
        "status": batch.status,
        "total": batch.total,
        "done": state.counts.get(batches.ROW_SELESAI, 0),
        "failed": state.counts.get(batches.ROW_GAGAL, 0),
        "pending": state.counts.get(batches.ROW_MENUNGGU, 0),
        "errors": state.errors,
        "documents": [
            {
                "row": document.row,
                "id": document.id,
                "number": document.number,
                "status": document.status,
                "pending_roles": document.pending_roles,
                "verify_url": rt.verify_url(document.verify_code),
            }
            for document in state.documents
        ],
        "signings": [signing_view(s) for s in state.signings],
        "zip_url": f"/api/v1/batches/{batch.id}/zip",
        "created_at": batch.created_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
    }


def signer_view(signer: Signer) -> dict[str, Any]:
    return {
        "id": signer.id,
        "name": signer.name,
        "nip": signer.nip,
        "jabatan": signer.jabatan,
        "pangkat": signer.pangkat,
        "unit": signer.unit,
        "certificate_pem": signer.certificate_pem,
        "revoked_at": signer.revoked_at.isoformat() if signer.revoked_at else None,
        "revoke_reason": signer.revoke_reason,
    }


def template_view(rt: Runtime, template: Template) -> dict[str, Any]:
    manifest = template.manifest
    return {
        "id": manifest.id,
        "version": manifest.version,
        "title": manifest.title,
        "type": manifest.document_type,
        "sha256": template.sha256,
        "fields": [f.model_dump() for f in manifest.fields],
        "roles": [r.model_dump() for r in manifest.roles_in_order],
        "versions": rt.template_registry.versions(manifest.id),
        "created_at": template.created_at.isoformat() if template.created_at else None,
    }


@api.get("/templates")
async def list_templates(rt: RuntimeDep) -> list[dict[str, Any]]:
    """The latest version of each template."""
    return [template_view(rt, t) for t in rt.template_registry.all_latest()]


@api.post("/templates", status_code=201)
async def upload_template(
    rt: RuntimeDep,
    manifest: Annotated[UploadFile, File(description="manifest.toml (UTF-8)")],
    docx: Annotated[UploadFile, File(description="the template DOCX")],
) -> dict[str, Any]:
    """Store a template as the next version of its id.

    The server assigns the version: the manifest's `version` and `docx` keys are optional and
    ignored. Nothing is stored unless every check passes; 422 lists each problem with its place.
    """
    template = await template_registry.upload_template(
        rt, await _read_upload(rt, manifest), await _read_upload(rt, docx)
    )
    return template_view(rt, template)


@api.get("/templates/{template_id}")
async def get_template(rt: RuntimeDep, template_id: str) -> dict[str, Any]:
    """The latest version, with the numbers of all versions."""
    return template_view(rt, rt.template(template_id))


@api.get("/templates/{template_id}/versions/{version}/docx", response_class=Response)
async def template_docx(rt: RuntimeDep, template_id: str, version: int) -> Response:
    template = rt.template_registry.get(template_id, version)
    return Response(
        template.docx_bytes,
        media_type=documents.DOCX_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{template_id}-v{version}.docx"',
            "X-Content-SHA256": template.sha256,
        },
    )


@api.post("/signers", status_code=201)
async def enrol_signer(rt: RuntimeDep, body: signers.SignerIn) -> dict[str, Any]:
    return signer_view(await signers.enrol_signer(rt, body))


@api.get("/signers/{signer_id}")
async def get_signer(rt: RuntimeDep, signer_id: str) -> dict[str, Any]:
    return signer_view(await signers.get_signer(rt, signer_id))


@api.post("/documents", status_code=201)
async def create_document(
    rt: RuntimeDep, body: DocumentIn, response: Response, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    async def make() -> str:
        document = await documents.create_document(rt, body.template, body.data, body.signers)
        return document.id

    digest = idempotency.request_digest(body.model_dump_json())
    document_id, replayed = await idempotency.once(rt, "documents", idempotency_key, digest, make)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return document_view(rt, await documents.get_document(rt, document_id))


@api.get("/documents/{document_id}")
async def get_document(rt: RuntimeDep, document_id: str) -> dict[str, Any]:
    return document_view(rt, await documents.get_document(rt, document_id))


async def _download(rt: Runtime, document: Document, revision: Revision, ext: str) -> Response:
    filename = f"{document.template_id}-{document.id[:8]}.{ext}"
    return Response(
        await documents.read_revision(rt, revision),
        media_type=documents.PDF_TYPE if ext == "pdf" else documents.DOCX_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "X-Content-SHA256": revision.sha256,
        },
    )


@api.get("/documents/{document_id}/pdf", response_class=Response)
async def document_pdf(rt: RuntimeDep, document_id: str) -> Response:
    document = await documents.get_document(rt, document_id)
    return await _download(rt, document, documents.latest_pdf(document), "pdf")


@api.get("/documents/{document_id}/docx", response_class=Response)
async def document_docx(rt: RuntimeDep, document_id: str) -> Response:
    document = await documents.get_document(rt, document_id)
    return await _download(rt, document, documents.source_revision(document), "docx")


@api.get("/documents/{document_id}/revisions/{seq}", response_class=Response)
async def document_revision(rt: RuntimeDep, document_id: str, seq: int) -> Response:
    """One revision as it was issued (``seq`` as listed under ``revisions``): the DOCX source,
    the prepared PDF, or the PDF after a signature."""
    document = await documents.get_document(rt, document_id)
    revision = documents.revision_at(document, seq)
    return await _download(rt, document, revision, "docx" if revision.kind == SOURCE else "pdf")


@api.post("/documents/{document_id}/signatures")
async def sign_document(rt: RuntimeDep, document_id: str, body: SignatureIn) -> dict[str, Any]:
    document = await documents.sign_document(rt, document_id, body.role, body.signer_id, body.pin)
    return document_view(rt, document)


@api.post("/documents/{document_id}/revoke")
async def revoke_document(rt: RuntimeDep, document_id: str, body: RevokeIn) -> dict[str, Any]:
    document = await revocation.revoke_document(rt, document_id, body.reason, body.replaced_by)
    return document_view(rt, document)


@api.post("/signers/{signer_id}/revoke")
async def revoke_signer(rt: RuntimeDep, signer_id: str, body: SignerRevokeIn) -> dict[str, Any]:
    """Revoke the signer's certificate (e.g. they left office): listed in the CRL at once."""
    return signer_view(await revocation.revoke_signer(rt, signer_id, body.reason))


@api.get("/signers/{signer_id}/pending")
async def signer_pending(rt: RuntimeDep, signer_id: str) -> list[dict[str, Any]]:
    """What this signer still has to sign; ``ready`` is false while others must sign first."""
    pending = await documents.pending_for_signer(rt, signer_id)
    return [pending_view(rt, document, slot) for document, slot in pending]


def _signers_form(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise DataInvalid([FieldProblem("signers", 'harus JSON {"peran": "id penanda tangan"}')])
    return parsed


@api.post("/batches", status_code=202)
async def create_batch(
    rt: RuntimeDep,
    response: Response,
    template: Annotated[str, Form(examples=["pakta-integritas"])],
    file: Annotated[UploadFile, File(description="CSV or XLSX; header row = field names")],
    signers_json: Annotated[
        str | None,
        Form(alias="signers", description='Optional JSON {"role": signer_id} for every row'),
    ] = None,
    dry_run: Annotated[bool, Query(description="check every row, create nothing")] = False,
    dry_run_form: Annotated[bool | None, Form(alias="dry_run")] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """One document per row. A dry run answers 200 with every problem (row, column, message)
    and creates nothing; otherwise the batch is accepted (202) and made in the background:
    follow it at ``GET /api/v1/batches/{id}``. Rows with problems fail; the others go on."""
    content = await _read_upload(rt, file)
    refuse_oversized("Daftar", content, rt.settings.max_upload_bytes)
    filename = file.filename or ""
    chosen = _signers_form(signers_json)
    if dry_run or dry_run_form:
        response.status_code = 200
        return await batches.check_batch(rt, template, filename, content, chosen)

    async def make() -> str:
        return await batches.create_batch(rt, template, filename, content, chosen)

    digest = idempotency.request_digest(template, json.dumps(chosen, sort_keys=True), content)
    batch_id, replayed = await idempotency.once(rt, "batches", idempotency_key, digest, make)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/batches/{batch_id}"
    return batch_view(rt, await batches.batch_state(rt, batch_id))


@api.get("/batches/{batch_id}")
async def get_batch(
    rt: RuntimeDep,
    batch_id: str,
    documents: Annotated[
        bool, Query(description="false: progress and signings only (for polling)")
    ] = True,
) -> dict[str, Any]:
    """Progress (done / failed / pending of total), each row's problems, the documents made,
    and the bulk signings with their progress."""
    return batch_view(rt, await batches.batch_state(rt, batch_id, rows=documents))


@api.post("/batches/{batch_id}/signatures", status_code=202)
async def sign_batch(rt: RuntimeDep, batch_id: str, body: SignatureIn) -> dict[str, Any]:
    """Sign ``role`` of every document of the batch that waits for it and names this signer,
    with one PIN check. Runs in the background: progress under ``signings`` of the batch."""
    signing, skipped = await bulk_signing.start_bulk_signing(
        rt, batch_id, body.role, body.signer_id, body.pin
    )
    return {**signing_view(signing), "skipped": skipped}


@api.get("/batches/{batch_id}/zip", response_class=StreamingResponse)
async def batch_zip(rt: RuntimeDep, batch_id: str) -> StreamingResponse:
    """Every document's current PDF and ``daftar.csv`` (number, name, NIP, status, verify_url,
    SHA-256, file name)."""
    pieces = await batch_archive.batch_zip(rt, batch_id)
    return StreamingResponse(
        pieces,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id[:8]}.zip"'},
    )


@api.get("/trust/ca.pem", response_class=Response)
async def trust_root(rt: RuntimeDep) -> Response:
    return Response(rt.ca.root_pem(), media_type="application/x-pem-file")


@api.get("/trust/crl", response_class=Response)
async def revocation_list(rt: RuntimeDep) -> Response:
    current = await crl.current_crl(rt)
    return Response(
        current.public_bytes(serialization.Encoding.DER), media_type="application/pkix-crl"
    )


@api.get("/verify/{code}")
async def verify_code(rt: RuntimeDep, code: str) -> dict[str, Any]:
    return await verification.verify_code(rt, code)


async def _read_upload(rt: Runtime, file: UploadFile) -> bytes:
    # One byte past the limit is enough for verify_upload to refuse an oversized file.
    return await file.read(rt.settings.max_upload_bytes + 1)


@api.post("/verify")
async def verify_upload(rt: RuntimeDep, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    return await verification.verify_upload(rt, await _read_upload(rt, file))


@public.get("/v/{code}", response_class=HTMLResponse)
async def verify_page(request: Request, rt: RuntimeDep, code: str) -> HTMLResponse:
    pages: Pages = request.app.state.pages
    try:
        view = await verification.verify_code(rt, code)
    except NotFound:
        return HTMLResponse(pages.verify(None), status_code=404)
    return HTMLResponse(pages.verify(view))


@public.get("/v", response_class=HTMLResponse)
async def upload_page(request: Request) -> HTMLResponse:
    pages: Pages = request.app.state.pages
    return HTMLResponse(pages.upload())


@public.post("/v", response_class=HTMLResponse)
async def upload_check(
    request: Request, rt: RuntimeDep, file: Annotated[UploadFile, File()]
) -> HTMLResponse:
    pages: Pages = request.app.state.pages
    try:
        report = await verification.verify_upload(rt, await _read_upload(rt, file))
    except DocgenError as exc:
        return HTMLResponse(pages.upload(error=exc.detail), status_code=exc.status_code)
    return HTMLResponse(pages.upload(report))


@public.get("/v/{code}/pdf", response_class=Response)
async def verify_download(rt: RuntimeDep, code: str) -> Response:
    document = await documents.find_by_code(rt, code)
    return await _download(rt, document, documents.latest_pdf(document), "pdf")
