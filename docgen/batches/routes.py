"""Batches: one document per row of a staff list, their progress, bulk signing, the ZIP."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from docgen.batches import repository
from docgen.batches.archive import batch_zip
from docgen.batches.schemas import (
    BatchItemOut,
    BatchListOut,
    BatchOut,
    DryRunOut,
    SigningStartedOut,
)
from docgen.batches.service import list_readable, readable_batch
from docgen.deps import BatchesDep, BulkSigningsDep, DocumentsDep, LinksDep, SessionDep, SettingsDep
from docgen.documents.schemas import SignatureIn
from docgen.errors import DataInvalid, FieldProblem, error_responses
from docgen.kit import idempotency
from docgen.kit.idempotency import IdempotencyKeyHeader
from docgen.kit.limits import read_upload, refuse_oversized
from docgen.kit.paging import PageQuery
from docgen.people.policies import AnyCaller, ReaderCaller, SignerCaller, StaffCaller

router = APIRouter(prefix="/batches", tags=["batch"], responses=error_responses(401, 403))


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


@router.post(
    "",
    status_code=202,
    response_model=BatchOut | DryRunOut,
    responses={
        200: {"model": DryRunOut, "description": "dry run: every problem, nothing created"},
        202: {"model": BatchOut, "description": "accepted; the documents are made in the back"},
        **error_responses(400, 403, 404, 409, 413, 422, 503),
    },
)
async def create_batch(
    caller: StaffCaller,
    batches: BatchesDep,
    session: SessionDep,
    links: LinksDep,
    settings: SettingsDep,
    response: Response,
    template: Annotated[str, Form(examples=["pakta-integritas"])],
    file: Annotated[UploadFile, File(description="CSV or XLSX; header row = field names")],
    signers_json: Annotated[
        str | None,
        Form(alias="signers", description='Optional JSON {"role": signer_id} for every row'),
    ] = None,
    unit_id: Annotated[
        str | None, Form(description="the unit of the batch; the operator's own if only one")
    ] = None,
    dry_run: Annotated[bool, Query(description="check every row, create nothing")] = False,
    dry_run_form: Annotated[bool | None, Form(alias="dry_run")] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> BatchOut | DryRunOut:
    """One document per row. A dry run answers 200 with every problem (row, column, message)
    and creates nothing; otherwise the batch is accepted (202) and made in the background:
    follow it at ``GET /api/v1/batches/{id}``. Rows with problems fail; the others go on."""
    content = await read_upload(file, settings.max_upload_bytes)
    refuse_oversized("Daftar", content, settings.max_upload_bytes)
    filename = file.filename or ""
    chosen = _signers_form(signers_json)
    if dry_run or dry_run_form:
        response.status_code = 200
        return await batches.dry_run(caller, template, filename, content, chosen, unit_id)

    async def make() -> str:
        return await batches.accept(caller, template, filename, content, chosen, unit_id)

    digest = idempotency.request_digest(
        caller.id, template, unit_id or "", json.dumps(chosen, sort_keys=True), content
    )
    batch_id, replayed = await idempotency.once(
        batches.db, "batches", idempotency_key, digest, make
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/batches/{batch_id}"
    return BatchOut.of(await repository.state(session, batch_id), links)


@router.get("", response_model=BatchListOut, responses=error_responses(422))
async def list_batches(
    caller: ReaderCaller, session: SessionDep, page: Annotated[PageQuery, Query()]
) -> BatchListOut:
    """The batches of the caller's units (an admin's: every batch), newest first, a page at a
    time."""
    listed, total = await list_readable(session, caller, page)
    return BatchListOut(
        items=[BatchItemOut.of(batch) for batch in listed],
        total=total,
        page=page.page,
        per_page=page.per_page,
    )


@router.get("/{batch_id}", response_model=BatchOut, responses=error_responses(404))
async def get_batch(
    caller: AnyCaller,
    session: SessionDep,
    links: LinksDep,
    batch_id: str,
    documents: Annotated[
        bool, Query(description="false: progress and signings only (for polling)")
    ] = True,
) -> BatchOut:
    """Progress (done / failed / pending of total), each row's problems, the documents made,
    and the bulk signings with their progress."""
    await readable_batch(session, caller, batch_id)
    return BatchOut.of(await repository.state(session, batch_id, rows=documents), links)


@router.post(
    "/{batch_id}/signatures",
    status_code=202,
    response_model=SigningStartedOut,
    responses=error_responses(403, 404, 409, 423),
)
async def sign_batch(
    caller: SignerCaller, bulk_signings: BulkSigningsDep, batch_id: str, body: SignatureIn
) -> SigningStartedOut:
    """The caller signs ``role`` of every document of the batch that waits for it and is bound
    to them, with one PIN check. Runs in the background: progress under ``signings`` of the
    batch; it stops before its next document if the signer is revoked meanwhile. One signing
    of a role by one signer runs at a time per batch (409 for another while it runs)."""
    return await bulk_signings.start(caller, batch_id, body.role, body.pin)


@router.get(
    "/{batch_id}/zip",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 502, 503),
    },
)
async def zip_of_batch(
    caller: ReaderCaller, session: SessionDep, documents: DocumentsDep, batch_id: str
) -> StreamingResponse:
    """Every document's current PDF and ``daftar.csv`` (number, name, NIP, status, verify_url,
    SHA-256, file name)."""
    await readable_batch(session, caller, batch_id)
    pieces = await batch_zip(documents, batch_id)
    return StreamingResponse(
        pieces,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id[:8]}.zip"'},
    )
