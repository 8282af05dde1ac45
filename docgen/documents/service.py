"""The document pipeline: render, convert, prepare, store; then sign, one role at a time."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import anyio
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, raiseload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from docgen.errors import (
    CertificateRevoked,
    Conflict,
    DataInvalid,
    FieldProblem,
    NotFound,
    SignerMismatch,
)
from docgen.pipeline.render import render_docx
from docgen.pipeline.revisions import (
    LONG_TERM,
    PREPARED,
    SIGNED,
    SOURCE,
    SignatureRequest,
    apply_signature,
    field_name,
    stamp_converted,
)
from docgen.registry import audit
from docgen.registry.models import Document, Revision, SignatureSlot, Signer, table_of, utcnow
from docgen.registry.numbering import allocate_number
from docgen.runtime import Runtime
from docgen.signers.crl import current_crl
from docgen.signers.service import get_signer, unlock_identity
from docgen.templating.manifest import Template, TemplateManifest
from docgen.templating.validation import validate_data
from signing.pades.sign import SignatureAppearance
from storage import PACK_TYPE, Pack, StoredObject, pack

K = TypeVar("K")

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"

MENUNGGU = "menunggu_tanda_tangan"
SAH = "sah"
DICABUT = "dicabut"


def new_verify_code() -> str:
    """144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


def _object_key(document_id: str, seq: int, kind: str, ext: str) -> str:
    """A key no earlier attempt can have used: a write cut short by a crash leaves its object
    behind (object lock keeps it), and the next attempt must not collide with it. 64 random
    bits under the document's own prefix, so revisions are stored with ``unique_key``."""
    return f"documents/{document_id}/{seq:02d}-{kind}-{secrets.token_hex(8)}.{ext}"


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in data.items()}


def pending_roles(document: Document) -> list[str]:
    return [slot.role for slot in document.slots if slot.signed_at is None]


async def load_assignment(
    rt: Runtime, manifest: TemplateManifest, assignment: Mapping[str, str]
) -> tuple[dict[str, Signer], list[FieldProblem]]:
    """The signers the operator chose per role (``{"role": signer_id}``), and the problems of
    the choice: unknown roles, unknown signers, revoked certificates."""
    problems: list[FieldProblem] = []
    chosen: dict[str, Signer] = {}
    async with rt.db.session() as session:
        for role_name, signer_id in assignment.items():
            where = f"signers.{role_name}"
            signer = await session.get(Signer, signer_id) if isinstance(signer_id, str) else None
            if manifest.role(role_name) is None:
                problems.append(FieldProblem(where, "peran tidak ada pada templat ini"))
            elif signer is None:
                problems.append(FieldProblem(where, "penanda tangan tidak ditemukan"))
            elif signer.revoked_at is not None:
                problems.append(FieldProblem(where, "sertifikat penanda tangan telah dicabut"))
            else:
                chosen[role_name] = signer
    return chosen, problems


def assignment_problems(
    manifest: TemplateManifest, clean: Mapping[str, Any], chosen: Mapping[str, Signer]
) -> list[FieldProblem]:
    """Chosen signers whose NIP differs from the one the document's data names for the role."""
    problems = []
    for role_name, signer in chosen.items():
        role = manifest.role(role_name)
        nip_field = role.signer_nip_field if role else None
        if nip_field and clean.get(nip_field) and signer.nip != clean[nip_field]:
            message = f"NIP penanda tangan berbeda dengan isian {nip_field}"
            problems.append(FieldProblem(f"signers.{role_name}", message))
    return problems


@dataclass(frozen=True)
class DocumentDraft:
    """A document decided but not yet made: template, clean data, number, who signs."""

    template: Template
    data: Mapping[str, Any]
    number: str
    assigned: Mapping[str, str] = field(default_factory=dict)  # role -> signer id
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    verify_code: str = field(default_factory=new_verify_code)


def numbering_unit(manifest: TemplateManifest, clean: Mapping[str, Any]) -> str | None:
    """The unit of the document's number sequence (None: the template's own unit)."""
    unit_field = manifest.numbering.unit_field
    return str(clean[unit_field]) if unit_field and clean.get(unit_field) else None


def document_date(manifest: TemplateManifest, clean: Mapping[str, Any]) -> date:
    on = clean[manifest.date_field]
    assert isinstance(on, date)
    return on


