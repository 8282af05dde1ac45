"""Signers: enrol, read, revoke, and what each still has to sign."""

from __future__ import annotations

from fastapi import APIRouter

from docgen.deps import DatabaseDep, KeysDep, LinksDep, RevocationsDep, SessionDep
from docgen.documents import repository as documents
from docgen.documents.schemas import PendingOut
from docgen.documents.service import waiting_for
from docgen.errors import error_responses
from docgen.signers import repository
from docgen.signers.schemas import SignerIn, SignerOut, SignerRevokeIn
from docgen.signers.service import enrol_signer, revoke_signer

router = APIRouter(prefix="/signers", tags=["penanda tangan"])


@router.post("", status_code=201, response_model=SignerOut, responses=error_responses(422))
async def enrol(db: DatabaseDep, keys: KeysDep, body: SignerIn) -> SignerOut:
    """Enrol a signer: a key pair sealed under the PIN, and a certificate."""
    return SignerOut.model_validate(await enrol_signer(db, keys, body), from_attributes=True)


@router.get("/{signer_id}", response_model=SignerOut, responses=error_responses(404))
async def get_signer(session: SessionDep, signer_id: str) -> SignerOut:
    return SignerOut.model_validate(await repository.get(session, signer_id), from_attributes=True)


@router.post(
    "/{signer_id}/revoke", response_model=SignerOut, responses=error_responses(404, 409, 503)
)
async def revoke(
    db: DatabaseDep, revocations: RevocationsDep, signer_id: str, body: SignerRevokeIn
) -> SignerOut:
    """Revoke the signer's certificate (e.g. they left office): listed in the CRL at once."""
    signer = await revoke_signer(db, revocations, signer_id, body.reason)
    return SignerOut.model_validate(signer, from_attributes=True)


@router.get("/{signer_id}/pending", response_model=list[PendingOut], responses=error_responses(404))
async def pending(session: SessionDep, links: LinksDep, signer_id: str) -> list[PendingOut]:
    """What this signer still has to sign; ``ready`` is false while others must sign first."""
    signer = await repository.get(session, signer_id)
    return [
        PendingOut.of(document, slot, waiting_for(document, slot), links)
        for document, slot in await documents.pending_for(session, signer)
    ]
