"""Queries of batches, their rows, documents and bulk signings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.documents.repository import SLOTS_ONLY, WITHOUT_SLOT_SIGNERS
from docgen.errors import NotFound
from docgen.kit.paging import PageQuery
from docgen.registry.models import (
    Batch,
    BatchChunk,
    BatchRow,
    BatchSigning,
    Document,
    SignatureSlot,
)
from docgen.registry.statuses import (
    BatchStatus,
    ChunkStatus,
    DocumentStatus,
    RowStatus,
    SigningStatus,
)

__all__ = [
    "BatchDocument",
    "BatchState",
    "ListedBatch",
    "batches_of",
    "bound_to",
    "chunk_rows",
    "documents_of",
    "end_lapsed_signings",
    "get",
    "idle_unfinished",
    "leased_signing",
    "listing",
    "state",
]


async def get(session: AsyncSession, batch_id: str) -> Batch:
    """Raises NotFound."""
    batch = await session.get(Batch, batch_id)
    if batch is None:
        raise NotFound("Batch tidak ditemukan")
    return batch


async def idle_unfinished(session: AsyncSession) -> list[str]:
    """The batches still to be made (or left half made) with no chunk left to make, oldest
    first: each chunk ended, and only the batch's own end is missing."""
    open_chunk = (
        select(BatchChunk.chunk)
        .where(
            BatchChunk.batch_id == Batch.id,
            BatchChunk.status.in_((ChunkStatus.MENUNGGU, ChunkStatus.BERJALAN)),
        )
        .exists()
    )
    found = await session.scalars(
        select(Batch.id)
        .where(Batch.status.in_((BatchStatus.ANTRE, BatchStatus.BERJALAN)), ~open_chunk)
        .order_by(Batch.created_at, Batch.id)
    )
    return list(found)


# A running signing whose lease ran out: its holder stopped renewing it (killed, or cut off
# from the registry), so it is interrupted whether or not anything marked it so yet. Leases
# are compared with the statement's time, not now(): a transaction's start, which may lie
# before a wait for the write lock.
_LAPSED = and_(
    BatchSigning.status == SigningStatus.BERJALAN,
    BatchSigning.lease_until <= func.statement_timestamp(),
)


async def end_lapsed_signings(session: AsyncSession) -> None:
    """Mark the running signings whose lease ran out interrupted (``terputus``)."""
    await session.execute(
        update(BatchSigning)
        .where(_LAPSED)
        .values(status=SigningStatus.TERPUTUS, finished_at=func.statement_timestamp())
    )


async def leased_signing(
    session: AsyncSession, signing_id: str, holder: str
) -> BatchSigning | None:
    """The signing, its row locked to the end of the transaction, if it still runs under
    ``holder``'s lease; else None."""
    found = await session.scalars(
        select(BatchSigning)
        .where(
            BatchSigning.id == signing_id,
            BatchSigning.holder == holder,
            BatchSigning.status == SigningStatus.BERJALAN,
            BatchSigning.lease_until > func.statement_timestamp(),
        )
        .with_for_update()
    )
    return found.one_or_none()


async def chunk_rows(session: AsyncSession, batch_id: str, chunk: int) -> list[BatchRow]:
    """The chunk's rows whose document is still to be made, in row order."""
    rows = await session.scalars(
        select(BatchRow)
        .where(
            BatchRow.batch_id == batch_id,
            BatchRow.chunk == chunk,
            BatchRow.status == RowStatus.MENUNGGU,
        )
        .order_by(BatchRow.row)
    )
    return list(rows)


@dataclass(frozen=True)
class BatchDocument:
    """A document of a batch as its listing shows it."""

    row: int
    id: str
    number: str
    status: DocumentStatus
    verify_code: str
    pending_roles: list[str]  # unsigned, in signing order


@dataclass(frozen=True)
class BatchState:
    batch: Batch
    counts: dict[RowStatus, int]  # row status -> rows
    errors: list[dict[str, Any]]  # of the rows, in row order
    documents: list[BatchDocument]  # in row order
    signings: list[BatchSigning]


