"""The verifikator's pages: what waits for their paraf, and their paraf or return of a document
(on the document's page, ``signing_pages``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from docgen.deps import OfficeDep, ParafDep
from docgen.errors import DocgenError
from docgen.paraf.schemas import ParafReturnIn
from docgen.people.policies import VerifikatorCaller
from docgen.web.signing_pages import PagePartsDep, _document_page, _problems, _see

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/paraf", response_class=HTMLResponse)
async def waiting(
    caller: VerifikatorCaller, request: Request, office: OfficeDep, paraf: ParafDep
) -> HTMLResponse:
    """What waits for the verifikator's paraf now, and what waits for an earlier one first
    (as GET /api/v1/paraf)."""
    pending = await paraf.pending(caller)
    return office.page(
        request,
        caller,
        "vrf_paraf.html",
        ready=[p for p in pending if not p.before],
        later=[p for p in pending if p.before],
    )


@router.post("/dokumen/{document_id}/paraf", response_class=HTMLResponse)
async def approve(
    caller: VerifikatorCaller, parts: PagePartsDep, paraf: ParafDep, document_id: str
) -> Response:
    """The verifikator initials the document (as POST /api/v1/documents/{id}/paraf)."""
    try:
        await paraf.approve(caller, document_id)
    except DocgenError as exc:
        return await _document_page(
            parts,
            caller,
            document_id,
            status_code=exc.status_code,
            form="paraf",
            error=exc.detail,
        )
    return _see("/paraf", "Dokumen diparaf")


@router.post("/dokumen/{document_id}/kembalikan", response_class=HTMLResponse)
async def send_back(
    caller: VerifikatorCaller,
    parts: PagePartsDep,
    paraf: ParafDep,
    document_id: str,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The verifikator returns the document to its operator with a note (as POST
    /api/v1/documents/{id}/paraf/return)."""
    problems: dict[str, str] = {}
    error = None
    try:
        body = ParafReturnIn(note=note.strip())
        await paraf.send_back(caller, document_id, body.note)
    except ValidationError as exc:
        problems, status_code = _problems(exc), 422
    except DocgenError as exc:
        error, status_code = exc.detail, exc.status_code
    else:
        return _see("/paraf", "Dokumen dikembalikan kepada operator")
    return await _document_page(
        parts,
        caller,
        document_id,
        status_code=status_code,
        form="kembalikan",
        error=error,
        problems=problems,
        values={"note": note},
    )
