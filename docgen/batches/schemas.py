"""What goes in and out of the batches' routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from docgen.batches.lists import CheckedList
from docgen.batches.repository import BatchState, ListedBatch
from docgen.kit.links import Links
from docgen.kit.paging import PageOut
from docgen.kit.types import Instant
from docgen.registry.models import BatchSigning
from docgen.registry.statuses import BatchStatus, DocumentStatus, RowStatus, SigningStatus
from docgen.templating.manifest import Template

__all__ = [
    "BatchDocumentOut",
    "BatchItemOut",
    "BatchListOut",
    "BatchOut",
    "DryRunOut",
    "ListOut",
    "RowProblemOut",
    "SigningErrorOut",
    "SigningOut",
    "SigningStartedOut",
    "SkippedOut",
]


class RowProblemOut(BaseModel):
    """A problem of one row of a staff list, where the operator sees it in the spreadsheet."""

    row: int = Field(description="the row in the spreadsheet (the header is 1)")
    column: str
    message: str


class DryRunOut(BaseModel):
    dry_run: bool = True
    template: str
    template_version: int
    total: int
    valid: int
    invalid: int
    problems: list[RowProblemOut]


class SigningErrorOut(BaseModel):
    document_id: str
    number: str | None
    message: str


class SigningOut(BaseModel):
    """A bulk signing of a batch and its progress."""

    id: str
    role: str
    signer_id: str
    status: SigningStatus
    total: int
    done: int
    failed: int
    errors: list[SigningErrorOut]
    created_at: Instant
    finished_at: Instant | None

    @classmethod
    def of(cls, signing: BatchSigning) -> SigningOut:
        return cls(
            id=signing.id,
            role=signing.role,
            signer_id=signing.signer_id,
            status=signing.status,
            total=signing.total,
            done=signing.done,
            failed=signing.failed,
            errors=[SigningErrorOut(**error) for error in signing.errors],
            created_at=signing.created_at,
            finished_at=signing.finished_at,
        )


class SkippedOut(BaseModel):
    """A document of the batch a bulk signing leaves out, and why."""

    document_id: str
    number: str
    reason: str


class SigningStartedOut(SigningOut):
    skipped: list[SkippedOut]


class BatchDocumentOut(BaseModel):
    row: int
    id: str
    number: str
    status: DocumentStatus
    pending_roles: list[str]
    verify_url: str


class BatchOut(BaseModel):
    id: str
    template: str
    template_version: int
    filename: str
    source_sha256: str
    status: BatchStatus
    total: int
    done: int
    failed: int
    pending: int
    errors: list[RowProblemOut] = Field(description="every problem of the failed rows")
    documents: list[BatchDocumentOut] = Field(
        description="in row order; empty with documents=false"
    )
    signings: list[SigningOut]
    zip_url: str
    created_at: Instant
    finished_at: Instant | None

    @classmethod
    def of(cls, state: BatchState, links: Links) -> BatchOut:
        batch = state.batch
        return cls(
            id=batch.id,
            template=batch.template_id,
            template_version=batch.template_version,
            filename=batch.filename,
            source_sha256=batch.source_sha256,
            status=batch.status,
            total=batch.total,
            done=state.counts.get(RowStatus.SELESAI, 0),
            failed=state.counts.get(RowStatus.GAGAL, 0),
            pending=state.counts.get(RowStatus.MENUNGGU, 0),
            errors=[RowProblemOut(**error) for error in state.errors],
            documents=[
                BatchDocumentOut(
                    row=document.row,
                    id=document.id,
                    number=document.number,
                    status=document.status,
                    pending_roles=document.pending_roles,
                    verify_url=links.verify_url(document.verify_code),
                )
                for document in state.documents
            ],
            signings=[SigningOut.of(s) for s in state.signings],
            zip_url=f"/api/v1/batches/{batch.id}/zip",
            created_at=batch.created_at,
            finished_at=batch.finished_at,
        )


class BatchItemOut(BaseModel):
    """A batch as a listing shows it."""

    id: str
    template: str
    filename: str
    status: BatchStatus
    total: int
    done: int
    failed: int
    created_at: Instant
    unit_id: str | None

    @classmethod
    def of(cls, listed: ListedBatch) -> BatchItemOut:
        batch = listed.batch
        return cls(
            id=batch.id,
            template=batch.template_id,
            filename=batch.filename,
            status=batch.status,
            total=batch.total,
            done=listed.counts.get(RowStatus.SELESAI, 0),
            failed=listed.counts.get(RowStatus.GAGAL, 0),
            created_at=batch.created_at,
            unit_id=batch.unit_id,
        )


class BatchListOut(PageOut):
    """One page of the batches the caller may read, newest first."""

    items: list[BatchItemOut]


class ListOut(BaseModel):
    """What a CSV or XLSX holds for a list field: the items of its good rows, as the field takes
    them in a document's ``data``, and the problems of the others."""

    items: list[Any] = Field(
        description="one per row without problems, in row order: a record of the item fields "
        "(NIP as 18 digits, pangkat as its golongan, dates as YYYY-MM-DD), or a text"
    )
    problems: list[RowProblemOut] = Field(
        description="each problem at its row (the header is 1) and column; its row gives no item"
    )
    template: str
    template_version: int
    field: str
    rows: int = Field(description="the rows read, entirely empty ones skipped")

    @classmethod
    def of(cls, template: Template, checked: CheckedList) -> ListOut:
        return cls(
            items=checked.items,
            problems=[RowProblemOut(**p.view()) for p in checked.problems],
            template=template.id,
            template_version=template.version,
            field=checked.field.name,
            rows=checked.rows,
        )
