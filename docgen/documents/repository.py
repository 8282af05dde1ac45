"""Queries of documents, their revisions and signature slots, and the registration of what the
pipeline made or signed: a whole chunk of a batch in a few statements."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Table,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, raiseload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from docgen.errors import Conflict, NotFound
from docgen.kit.paging import PageQuery
from docgen.pipeline.orchestration import Made, Signed
from docgen.pipeline.prepare import field_name
from docgen.registry import audit
from docgen.registry.models import (
    Document,
    ParafStep,
    Revision,
    SignatureSlot,
    Signer,
    table_of,
    utcnow,
)
from docgen.registry.statuses import DocumentStatus, RevisionKind
from docgen.templating.manifest import NOMOR_INDUK_TYPES, FieldSpec, TemplateManifest
from docgen.templating.validation import signing_roles, stored_form
from signing.emeterai import AffixedEMeterai
from storage import StoredObject

__all__ = [
    "SLOTS_ONLY",
    "WITHOUT_SLOT_SIGNERS",
    "Filters",
    "Listed",
    "Scope",
    "by_code",
    "by_ids",
    "document_date",
    "get",
    "latest_revisions",
    "listing",
    "pending_for",
    "register_made",
    "remove_draft",
    "register_signed",
    "search_text",
    "signed_by",
    "stored_object",
]

# Loader options for the many documents of a batch: signing turns and statuses need the slots
# but not who signed them (a query per slot signer), and listings no revisions (six per signed
# berita acara) nor the documents' data. What is not loaded raises when touched instead of
# querying behind our back.
WITHOUT_SLOT_SIGNERS: tuple[ORMOption, ...] = (
    selectinload(Document.slots).raiseload(SignatureSlot.signer),
)
SLOTS_ONLY: tuple[ORMOption, ...] = (
    *WITHOUT_SLOT_SIGNERS,
    raiseload(Document.revisions),
    defer(Document.data, raiseload=True),
)


async def get(session: AsyncSession, document_id: str) -> Document:
    """Raises NotFound."""
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound("Dokumen tidak ditemukan")
    return document


async def by_code(session: AsyncSession, code: str) -> Document:
    """Raises NotFound, the same for every unknown code. The paraf steps are not loaded (they
    raise when touched): the public never sees them, and this read is the busiest one."""
    document = await session.scalar(
        select(Document)
        .where(Document.verify_code == code)
        .options(raiseload(Document.paraf_steps))
    )
    if document is None:
        raise NotFound("Kode verifikasi tidak dikenal")
    return document


async def by_ids(session: AsyncSession, document_ids: Sequence[str]) -> list[Document]:
    """The documents with these ids, in that order (unknown ids are left out), as a bulk
    signing's chunk reads them: their slots without their signers; their revisions (see
    :func:`latest_revisions`), paraf steps and data raise when touched. (With all of them, a
    chunk of 40 documents of four revisions each cost the API 6.5 ms of CPU; this and
    :func:`latest_revisions` 4.5 ms.)"""
    found = await session.scalars(
        select(Document)
        .where(Document.id.in_(document_ids))
        .options(*SLOTS_ONLY, raiseload(Document.paraf_steps))
    )
    known = {document.id: document for document in found}
    return [known[i] for i in document_ids if i in known]


async def latest_revisions(
    session: AsyncSession, document_ids: Sequence[str]
) -> dict[str, Revision]:
    """The newest revision of each of these documents that has one, by document id."""
    found = await session.scalars(
        select(Revision)
        .where(Revision.document_id.in_(document_ids))
        .distinct(Revision.document_id)
        .order_by(Revision.document_id, Revision.seq.desc())
    )
    return {revision.document_id: revision for revision in found}


async def pending_for(
    session: AsyncSession, signer: Signer
) -> list[tuple[Document, SignatureSlot]]:
    """Unsigned slots of unrevoked documents bound to this signer, oldest document first."""
    named = SignatureSlot.assigned_signer_id == signer.id
    rows = await session.execute(
        select(Document, SignatureSlot)
        .join(SignatureSlot, Document.id == SignatureSlot.document_id)
        .where(SignatureSlot.signed_at.is_(None), Document.status == DocumentStatus.MENUNGGU, named)
        .order_by(Document.created_at, SignatureSlot.order, SignatureSlot.id)
    )
    return [(document, slot) for document, slot in rows.tuples().all()]


async def signed_by(
    session: AsyncSession, signer_id: str, page: PageQuery
) -> tuple[list[tuple[Document, SignatureSlot]], int]:
    """One page of the signatures this signer made (each with its document), newest first,
    and how many there are in all."""
    mine = SignatureSlot.signer_id == signer_id
    total = await session.scalar(select(func.count()).select_from(SignatureSlot).where(mine))
    rows = await session.execute(
        select(Document, SignatureSlot)
        .join(SignatureSlot, Document.id == SignatureSlot.document_id)
        .where(mine)
        .options(*SLOTS_ONLY)
        .order_by(SignatureSlot.signed_at.desc(), SignatureSlot.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    return [(document, slot) for document, slot in rows.tuples().all()], total or 0


@dataclass(frozen=True)
class Scope:
    """The documents a listing may show: every one (``everything``), or those of ``unit_ids``,
    those with a role bound to ``signer_id`` and those naming ``verifikator_id`` (a user)."""

    everything: bool = False
    unit_ids: frozenset[str] = frozenset()
    signer_id: str | None = None
    verifikator_id: str | None = None


@dataclass(frozen=True)
class Filters:
    """What a listing asks for within its scope; ``terms``: words all found in the search
    text (lower-cased)."""

    terms: Sequence[str] = ()
    status: DocumentStatus | None = None
    template_id: str | None = None
    unit_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Listed:
    """A document as a listing shows it."""

    id: str
    number: str | None
    title: str
    template_id: str
    status: DocumentStatus
    document_date: str
    unit_id: str | None
    created_at: datetime
    verify_code: str | None
    pending_roles: list[str]  # unsigned, in signing order


def _matching(scope: Scope, filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not scope.everything:
        bound = (
            exists().where(
                SignatureSlot.document_id == Document.id,
                SignatureSlot.assigned_signer_id == scope.signer_id,
            )
            if scope.signer_id
            else None
        )
        named = (
            exists().where(
                ParafStep.document_id == Document.id, ParafStep.user_id == scope.verifikator_id
            )
            if scope.verifikator_id
            else None
        )
        in_units = Document.unit_id.in_(scope.unit_ids) if scope.unit_ids else None
        allowed = [c for c in (in_units, bound, named) if c is not None]
        where.append(or_(*allowed) if allowed else false())
    where += [Document.search_text.contains(term, autoescape=True) for term in filters.terms]
    if filters.status is not None:
        where.append(Document.status == filters.status)
    if filters.template_id is not None:
        where.append(Document.template_id == filters.template_id)
    if filters.unit_id is not None:
        where.append(Document.unit_id == filters.unit_id)
    # ISO dates compare as text.
    if filters.date_from is not None:
        where.append(Document.document_date >= filters.date_from.isoformat())
    if filters.date_to is not None:
        where.append(Document.document_date <= filters.date_to.isoformat())
    return where


async def listing(
    session: AsyncSession, scope: Scope, filters: Filters, page: PageQuery
) -> tuple[list[Listed], int]:
    """One page of the documents in ``scope`` matching ``filters``, newest first, and how many
    match in all. Columns, not ORM objects: no data, revisions or slots are loaded."""
    where = _matching(scope, filters)
    total = await session.scalar(select(func.count()).select_from(Document).where(*where))
    found = await session.execute(
        select(
            Document.id,
            Document.number,
            Document.title,
            Document.template_id,
            Document.status,
            Document.document_date,
            Document.unit_id,
            Document.created_at,
            Document.verify_code,
        )
        .where(*where)
        .order_by(Document.created_at.desc(), Document.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    rows = found.tuples().all()
    pending: dict[str, list[str]] = {}
    if rows:
        unsigned = await session.execute(
            select(SignatureSlot.document_id, SignatureSlot.role)
            .where(
                SignatureSlot.document_id.in_([row[0] for row in rows]),
                SignatureSlot.signed_at.is_(None),
            )
            .order_by(SignatureSlot.order, SignatureSlot.id)
        )
        for document_id, role in unsigned.tuples():
            pending.setdefault(document_id, []).append(role)
    return [Listed(*row, pending.get(row[0], [])) for row in rows], total or 0


def search_text(manifest: TemplateManifest, data: Mapping[str, Any], number: str | None) -> str:
    """What a listing's search looks in: the number, and the names (fields called ``nama`` or
    ``nama_...``) and NIPs / NI PPPK of the data, list items included; lower-cased, one per
    line. Migration 0009 filled it the same way for the documents made before it."""
    words = [number] if number else []
    words += _searchable(manifest.fields, data)
    return "\n".join(word.lower() for word in words)


def _searchable(specs: Sequence[FieldSpec], data: Mapping[str, Any]) -> Iterator[str]:
    for spec in specs:
        value = data.get(spec.name)
        if spec.type == "list" and spec.item_fields and isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from _searchable(spec.item_fields, item)
        elif isinstance(value, str) and value and _searched(spec):
            yield value


def _searched(spec: FieldSpec) -> bool:
    name = spec.type == "text" and (spec.name == "nama" or spec.name.startswith("nama_"))
    return name or spec.type in NOMOR_INDUK_TYPES


def stored_object(revision: Revision) -> StoredObject:
    """Where a revision's bytes lie in object storage."""
    return StoredObject(
        revision.object_key, revision.version_id, revision.sha256, revision.size, revision.offset
    )


