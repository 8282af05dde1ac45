"""Signers: enrol, approve, re-enrol, read, revoke, and what each still has to sign."""

from __future__ import annotations

from fastapi import APIRouter

from docgen.deps import LinksDep, SessionDep, SignersDep
from docgen.documents import repository as documents
from docgen.documents.schemas import PendingOut
from docgen.documents.service import waiting_for
from docgen.errors import error_responses
from docgen.people.policies import AdminCaller, AnyCaller, StaffCaller
from docgen.registry.models import Signer
from docgen.signers.schemas import (
    ReenrolIn,
    SignerCreatedOut,
    SignerIn,
    SignerOut,
    SignerRevokeIn,
)

router = APIRouter(prefix="/signers", tags=["penanda tangan"], responses=error_responses(401, 403))


def _created(signer: Signer, url: str | None) -> SignerCreatedOut:
    return SignerCreatedOut(**SignerOut.of(signer).model_dump(), activation_url=url)


@router.post(
    "", status_code=201, response_model=SignerCreatedOut, responses=error_responses(403, 409, 422)
)
async def enrol(caller: StaffCaller, signers: SignersDep, body: SignerIn) -> SignerCreatedOut:
    """Enter a signer's identity (no PIN: the signer sets it when activating). An admin's entry
    is in effect at once and comes with the activation link; an operator's waits for
    ``POST /signers/{id}/approve``."""
    return _created(*await signers.enrol(caller, body))


@router.get("", response_model=list[SignerOut])
async def list_signers(caller: AnyCaller, signers: SignersDep) -> list[SignerOut]:
    """The signers the caller may see: all for admins, their units' for operators and
    auditors, themselves for a signer."""
    return [SignerOut.of(s) for s in await signers.visible(caller)]


@router.get("/{signer_id}", response_model=SignerOut, responses=error_responses(404))
async def get_signer(caller: AnyCaller, signers: SignersDep, signer_id: str) -> SignerOut:
    return SignerOut.of(await signers.get(caller, signer_id))


@router.post(
    "/{signer_id}/approve", response_model=SignerCreatedOut, responses=error_responses(404, 409)
)
async def approve(caller: AdminCaller, signers: SignersDep, signer_id: str) -> SignerCreatedOut:
    """Put an operator's entry in effect; answers with the signer's activation link."""
    return _created(*await signers.approve(caller, signer_id))


@router.post(
    "/{signer_id}/reenrol",
    status_code=201,
    response_model=SignerCreatedOut,
    responses=error_responses(403, 404, 409),
)
async def reenrol(
    caller: StaffCaller, signers: SignersDep, signer_id: str, body: ReenrolIn
) -> SignerCreatedOut:
    """A new enrolment of the same person (new jabatan, or a forgotten PIN): once activated,
    the old certificate is revoked and the new one signs what still waits for the old."""
    return _created(*await signers.reenrol(caller, signer_id, body))


@router.post(
    "/{signer_id}/activation", response_model=SignerCreatedOut, responses=error_responses(404, 409)
)
async def new_activation(_: AdminCaller, signers: SignersDep, signer_id: str) -> SignerCreatedOut:
    """A new activation link for a signer who has not activated yet."""
    return _created(*await signers.new_activation(signer_id))


@router.post(
    "/{signer_id}/revoke", response_model=SignerOut, responses=error_responses(404, 409, 503)
)
async def revoke(
    _: AdminCaller, signers: SignersDep, signer_id: str, body: SignerRevokeIn
) -> SignerOut:
    """Revoke the signer's certificate (e.g. they left office): listed in the CRL at once; a
    bulk signing of theirs stops before its next document."""
    return SignerOut.of(await signers.revoke(signer_id, body.reason))


@router.get("/{signer_id}/pending", response_model=list[PendingOut], responses=error_responses(404))
async def pending(
    caller: AnyCaller, signers: SignersDep, session: SessionDep, links: LinksDep, signer_id: str
) -> list[PendingOut]:
    """What this signer still has to sign; ``ready`` is false while others must sign first."""
    signer = await signers.get(caller, signer_id)
    return [
        PendingOut.of(document, slot, waiting_for(document, slot), links)
        for document, slot in await documents.pending_for(session, signer)
    ]