@dataclass(frozen=True)
class NewRevision:
    """A revision made and not stored yet."""

    document_id: str
    seq: int
    kind: str
    name: str  # in its object key or pack member name: source, prepared, signed-<role>, lta
    data: bytes

    @property
    def extension(self) -> str:
        return "docx" if self.kind == SOURCE else "pdf"

    @property
    def filename(self) -> str:
        return f"{self.seq:02d}-{self.name}.{self.extension}"

    @property
    def content_type(self) -> str:
        return DOCX_TYPE if self.kind == SOURCE else PDF_TYPE


def source_revisions(draft: DocumentDraft, docx: bytes, prepared: bytes) -> list[NewRevision]:
    """Revisions 1 and 2 of a new document: the DOCX source and the prepared PDF."""
    return [
        NewRevision(draft.id, 1, SOURCE, SOURCE, docx),
        NewRevision(draft.id, 2, PREPARED, PREPARED, prepared),
    ]


def signed_revisions(
    document: Document, role: str, outputs: Sequence[tuple[str, bytes]]
) -> list[NewRevision]:
    """The revisions one signature made (``apply_signature``'s outputs), numbered on."""
    seq = document.revisions[-1].seq + 1
    names = {SIGNED: f"signed-{role}", LONG_TERM: LONG_TERM}
    return [
        NewRevision(document.id, seq + i, kind, names[kind], pdf)
        for i, (kind, pdf) in enumerate(outputs)
    ]


def pack_key(batch_id: str, what: str) -> str:
    """A key for one pack of a batch's revisions; 64 random bits make it unique (see
    ``_object_key``)."""
    return f"batches/{batch_id}/{what}-{secrets.token_hex(8)}.zip"


async def store_revisions(
    rt: Runtime, revisions: Sequence[NewRevision], *, pack_key: str | None = None
) -> list[tuple[str, StoredObject]]:
    """Store ``revisions`` and return, in order, each one's kind and where it lies.

    A revision the next one of its document extends (the signed PDF its B-LTA revision appends
    to) is not stored on its own: it is the first ``size`` bytes of that one. The others are
    an object each, or with ``pack_key`` (a bulk chunk's revisions) members of one pack object
    (``storage.pack``): one PUT instead of hundreds. Either way the store holds every revision,
    immutable, and the registry its SHA-256, offset and size.

    Raises StorageUnavailable.
    """
    if not revisions:
        return []
    owner = list(range(len(revisions)))
    for i in reversed(range(len(revisions) - 1)):
        this, following = revisions[i], revisions[i + 1]
        if this.document_id == following.document_id and following.data.startswith(this.data):
            owner[i] = owner[i + 1]
    own = [i for i in range(len(revisions)) if owner[i] == i]
    if pack_key is None:
        placed = {}
        for i in own:
            r = revisions[i]
            key = _object_key(r.document_id, r.seq, r.name, r.extension)
            placed[i] = await rt.store.put(key, r.data, r.content_type, unique_key=True)
    else:
        members = await _put_pack(rt, pack_key, [revisions[i] for i in own])
        placed = dict(zip(own, members, strict=True))
    return [
        (
            r.kind,
            placed[i] if owner[i] == i else placed[owner[i]].part(placed[owner[i]].offset, r.data),
        )
        for i, r in enumerate(revisions)
    ]


async def store_packed(
    rt: Runtime, made: Mapping[K, Sequence[NewRevision]], pack_key: str
) -> dict[K, list[tuple[str, StoredObject]]]:
    """A bulk chunk's new revisions, grouped (by row or document), stored as one pack: each
    group's kinds and places, in order. Raises StorageUnavailable."""
    where = iter(
        await store_revisions(rt, [r for group in made.values() for r in group], pack_key=pack_key)
    )
    return {key: [next(where) for _ in group] for key, group in made.items()}


async def _put_pack(rt: Runtime, key: str, members: Sequence[NewRevision]) -> list[StoredObject]:
    def build() -> tuple[Pack, list[str]]:
        packed = pack([(f"{r.document_id}/{r.filename}", r.data) for r in members])
        return packed, [hashlib.sha256(r.data).hexdigest() for r in members]

    packed, digests = await anyio.to_thread.run_sync(build)
    obj = await rt.store.put(key, packed.data, PACK_TYPE, unique_key=True)
    return [
        StoredObject(obj.key, obj.version_id, digest, size, offset)
        for (offset, size), digest in zip(packed.parts, digests, strict=True)
    ]


