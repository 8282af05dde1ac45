"""The public surface: verification by code and by upload, as JSON and as pages, and the trust
material (our root certificate, the CRL)."""

from __future__ import annotations

from typing import Annotated

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from docgen.deps import (
    CaDep,
    DocumentsDep,
    PagesDep,
    PublicViewsDep,
    RevocationsDep,
    SessionDep,
    UploadChecksDep,
)
from docgen.documents.routes import revision_response
from docgen.errors import DocgenError, NotFound, error_responses
from docgen.kit.limits import read_upload
from docgen.people.policies import Public
from docgen.registry.statuses import DocumentStatus
from docgen.verification.schemas import UploadCheckOut, VerificationOut

api = APIRouter(tags=["verifikasi"])
# Pages for people, not API: left out of the OpenAPI schema.
pages = APIRouter(include_in_schema=False)


@api.get(
    "/verify/{code}",
    response_model=VerificationOut,
    responses=error_responses(404),
)
async def verify_by_code(_: Public, views: PublicViewsDep, code: str) -> Response:
    """A document as the public may see it, by the code its QR carries."""
    kept = await views.by_code(code)
    return Response(kept.json(), media_type="application/json")


@api.post(
    "/verify",
    response_model=UploadCheckOut,
    responses=error_responses(400, 413, 422, 429),
)
async def verify_pdf(
    _: Public,
    request: Request,
    session: SessionDep,
    checks: UploadChecksDep,
    file: Annotated[UploadFile, File()],
) -> UploadCheckOut:
    """Is this PDF one we issued, the current revision, with every signature intact?"""
    pdf = await read_upload(file, checks.max_bytes)
    return await checks.check(session, pdf, client_of(request))


def client_of(request: Request) -> str:
    """The caller's address (behind a proxy: the forwarded one, as for the rate limits)."""
    return request.client.host if request.client else ""


@api.get(
    "/trust/ca.pem",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {"schema": {"type": "string"}}}}},
)
async def trust_root(_: Public, ca: CaDep) -> Response:
    """Our root certificate (PEM)."""
    return Response(ca.root_pem(), media_type="application/x-pem-file")


@api.get(
    "/trust/crl",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pkix-crl": {"schema": {"type": "string", "format": "binary"}}}
        }
    },
)
async def revocation_list(_: Public, revocations: RevocationsDep) -> Response:
    """The current revocation list of our signer certificates (DER)."""
    current = await revocations.current()
    return Response(
        current.public_bytes(serialization.Encoding.DER), media_type="application/pkix-crl"
    )


@pages.get("/v/{code}", response_class=HTMLResponse)
async def verify_page(
    _: Public, views: PublicViewsDep, pages_: PagesDep, code: str
) -> HTMLResponse:
    """The page a document's QR code leads to."""
    try:
        kept = await views.by_code(code)
    except NotFound:
        return HTMLResponse(pages_.verify(None), status_code=404)
    return HTMLResponse(kept.page(pages_.verify))


@pages.get("/v", response_class=HTMLResponse)
async def upload_page(_: Public, pages_: PagesDep) -> HTMLResponse:
    """Where anyone can upload a PDF to check it."""
    return HTMLResponse(pages_.upload())


@pages.post("/v", response_class=HTMLResponse)
async def upload_check(
    _: Public,
    request: Request,
    session: SessionDep,
    checks: UploadChecksDep,
    pages_: PagesDep,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    try:
        pdf = await read_upload(file, checks.max_bytes)
        report = await checks.check(session, pdf, client_of(request))
    except DocgenError as exc:
        return HTMLResponse(
            pages_.upload(error=exc.detail), status_code=exc.status_code, headers=exc.headers()
        )
    return HTMLResponse(pages_.upload(report.model_dump(mode="json")))


@pages.get("/v/{code}/pdf", response_class=Response)
async def verify_download(
    _: Public, session: SessionDep, views: PublicViewsDep, documents_: DocumentsDep, code: str
) -> Response:
    """The document's current PDF, for whoever holds its code, once every signer has signed
    (a revoked one says so in its file name)."""
    document, revision = await views.download(session, code)
    response = await revision_response(documents_, document, revision)
    if document.status == DocumentStatus.DICABUT:
        response.headers["Content-Disposition"] = (
            f'inline; filename="DICABUT-{document.template_id}-{document.id[:8]}.pdf"'
        )
    return response