def document_date(data: Mapping[str, Any], date_field: str) -> date:
    on = data[date_field]
    assert isinstance(on, date)
    return on


async def remove_draft(session: AsyncSession, document_id: str) -> bool:
    """Delete a draft (it has no revisions or slots); False when it is no longer one."""
    result = await session.execute(
        delete(Document).where(Document.id == document_id, Document.status == DocumentStatus.DRAF)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def register_made(
    session: AsyncSession, made: Sequence[Made], *, unit_id: str | None, created_by: str
) -> None:
    """Register the documents (of ``unit_id``, made by ``created_by``), their revisions,
    signature slots and audit entries, one INSERT per table (the caller holds a
    ``Database.writing`` session and commits)."""
    if not made:
        return
    documents, revisions, slots, entries = [], [], [], []
    for new in made:
        draft, manifest = new.draft, new.draft.template.manifest
        documents.append(
            {
                "id": draft.id,
                "template_id": manifest.id,
                "template_version": manifest.version,
                "template_sha256": draft.template.sha256,
                "document_type": manifest.document_type,
                "title": manifest.document_title(draft.data),
                "number": draft.number,
                "document_date": document_date(draft.data, manifest.date_field).isoformat(),
                "data": stored_form(draft.data),
                "search_text": search_text(manifest, draft.data, draft.number),
                "verify_code": draft.verify_code,
                "status": DocumentStatus.MENUNGGU.value,
                "unit_id": unit_id,
                "created_by": created_by,
                "emeterai_before_role": (
                    manifest.emeterai.before_role
                    if manifest.emeterai is not None and manifest.emeterai_asked(draft.data)
                    else None
                ),
            }
        )
        revisions += [
            _revision_row(draft.id, seq, kind, obj)
            for seq, (kind, obj) in enumerate(new.stored, start=1)
        ]
        slots += [
            {
                "document_id": draft.id,
                "role": role.name,
                "label": role.label,
                "order": role.order,
                "field_name": field_name(role.name),
                "page": new.pages[role.name],
                "expected_nip": draft.data.get(role.signer_nip_field)
                if role.signer_nip_field
                else None,
                "assigned_signer_id": draft.assigned.get(role.name),
            }
            for role in signing_roles(manifest, draft.data)
        ]
        details = {
            "template": manifest.id,
            "version": manifest.version,
            "number": draft.number,
            "sha256": new.stored[-1][1].sha256,
        }
        entries.append(("document.created", "document", draft.id, details))
    # Core inserts, not the ORM's bulk insert (it would split the slots into one statement per
    # row, as rows with and without a NIP alternate). The documents first, one executemany:
    # revisions and slots point to them. Those two (200 and 300 rows for a chunk of 100 berita
    # acara) with one statement each: 3.0 and 3.1 ms of the worker's CPU per chunk against 4.8
    # and 5.8 as an executemany (_insert_rows).
    await session.execute(insert(table_of(Document)), documents)
    await session.execute(_insert_rows(table_of(Revision), revisions))
    if slots:  # (a template may have no signer)
        await session.execute(_insert_rows(table_of(SignatureSlot), slots))
    await audit.record_many(session, entries)


def _revision_row(
    document_id: str, seq: int, kind: RevisionKind, obj: StoredObject
) -> dict[str, Any]:
    """A row of the revisions table, for a Core insert (keyed by column)."""
    return {
        "document_id": document_id,
        "seq": seq,
        "kind": kind.value,
        "object_key": obj.key,
        "version_id": obj.version_id,
        "sha256": obj.sha256,
        "size": obj.size,
        "byte_offset": obj.offset,
    }


def _insert_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> Insert:
    """An INSERT of ``rows`` (keyed by column, the same keys in each) into ``table`` with one
    statement of a few parameters, an array per column (``INSERT ... SELECT FROM unnest``).

    An executemany sends a statement per row (one per chunk of rows with RETURNING: SQLAlchemy's
    "insertmanyvalues", whose text psycopg parses again for every chunk, too long to be cached)
    and adapts every value on its own. Measured: 4.0 ms of the API's CPU for a chunk's 80
    revisions with RETURNING, this one 2.1 ms (see ``register_made`` for its inserts without).
    """
    columns = list(rows[0])
    given = (
        func.unnest(
            *(
                bindparam(name, [row[name] for row in rows], type_=ARRAY(table.c[name].type))
                for name in columns
            )
        )
        .table_valued(*columns)
        .render_derived()
    )
    return insert(table).from_select(columns, select(*(given.c[name] for name in columns)))


async def _insert_revisions(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, int], int]:
    """Insert rows of the revisions table (:func:`_revision_row`'s) with :func:`_insert_rows`;
    returns their ids by document id and number."""
    revisions = table_of(Revision)
    inserted = await session.execute(
        _insert_rows(revisions, rows).returning(
            revisions.c.document_id, revisions.c.seq, revisions.c.id
        )
    )
    return {(document_id, seq): id_ for document_id, seq, id_ in inserted}