@dataclass(frozen=True)
class NewDocument:
    """A document made and stored, to be registered."""

    draft: DocumentDraft
    pages: Mapping[str, int]  # role -> page of its signature field
    stored: Sequence[tuple[str, StoredObject]]  # (kind, object): source, then prepared


async def register_created(session: AsyncSession, created: Sequence[NewDocument]) -> None:
    """Register the documents, their revisions, signature slots and audit entries: a whole
    chunk of a batch in one INSERT per table (the caller holds the write lock and commits)."""
    if not created:
        return
    documents, revisions, slots, entries = [], [], [], []
    for new in created:
        draft, manifest, clean = new.draft, new.draft.template.manifest, new.draft.data
        documents.append(
            {
                "id": draft.id,
                "template_id": manifest.id,
                "template_version": manifest.version,
                "template_sha256": draft.template.sha256,
                "document_type": manifest.document_type,
                "title": manifest.document_title(clean),
                "number": draft.number,
                "document_date": document_date(manifest, clean).isoformat(),
                "data": _jsonable(clean),
                "verify_code": draft.verify_code,
                "status": MENUNGGU,
            }
        )
        revisions += [
            _revision_row(draft.id, seq, kind, obj)
            for seq, (kind, obj) in enumerate(new.stored, start=1)
        ]
        slots += [
            {
                "document_id": draft.id,
                "role": r.name,
                "label": r.label,
                "order": r.order,
                "field_name": field_name(r.name),
                "page": new.pages[r.name],
                "expected_nip": clean.get(r.signer_nip_field) if r.signer_nip_field else None,
                "assigned_signer_id": draft.assigned.get(r.name),
            }
            for r in manifest.roles_in_order
        ]
        details = {
            "template": manifest.id,
            "version": manifest.version,
            "number": draft.number,
            "sha256": new.stored[-1][1].sha256,
        }
        entries.append(("document.created", "document", draft.id, details))
    # Core inserts on the tables, one executemany each: the ORM's bulk insert would split the
    # slots into one statement per row, as rows with and without a NIP alternate. The documents
    # first: revisions and slots point to them.
    await session.execute(insert(table_of(Document)), documents)
    await session.execute(insert(table_of(Revision)), revisions)
    await session.execute(insert(table_of(SignatureSlot)), slots)
    await audit.record_many(session, entries)


def _revision_row(document_id: str, seq: int, kind: str, obj: StoredObject) -> dict[str, Any]:
    """A row of the revisions table, for a Core insert (keyed by column)."""
    return {
        "document_id": document_id,
        "seq": seq,
        "kind": kind,
        "object_key": obj.key,
        "version_id": obj.version_id,
        "sha256": obj.sha256,
        "size": obj.size,
        "byte_offset": obj.offset,
    }


async def create_document(
    rt: Runtime,
    template_id: str,
    data: Mapping[str, Any],
    signers: Mapping[str, str] | None = None,
) -> Document:
    """Validate, number, render, convert, stamp and store a new document.

    ``signers`` optionally names, per role, the enrolled signer who must sign it.

    Raises TemplateNotFound, DataInvalid (422), TemplateInvalid, ConversionFailed.
    """
    template = rt.template(template_id)
    manifest = template.manifest
    clean = validate_data(manifest, data)
    chosen, problems = await load_assignment(rt, manifest, signers or {})
    problems += assignment_problems(manifest, clean, chosen)
    if problems:
        raise DataInvalid(problems)
    assigned = {role: signer.id for role, signer in chosen.items()}

    # The number is taken in its own transaction: a failed render leaves a gap, never a repeat.
    async with rt.write_lock, rt.db.session() as session:
        unit = numbering_unit(manifest, clean)
        on = document_date(manifest, clean)
        number = await allocate_number(session, manifest.numbering, on, unit)
        await session.commit()

    draft = DocumentDraft(template, clean, number, assigned)
    docx = await anyio.to_thread.run_sync(lambda: render_docx(template, clean, nomor=number))
    pdf = await rt.converter.to_pdf(docx)
    roles = [r.name for r in manifest.roles_in_order]
    prepared, pages = await anyio.to_thread.run_sync(
        stamp_converted, pdf, manifest.id, roles, rt.verify_url(draft.verify_code)
    )
    stored = await store_revisions(rt, source_revisions(draft, docx, prepared))
    async with rt.write_lock, rt.db.session() as session:
        await register_created(session, [NewDocument(draft, pages, stored)])
        await session.commit()
    return await get_document(rt, draft.id)


