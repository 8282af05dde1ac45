"""The queries of notifications: documents with their slots, and the accounts to write to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, raiseload, selectinload

from docgen.registry.models import BatchRow, Document, SignatureSlot, User

__all__ = ["accounts_of_signers", "batch_documents", "documents", "users_with_email"]


def _documents() -> Select[Document]:
    # Turns need the slots only: not who signed them, the revisions, nor the data.
    return select(Document).options(
        selectinload(Document.slots).raiseload(SignatureSlot.signer),
        raiseload(Document.revisions),
        defer(Document.data, raiseload=True),
    )


async def documents(session: AsyncSession, document_ids: Sequence[str]) -> list[Document]:
    """The documents with these ids (unknown ones left out), oldest number first."""
    found = await session.scalars(
        _documents().where(Document.id.in_(document_ids)).order_by(Document.number)
    )
    return list(found)


async def batch_documents(session: AsyncSession, batch_id: str) -> list[Document]:
    """The documents made from a batch's rows, in the order of the rows."""
    found = await session.scalars(
        _documents()
        .join(BatchRow, BatchRow.document_id == Document.id)
        .where(BatchRow.batch_id == batch_id)
        .order_by(BatchRow.row)
    )
    return list(found)


def _reachable() -> Select[User]:
    return select(User).where(User.email.is_not(None), User.email != "", User.disabled.is_(False))


async def accounts_of_signers(session: AsyncSession, signer_ids: Iterable[str]) -> dict[str, User]:
    """By signer id: the account of each of these enrolments that has an e-mail address."""
    found = await session.scalars(_reachable().where(User.signer_id.in_(set(signer_ids))))
    return {user.signer_id: user for user in found if user.signer_id is not None}


async def users_with_email(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, User]:
    """By id: these users, those with an e-mail address."""
    found = await session.scalars(_reachable().where(User.id.in_(set(user_ids))))
    return {user.id: user for user in found}
