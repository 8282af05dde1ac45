"""Paraf: what waits for the verifikator, and their paraf or return of a document."""

from __future__ import annotations

from fastapi import APIRouter

from docgen.deps import LinksDep, ParafDep
from docgen.documents.routes import readable_document
from docgen.documents.schemas import DocumentOut
from docgen.errors import error_responses
from docgen.paraf.schemas import ParafPendingOut, ParafReturnIn
from docgen.people.policies import VerifikatorCaller

router = APIRouter(tags=["paraf"], responses=error_responses(401, 403))


@router.get("/paraf", response_model=list[ParafPendingOut])
async def my_paraf(
    caller: VerifikatorCaller, paraf: ParafDep, links: LinksDep
) -> list[ParafPendingOut]:
    """The documents waiting for the caller's paraf, oldest first: theirs to initial now
    (``ready``), or after an earlier verifikator."""
    return [ParafPendingOut.of(pending, links) for pending in await paraf.pending(caller)]


@router.post(
    "/documents/{document_id}/paraf",
    response_model=DocumentOut,
    responses=error_responses(404, 409),
)
async def approve(
    caller: VerifikatorCaller, paraf: ParafDep, links: LinksDep, document_id: str
) -> DocumentOut:
    """The verifikator whose turn it is initials the document (paraf); after the last one, its
    signers sign in the template's order. Another verifikator of the document: 409 until their
    turn; anyone else: 403."""
    await paraf.approve(caller, document_id)
    async with paraf.db.session() as session:
        return DocumentOut.of(await readable_document(session, caller, document_id), links)


@router.post(
    "/documents/{document_id}/paraf/return",
    response_model=DocumentOut,
    responses=error_responses(404, 409, 422),
)
async def send_back(
    caller: VerifikatorCaller,
    paraf: ParafDep,
    links: LinksDep,
    document_id: str,
    body: ParafReturnIn,
) -> DocumentOut:
    """The verifikator whose turn it is returns the document to its operator with a note: it is
    DIKEMBALIKAN, nobody initials or signs it any more; the operator revokes it and makes a
    corrected one."""
    await paraf.send_back(caller, document_id, body.note)
    async with paraf.db.session() as session:
        return DocumentOut.of(await readable_document(session, caller, document_id), links)