async def get_document(rt: Runtime, document_id: str) -> Document:
    """Raises NotFound."""
    return await rt.fetch(Document, document_id, "Dokumen tidak ditemukan")


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


async def documents_by_id(rt: Runtime, document_ids: Sequence[str]) -> list[Document]:
    """The documents with these ids, in that order (unknown ids are left out); their slots
    without their signers."""
    async with rt.db.session() as session:
        found = await session.scalars(
            select(Document).where(Document.id.in_(document_ids)).options(*WITHOUT_SLOT_SIGNERS)
        )
        by_id = {document.id: document for document in found}
    return [by_id[i] for i in document_ids if i in by_id]


async def find_by_code(rt: Runtime, code: str) -> Document:
    """Raises NotFound, the same for every unknown code."""
    async with rt.db.session() as session:
        document = await session.scalar(select(Document).where(Document.verify_code == code))
    if document is None:
        raise NotFound("Kode verifikasi tidak dikenal")
    return document


def latest_pdf(document: Document) -> Revision:
    """The newest PDF revision (every revision after the DOCX source is a PDF)."""
    return document.revisions[-1]


def revision_at(document: Document, seq: int) -> Revision:
    """Raises NotFound."""
    found = next((r for r in document.revisions if r.seq == seq), None)
    if found is None:
        raise NotFound(f"Dokumen ini tidak memiliki revisi {seq}")
    return found


def source_revision(document: Document) -> Revision:
    """The rendered DOCX the PDF revisions were converted from."""
    return document.revisions[0]


async def read_revision(rt: Runtime, revision: Revision) -> bytes:
    """Raises ObjectNotFound, ObjectCorrupted (not the bytes the registry hashed),
    StorageUnavailable."""
    return await rt.store.read(
        StoredObject(
            revision.object_key,
            revision.version_id,
            revision.sha256,
            revision.size,
            revision.offset,
        )
    )


def signature_request(
    rt: Runtime, document: Document, slot: SignatureSlot, signer: Signer
) -> SignatureRequest:
    return SignatureRequest(
        field_name=slot.field_name,
        appearance=SignatureAppearance(
            name=signer.name,
            jabatan=signer.jabatan,
            verify_url=rt.verify_url(document.verify_code),
        ),
        reason=f"{slot.label} {document.title}",
        certify=not any(s.signed_at for s in document.slots),
        archive=all(s.signed_at for s in document.slots if s.id != slot.id),
    )


@dataclass(frozen=True)
class NewSignature:
    """A signature made and stored, to be registered."""

    document: Document
    slot: SignatureSlot
    signer: Signer
    stored: Sequence[tuple[str, StoredObject]]  # (kind, object): signed, then lta if last


async def register_signed(session: AsyncSession, signatures: Sequence[NewSignature]) -> None:
    """Add each signature's revisions, fill its slot, and make its document SAH after the last
    signer; a whole chunk of a bulk signing in a few statements (the caller holds the write lock
    and commits).

    Raises Conflict when another signature got there first (the revision numbers are taken).
    """
    if not signatures:
        return
    rows = [
        _revision_row(new.document.id, new.document.revisions[-1].seq + 1 + i, kind, obj)
        for new in signatures
        for i, (kind, obj) in enumerate(new.stored)
    ]
    revisions = table_of(Revision)
    try:
        inserted = await session.scalars(
            insert(revisions).returning(revisions.c.id, sort_by_parameter_order=True), rows
        )
    except IntegrityError as exc:
        raise Conflict("Dokumen sedang ditandatangani; coba lagi") from exc
    ids = inserted.all()
    # Each signature's revisions in order: its slot points to the first (the signed PDF).
    first, at = {}, 0
    for new in signatures:
        first[new.document.id] = ids[at]
        at += len(new.stored)
    now = utcnow()
    await session.execute(
        update(SignatureSlot),
        [
            {
                "id": new.slot.id,
                "signer_id": new.signer.id,
                "signed_at": now,
                "revision_id": first[new.document.id],
            }
            for new in signatures
        ],
    )
    completed = [new.document.id for new in signatures if new.stored[-1][0] == LONG_TERM]
    if completed:
        await session.execute(update(Document), [{"id": i, "status": SAH} for i in completed])
    await audit.record_many(
        session,
        [
            (
                "document.signed",
                "document",
                new.document.id,
                {
                    "role": new.slot.role,
                    "signer": new.signer.id,
                    "sha256": new.stored[-1][1].sha256,
                    "level": "B-LTA" if new.document.id in completed else "B-T",
                },
            )
            for new in signatures
        ],
    )


