"""Batches: one document per row of a staff list.

Accepting a batch checks every row, reserves one number per valid row (in row order) and stores
everything the work needs in the registry, the checked data of each row included, its valid rows
split into chunks and one job per chunk queued, all in one transaction; ``docgen worker``
processes then make the documents, chunk by chunk, each exactly once
(:mod:`docgen.batches.tasks`, :mod:`docgen.batches.making`). A dry run checks the same way and
keeps nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

import anyio
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.batches import repository
from docgen.batches.schemas import DryRunOut, RowProblemOut
from docgen.batches.staff_list import RowProblem, StaffList, is_xlsx, read_staff_list
from docgen.batches.tasks import ChunkQueue
from docgen.documents.binding import bind_roles, chosen_problems
from docgen.documents.service import document_date, document_unit, numbering_unit
from docgen.emeterai.rules import offer_problems
from docgen.errors import DataInvalid, FieldProblem, NotFound
from docgen.kit.paging import PageQuery
from docgen.people.policies import Caller
from docgen.people.profiles import IssuingUnit, issuing_unit, with_unit_place
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import (
    Batch,
    BatchChunk,
    BatchRow,
    Signer,
    UnitProfile,
    table_of,
    utcnow,
)
from docgen.registry.numbering import allocate_numbers
from docgen.registry.statuses import BatchStatus, ChunkStatus, Role, RowStatus
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import Template, TemplateManifest
from docgen.templating.validation import stored_form, validate_data
from storage import ObjectStore

__all__ = ["BatchService", "CheckedRow", "list_readable", "readable_batch"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class CheckedRow:
    row: int
    data: dict[str, object]  # as read from the file
    clean: dict[str, object] | None  # None when the row has problems
    problems: list[RowProblem]
    signers: dict[str, str]  # the signer bound to each role of the row's document


async def readable_batch(session: AsyncSession, caller: Caller, batch_id: str) -> Batch:
    """The batch, if the caller may read it: staff and auditors of its unit, a signer with a
    role in one of its documents. Raises NotFound otherwise."""
    batch = await repository.get(session, batch_id)
    if caller.role == Role.SIGNER:
        signer_id = caller.user.signer_id if caller.user else None
        if signer_id and await repository.bound_to(session, batch_id, signer_id):
            return batch
    elif caller.in_unit(batch.unit_id):
        return batch
    raise NotFound("Batch tidak ditemukan")


async def list_readable(
    session: AsyncSession, caller: Caller, page: PageQuery
) -> tuple[list[repository.ListedBatch], int]:
    """One page of the batches an admin, operator or auditor may read (an admin's every one,
    the others' their units'), newest first; and how many there are in all."""
    return await repository.listing(session, None if caller.is_admin else caller.unit_ids, page)


class BatchService:
    """Checks and accepts staff lists; ``chunks`` queues the jobs that make their documents."""

    def __init__(
        self,
        db: Database,
        catalogue: TemplateCatalogue,
        store: ObjectStore,
        chunks: ChunkQueue,
        *,
        chunk_rows: int,
        emeterai_configured: bool = False,
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.store = store
        self.chunks = chunks
        self.chunk_rows = chunk_rows
        # Without a provider, a row asking for an e-Meterai is refused as a document would be.
        self.emeterai_configured = emeterai_configured

    async def check_rows(
        self,
        template: Template,
        filename: str,
        content: bytes,
        signers: Mapping[str, str],
        profile: UnitProfile | None = None,
    ) -> list[CheckedRow]:
        """Every row of the file, checked against the template and the chosen signers; the
        unit's place (``profile``) fills the template's place field where a row leaves it empty.

        Raises StaffListInvalid (the file as a whole), DataInvalid (an unknown role or signer
        in ``signers``; a template that asks for paraf).
        """
        manifest = template.manifest
        if manifest.paraf is not None:
            # A batch names no verifikator: its documents would skip the paraf the template
            # asks for.
            message = "templat ini meminta paraf verifikator; buat dokumennya satu per satu"
            raise DataInvalid([FieldProblem("template", message)])
        staff = await anyio.to_thread.run_sync(read_staff_list, filename, content, manifest)
        async with self.db.session() as session:
            chosen, refused = await chosen_problems(session, manifest, signers)
            if refused:
                raise DataInvalid(refused)
            return await self._check_rows(session, staff, manifest, chosen, profile)

    async def issuing_unit(self, unit_id: str | None) -> IssuingUnit | None:
        """The unit with its profile (None for no unit). Raises NotFound (no such unit)."""
        if unit_id is None:
            return None
        async with self.db.session() as session:
            return await issuing_unit(session, unit_id)

    async def _check_rows(
        self,
        session: AsyncSession,
        staff: StaffList,
        manifest: TemplateManifest,
        chosen: Mapping[str, Signer],
        profile: UnitProfile | None,
    ) -> list[CheckedRow]:
        cell_problems = staff.read_problems()
        checked = []
        known: dict[str, Signer | None] = {}
        for sheet_row in staff.rows:
            read = cell_problems.get(sheet_row.row, [])
            problems = list(read)
            clean: dict[str, object] | None = None
            try:
                clean = validate_data(manifest, with_unit_place(manifest, sheet_row.data, profile))
                refused = offer_problems(manifest, clean, self.emeterai_configured)
                if refused:
                    raise DataInvalid(refused)
            except DataInvalid as exc:
                problems = sheet_row.problems_of(read, exc.problems)
            else:
                bound, unbound = await bind_roles(session, manifest, clean, chosen, known)
                problems += [RowProblem(sheet_row.row, p.field, p.message) for p in unbound]
            checked.append(
                CheckedRow(
                    sheet_row.row,
                    sheet_row.data,
                    None if problems else clean,
                    problems,
                    {role: signer.id for role, signer in bound.items()} if not problems else {},
                )
            )
        return checked

    async def dry_run(
        self,
        caller: Caller,
        template_id: str,
        filename: str,
        content: bytes,
        signers: Mapping[str, str],
        unit_id: str | None = None,
    ) -> DryRunOut:
        """Every problem of every row, and nothing created. The unit the batch would belong to
        (``unit_id``, or the caller's only one) fills empty place fields as it would there.

        Raises Forbidden (not the caller's unit), TemplateNotFound, StaffListInvalid,
        DataInvalid (as ``check_rows``).
        """
        template = self.catalogue.latest(template_id)
        try:
            unit: str | None = document_unit(caller, unit_id)
        except DataInvalid:
            unit = None  # no unit chosen among several: a dry run checks all the same
        issuer = await self.issuing_unit(unit)
        profile = issuer.profile if issuer else None
        checked = await self.check_rows(template, filename, content, signers, profile)
        invalid = sum(1 for c in checked if c.problems)
        return DryRunOut(
            template=template.id,
            template_version=template.version,
            total=len(checked),
            valid=len(checked) - invalid,
            invalid=invalid,
            problems=[RowProblemOut(**p.view()) for c in checked for p in c.problems],
        )

    async def accept(
        self,
        caller: Caller,
        template_id: str,
        filename: str,
        content: bytes,
        signers: Mapping[str, str],
        unit_id: str | None,
    ) -> str:
        """Accept a batch of the caller's unit; returns its id. Rows with problems are recorded
        as failed at once. Numbers and empty places come from the unit's profile where it has
        them (as for one document).

        Raises Forbidden, TemplateNotFound, StaffListInvalid, DataInvalid (as ``check_rows``).
        """
        unit = document_unit(caller, unit_id)
        template = self.catalogue.latest(template_id)
        manifest = template.manifest
        async with self.db.session() as session:
            issuer = await issuing_unit(session, unit)
        checked = await self.check_rows(template, filename, content, signers, issuer.profile)
        batch_id = uuid.uuid4().hex
        xlsx = is_xlsx(filename, content)
        source = await self.store.put(
            f"batches/{batch_id}/daftar{'.xlsx' if xlsx else '.csv'}",
            content,
            XLSX_TYPE if xlsx else "text/csv",
            unique_key=True,  # under a new random batch id
        )
        valid = [(c, c.clean) for c in checked if c.clean is not None]
        async with self.db.writing() as session:
            numbers = await allocate_numbers(
                session,
                issuer.numbering(manifest),
                [
                    (document_date(manifest, clean), numbering_unit(manifest, clean))
                    for _, clean in valid
                ],
            )
            number_of = {c.row: n for (c, _), n in zip(valid, numbers, strict=True)}
            # Consecutive valid rows, in row order: the chunks they are made and registered in.
            chunk_of = {c.row: i // self.chunk_rows for i, (c, _) in enumerate(valid)}
            session.add(
                Batch(
                    id=batch_id,
                    template_id=template.id,
                    template_version=template.version,
                    filename=PurePath(filename or "daftar").name[:300],
                    source_key=source.key,
                    source_sha256=source.sha256,
                    signers=dict(signers),
                    status=BatchStatus.ANTRE if valid else BatchStatus.SELESAI,
                    total=len(checked),
                    unit_id=unit,
                    created_by=caller.id,
                )
            )
            # The batch first: its rows point to it.
            await session.flush()
            # One executemany: as ORM objects, 1,000 rows cost ~0.45 s of the service's time.
            await session.execute(
                insert(table_of(BatchRow)),
                [
                    {
                        "batch_id": batch_id,
                        "row": c.row,
                        "data": c.data,
                        "clean": stored_form(c.clean) if c.clean is not None else None,
                        "number": number_of.get(c.row),
                        "status": RowStatus.MENUNGGU if c.clean is not None else RowStatus.GAGAL,
                        "errors": [p.view() for p in c.problems],
                        "document_id": None,
                        "signers": c.signers,
                        "chunk": chunk_of.get(c.row),
                    }
                    for c in checked
                ],
            )
            chunks = sorted(set(chunk_of.values()))
            if chunks:
                await session.execute(
                    insert(table_of(BatchChunk)),
                    [
                        {
                            "batch_id": batch_id,
                            "chunk": chunk,
                            "status": ChunkStatus.MENUNGGU,
                            "attempts": 0,
                            "abandoned_packs": [],
                            "updated_at": utcnow(),
                        }
                        for chunk in chunks
                    ],
                )
                # In this transaction: the batch and the jobs that make it commit together.
                await self.chunks.enqueue(session, batch_id, chunks)
            await audit.record(
                session,
                "batch.created",
                "batch",
                batch_id,
                template=template.id,
                version=template.version,
                rows=len(checked),
                invalid=len(checked) - len(valid),
                sha256=source.sha256,
            )
            await session.commit()
        return batch_id
