"""Queries of paraf steps: naming a document's verifikator, and what waits for one of them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.registry import audit
from docgen.registry.models import Document, ParafStep, User, table_of
from docgen.registry.statuses import DocumentStatus, ParafState

__all__ = ["add_steps", "pending_for", "users"]


async def add_steps(
    session: AsyncSession, document_id: str, steps: Sequence[tuple[str, str]]
) -> None:
    """Name the verifikator of a just registered document (``steps``: label and user id, in
    order) and hold its signatures until they have initialled it (the caller holds a
    ``Database.writing`` session and commits)."""
    if not steps:
        return
    await session.execute(
        insert(table_of(ParafStep)),
        [
            {
                "document_id": document_id,
                "step": n,
                "label": label,
                "user_id": user_id,
                "state": ParafState.MENUNGGU.value,
            }
            for n, (label, user_id) in enumerate(steps, start=1)
        ],
    )
    await session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(status=DocumentStatus.MENUNGGU_PARAF)
    )
    await audit.record(
        session,
        "document.paraf_named",
        "document",
        document_id,
        verifikator=[user_id for _, user_id in steps],
    )


async def pending_for(session: AsyncSession, user_id: str) -> list[tuple[Document, ParafStep]]:
    """The steps of this verifikator not initialled yet, of documents waiting for paraf,
    oldest document first (their turn or not: see ``docgen.paraf.service.current_step``)."""
    rows = await session.execute(
        select(Document, ParafStep)
        .join(ParafStep, Document.id == ParafStep.document_id)
        .where(
            ParafStep.user_id == user_id,
            ParafStep.state == ParafState.MENUNGGU,
            Document.status == DocumentStatus.MENUNGGU_PARAF,
        )
        .order_by(Document.created_at, Document.id)
    )
    return [(document, step) for document, step in rows.tuples().all()]


async def users(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, User]:
    """By id: the accounts with these ids (unknown ones left out)."""
    found = await session.scalars(select(User).where(User.id.in_(set(user_ids))))
    return {user.id: user for user in found}