async def register_emeterai(
    session: AsyncSession,
    document_id: str,
    seq: int,
    obj: StoredObject,
    affixed: AffixedEMeterai,
) -> None:
    """Add the revision with the e-Meterai (number ``seq``) and record what was affixed (the
    caller holds a ``Database.writing`` session and commits).

    Raises Conflict when another change got there first (the revision number is taken).
    """
    try:
        await session.execute(
            insert(table_of(Revision)),
            [_revision_row(document_id, seq, RevisionKind.EMETERAI, obj)],
        )
    except IntegrityError as exc:
        raise Conflict("Dokumen sedang diubah; coba lagi") from exc
    await session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(
            emeterai_serial=affixed.serial,
            emeterai_affixed_at=affixed.affixed_at,
            emeterai_provider=affixed.provider,
            emeterai_local=affixed.local,
        )
    )


async def register_signed(
    session: AsyncSession, signed: Sequence[Signed], slots: Mapping[str, int], signer_id: str
) -> None:
    """Add each signature's revisions, fill its slot (``slots``: document id -> slot id), and
    make its document SAH after the last signer; a whole chunk of a bulk signing in a few
    statements (the caller holds a ``Database.writing`` session and commits).

    Raises Conflict when another signature got there first (the revision numbers are taken).
    """
    if not signed:
        return
    rows = [
        _revision_row(new.item.document_id, new.item.next_seq + i, kind, obj)
        for new in signed
        for i, (kind, obj) in enumerate(new.stored)
    ]
    try:
        ids = await _insert_revisions(session, rows)
    except IntegrityError as exc:
        raise Conflict("Dokumen sedang ditandatangani; coba lagi") from exc
    now = utcnow()
    await session.execute(
        update(SignatureSlot),
        [
            {
                "id": slots[new.item.document_id],
                "signer_id": signer_id,
                "signed_at": now,
                # Each signature's revisions in order: its slot points to the first (the
                # signed PDF).
                "revision_id": ids[new.item.document_id, new.item.next_seq],
            }
            for new in signed
        ],
    )
    completed = {
        new.item.document_id for new in signed if new.stored[-1][0] == RevisionKind.LONG_TERM
    }
    if completed:
        await session.execute(
            update(Document), [{"id": i, "status": DocumentStatus.SAH} for i in completed]
        )
    await audit.record_many(
        session,
        [
            (
                "document.signed",
                "document",
                new.item.document_id,
                {
                    "role": new.item.role,
                    "signer": signer_id,
                    "sha256": new.stored[-1][1].sha256,
                    "level": "B-LTA" if new.item.document_id in completed else "B-T",
                },
            )
            for new in signed
        ],
    )