async def sign_document(
    rt: Runtime, document_id: str, role: str, signer_id: str, pin: str
) -> Document:
    """Sign the role's field of the newest revision and store the result as a new revision.

    Raises NotFound, Conflict (409: revoked, already signed, out of order), SignerMismatch (403:
    not the signer the document names), CertificateRevoked (403), WrongPin (403),
    SignerLocked (423).
    """
    async with rt.document_lock(document_id):
        document = await get_document(rt, document_id)
        slot = slot_to_sign(document, role)
        signer, identity = await unlock_identity(rt, signer_id, pin)
        check_signer(slot, signer)
        request = signature_request(rt, document, slot, signer)
        pdf = await read_revision(rt, latest_pdf(document))
        crls = [await current_crl(rt)] if request.archive else []
        outputs = await apply_signature(
            pdf, request, identity, rt.ca.timestamper(), [rt.ca.root_certificate], crls
        )
        stored = await store_revisions(rt, signed_revisions(document, role, outputs))
        async with rt.write_lock, rt.db.session() as session:
            await register_signed(session, [NewSignature(document, slot, signer, stored)])
            await session.commit()
    return await get_document(rt, document_id)


def check_signer(slot: SignatureSlot, signer: Signer) -> None:
    if signer.revoked_at is not None:
        raise CertificateRevoked(
            "Sertifikat penanda tangan telah dicabut; tanda tangan baru tidak dapat dibuat"
        )
    if slot.assigned_signer_id is not None and slot.assigned_signer_id != signer.id:
        raise SignerMismatch(
            f"Penanda tangan tidak sesuai: peran {slot.label!r} ditetapkan "
            "untuk penanda tangan lain"
        )
    if slot.expected_nip is not None and signer.nip != slot.expected_nip:
        raise SignerMismatch(
            f"Penanda tangan tidak sesuai: peran {slot.label!r} harus ditandatangani "
            "oleh pemilik NIP yang tercantum dalam dokumen"
        )


def waiting_for(document: Document, slot: SignatureSlot) -> list[SignatureSlot]:
    """Unsigned slots of a lower order: they must be signed before ``slot``."""
    return [s for s in document.slots if s.order < slot.order and s.signed_at is None]


def slot_to_sign(document: Document, role: str) -> SignatureSlot:
    if document.status == DICABUT:
        raise Conflict("Dokumen telah dicabut dan tidak dapat ditandatangani")
    slot = next((s for s in document.slots if s.role == role), None)
    if slot is None:
        roles = ", ".join(s.role for s in document.slots)
        raise NotFound(f"Peran {role!r} tidak ada pada dokumen ini (peran: {roles})")
    if slot.signed_at is not None:
        raise Conflict(f"Peran {role!r} sudah ditandatangani")
    before = waiting_for(document, slot)
    if before:
        names = ", ".join(f"{s.label} ({s.role})" for s in before)
        raise Conflict(f"Belum gilirannya: {names} harus menandatangani lebih dahulu")
    return slot


async def pending_for_signer(rt: Runtime, signer_id: str) -> list[tuple[Document, SignatureSlot]]:
    """Unsigned slots of unrevoked documents that name this signer (by id or by NIP).

    Raises NotFound for an unknown signer.
    """
    signer = await get_signer(rt, signer_id)
    named = SignatureSlot.assigned_signer_id == signer.id
    if signer.nip:
        named = named | (
            SignatureSlot.assigned_signer_id.is_(None) & (SignatureSlot.expected_nip == signer.nip)
        )
    async with rt.db.session() as session:
        rows = await session.execute(
            select(Document, SignatureSlot)
            .join(SignatureSlot, Document.id == SignatureSlot.document_id)
            .where(SignatureSlot.signed_at.is_(None), Document.status == MENUNGGU, named)
            .order_by(Document.created_at, SignatureSlot.order)
        )
        return [(document, slot) for document, slot in rows.all()]
