"""``docgen converter``: the local LibreOffice pool (:class:`UnoserverPool`) of this node behind
a small HTTP API, for every instance of the deployment.

``POST /api/v1/convert`` takes the DOCX documents of one call as a multipart form, in order
(one ``dokumen`` part each), and answers each one's PDF or failure (:class:`ConvertedOut`),
as ``UnoserverPool.to_pdfs`` would; it needs the deployment's bearer token
(:mod:`docgen.converter.auth`). ``/healthz`` says the process serves, ``/readyz`` that its
LibreOffice takes connections.
"""

from __future__ import annotations

import base64

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from docgen.converter.auth import token_matches
from docgen.converter.schemas import ConvertedOut, DocumentOut, NodeReadyOut
from docgen.errors import (
    ConversionFailed,
    DocgenError,
    NotAuthenticated,
    UploadInvalid,
    UploadTooLarge,
    error_responses,
)
from docgen.kit.error_bodies import add_error_handlers
from docgen.kit.limits import BodySizeLimit
from docgen.pipeline.convert import BatchConversionFailed, ServingConverter

__all__ = ["CONVERT_PATH", "DOCUMENT_FIELD", "create_node_app", "convert_documents"]

CONVERT_PATH = "/api/v1/convert"
DOCUMENT_FIELD = "dokumen"  # the name of each DOCX part of the form


class NotReady(DocgenError):
    """The node's LibreOffice does not take conversions now."""

    status_code = 503


async def convert_documents(converter: ServingConverter, docxs: list[bytes]) -> ConvertedOut:
    """Each document's PDF or failure, in order.

    Raises:
        ConversionFailed: the converter cannot convert at all (not started).
    """
    try:
        pdfs: list[bytes | None] = list(await converter.to_pdfs(docxs))
        failures: dict[int, ConversionFailed] = {}
    except BatchConversionFailed as exc:
        pdfs, failures = exc.pdfs, exc.failures
    documents = []
    for index, pdf in enumerate(pdfs):
        if pdf is None:
            documents.append(DocumentOut(error=failures[index].detail))
        else:
            documents.append(DocumentOut(pdf=base64.b64encode(pdf).decode("ascii")))
    return ConvertedOut(documents=documents)


async def _documents(request: Request, max_documents: int) -> list[bytes]:
    """The DOCX parts of the form, in order; raises UploadInvalid, UploadTooLarge."""
    try:
        form = await request.form(max_files=max_documents + 1, max_fields=0)
    except StarletteHTTPException as exc:
        raise UploadInvalid(
            f"Permintaan bukan formulir multipart yang terbaca: {exc.detail}"
        ) from exc
    try:
        parts = form.getlist(DOCUMENT_FIELD)
        if len(parts) > max_documents:
            raise UploadTooLarge(f"Satu permintaan memuat paling banyak {max_documents} dokumen")
        if not parts or not all(isinstance(part, UploadFile) for part in parts):
            raise UploadInvalid(f"Kirim setiap DOCX sebagai berkas bernama {DOCUMENT_FIELD!r}")
        return [await part.read() for part in parts if isinstance(part, UploadFile)]
    finally:
        await form.close()


def create_node_app(
    converter: ServingConverter, token: str, *, max_documents: int, max_request_bytes: int
) -> FastAPI:
    """The node's app on a started ``converter``; ``token`` is what callers must present."""

    def caller(request: Request) -> None:
        """Raises NotAuthenticated (401) unless the request carries the token."""
        if not token_matches(request.headers.get("authorization"), token):
            raise NotAuthenticated("Token node konverter tidak ada atau salah")

    app = FastAPI(
        title="docgen converter",
        summary="Node konversi DOCX -> PDF (LibreOffice) untuk instans docgen",
        version="1",
        docs_url=None,  # its callers are programs; /openapi.json describes it
        redoc_url=None,
    )
    app.add_middleware(BodySizeLimit, limit=max_request_bytes)

    @app.post(
        CONVERT_PATH,
        response_model=ConvertedOut,
        dependencies=[Depends(caller)],
        responses=error_responses(400, 401, 413, 502),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                DOCUMENT_FIELD: {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                }
                            },
                        }
                    }
                },
            }
        },
    )
    async def convert(request: Request) -> ConvertedOut:
        """Convert the DOCX documents of the form, in order: each one's PDF, or its failure."""
        # The form is read only once the token was checked (no parsing for strangers).
        return await convert_documents(converter, await _documents(request, max_documents))

    @app.get("/healthz", tags=["kesehatan"])
    async def healthz() -> dict[str, str]:
        """Alive and serving."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["kesehatan"], response_model=NodeReadyOut)
    async def readyz() -> NodeReadyOut:
        """LibreOffice (unoserver) of this node takes connections (503 otherwise)."""
        if not await converter.listening():
            raise NotReady("Belum siap; LibreOffice (unoserver) tidak menerima konversi")
        return NodeReadyOut(status="siap")

    add_error_handlers(app)
    return app