async def state(session: AsyncSession, batch_id: str, *, rows: bool = True) -> BatchState:
    """The batch with its rows' errors and documents in row order, or only its counts and
    signings when ``rows`` is false. Raises NotFound.

    Columns, not ORM objects: a listing of 1,000 documents built from their entities and slots
    took ~0.3 s of the service's CPU.
    """
    batch = await get(session, batch_id)
    errors: list[dict[str, Any]] = []
    listed: list[BatchDocument] = []
    counted = await session.execute(
        select(BatchRow.status, func.count())
        .where(BatchRow.batch_id == batch_id)
        .group_by(BatchRow.status)
    )
    counts = {RowStatus(status): n for status, n in counted.tuples().all()}
    if rows:
        pending: dict[str, list[str]] = {}
        unsigned = await session.execute(
            select(SignatureSlot.document_id, SignatureSlot.role)
            .join(BatchRow, BatchRow.document_id == SignatureSlot.document_id)
            .where(BatchRow.batch_id == batch_id, SignatureSlot.signed_at.is_(None))
            .order_by(SignatureSlot.document_id, SignatureSlot.order, SignatureSlot.id)
        )
        for document_id, role in unsigned.tuples():
            pending.setdefault(document_id, []).append(role)
        found = await session.execute(
            select(
                BatchRow.row,
                BatchRow.errors,
                Document.id,
                Document.number,
                Document.status,
                Document.verify_code,
            )
            .outerjoin(Document, BatchRow.document_id == Document.id)
            .where(BatchRow.batch_id == batch_id)
            .order_by(BatchRow.row)
        )
        for row, row_errors, document_id, number, status, code in found.tuples():
            errors += row_errors
            if document_id is not None:
                listed.append(
                    BatchDocument(
                        row, document_id, number, status, code, pending.get(document_id, [])
                    )
                )
    found_signings = await session.execute(
        select(BatchSigning, _LAPSED)
        .where(BatchSigning.batch_id == batch_id)
        .order_by(BatchSigning.created_at)
    )
    signings = []
    for signing, lapsed in found_signings.tuples():
        if lapsed:
            # Shown as what it is; detached first, so no flush ever writes it from here.
            session.expunge(signing)
            signing.status = SigningStatus.TERPUTUS
        signings.append(signing)
    return BatchState(batch, counts, errors, listed, signings)


async def documents_of(
    session: AsyncSession, batch_id: str, *, revisions: bool = True
) -> list[Document]:
    """The documents made so far for the batch, in row order, with their slots (not who signed
    them) and, unless ``revisions`` is false, their revisions."""
    documents = await session.scalars(
        select(Document)
        .join(BatchRow, BatchRow.document_id == Document.id)
        .where(BatchRow.batch_id == batch_id)
        .order_by(BatchRow.row)
        .options(*(WITHOUT_SLOT_SIGNERS if revisions else SLOTS_ONLY))
    )
    return list(documents)


async def batches_of(session: AsyncSession, document_ids: Sequence[str]) -> dict[str, str]:
    """The batch each of these documents was made in (document id -> batch id); documents
    made one at a time are left out."""
    if not document_ids:
        return {}
    rows = await session.execute(
        select(BatchRow.document_id, BatchRow.batch_id).where(
            BatchRow.document_id.in_(document_ids)
        )
    )
    return {document_id: batch_id for document_id, batch_id in rows.tuples() if document_id}


async def bound_to(session: AsyncSession, batch_id: str, signer_id: str) -> bool:
    """Whether a document of the batch has a role bound to the signer."""
    found = await session.scalar(
        select(SignatureSlot.id)
        .join(BatchRow, BatchRow.document_id == SignatureSlot.document_id)
        .where(BatchRow.batch_id == batch_id, SignatureSlot.assigned_signer_id == signer_id)
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True)
class ListedBatch:
    batch: Batch
    counts: dict[RowStatus, int]  # row status -> rows


async def listing(
    session: AsyncSession, unit_ids: frozenset[str] | None, page: PageQuery
) -> tuple[list[ListedBatch], int]:
    """One page of the batches of ``unit_ids`` (every unit's when None), newest first, with
    their rows counted by status; and how many there are in all."""
    where = [] if unit_ids is None else [Batch.unit_id.in_(unit_ids)]
    total = await session.scalar(select(func.count()).select_from(Batch).where(*where))
    batches = list(
        await session.scalars(
            select(Batch)
            .where(*where)
            .order_by(Batch.created_at.desc(), Batch.id.desc())
            .offset(page.offset)
            .limit(page.per_page)
        )
    )
    counts: dict[str, dict[RowStatus, int]] = {batch.id: {} for batch in batches}
    if batches:
        counted = await session.execute(
            select(BatchRow.batch_id, BatchRow.status, func.count())
            .where(BatchRow.batch_id.in_(list(counts)))
            .group_by(BatchRow.batch_id, BatchRow.status)
        )
        for batch_id, status, n in counted.tuples():
            counts[batch_id][RowStatus(status)] = n
    return [ListedBatch(batch, counts[batch.id]) for batch in batches], total or 0
