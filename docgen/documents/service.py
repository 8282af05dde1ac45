"""Documents: the rules of making, signing and revoking them, for one document or many.

Making a document: validate its data, bind its signer roles, take its number, then the
pipeline makes it (render, convert, stamp, store) and the registry records it. Signing: each
role in the template's order, by the signer the document names, with that signer's PIN; the
first signature certifies the document, the last one is followed by the B-LTA revision. A bulk
signing (``docgen.batches.signing``) signs a chunk of documents under the same rules
(:meth:`DocumentService.sign_many`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.documents import repository
from docgen.documents.binding import bind_roles, chosen_problems
from docgen.documents.schemas import DocumentQuery
from docgen.emeterai.rules import waits_for_emeterai
from docgen.emeterai.service import EMeteraiStep
from docgen.errors import (
    CertificateRevoked,
    Conflict,
    DataInvalid,
    DocgenError,
    FieldProblem,
    Forbidden,
    NotFound,
    SignerMismatch,
)
from docgen.kit.links import Links
from docgen.notifications import Notifier
from docgen.paraf import repository as paraf_steps
from docgen.paraf.steps import named_problems, step_labels
from docgen.people.policies import Caller
from docgen.people.profiles import issuing_unit, unit_kop, with_unit_place, zones_of
from docgen.pipeline.orchestration import Draft, Pipeline, ToSign
from docgen.pipeline.prepare import field_name
from docgen.pipeline.sign import SignatureRequest, SigningKey, Trust
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.locks import DocumentLocks
from docgen.registry.models import (
    Document,
    Revision,
    SignatureSlot,
    Signer,
    UnitProfile,
    utcnow,
)
from docgen.registry.numbering import allocate_number
from docgen.registry.statuses import DocumentStatus, Role, SignerStatus
from docgen.signers.keys import SignerKeys
from docgen.signers.revocation import RevocationList
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import Template, TemplateManifest
from docgen.templating.validation import validate_data
from signing.pades import SignatureAppearance
from signing.waktu import Zona

__all__ = [
    "DocumentService",
    "SignedMany",
    "check_signer",
    "document_unit",
    "list_readable",
    "new_verify_code",
    "numbering_unit",
    "pending_roles",
    "readable",
    "readable_scope",
    "search_terms",
    "slot_to_sign",
    "waiting_for",
]


logger = logging.getLogger(__name__)


def new_verify_code() -> str:
    """144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


def pending_roles(document: Document) -> list[str]:
    return [slot.role for slot in document.slots if slot.signed_at is None]


def numbering_unit(manifest: TemplateManifest, clean: Mapping[str, Any]) -> str | None:
    """The unit of the document's number sequence (None: the template's own unit)."""
    unit_field = manifest.numbering.unit_field
    return str(clean[unit_field]) if unit_field and clean.get(unit_field) else None


def document_date(manifest: TemplateManifest, clean: Mapping[str, Any]) -> date:
    return repository.document_date(clean, manifest.date_field)


def check_signer(slot: SignatureSlot, signer: Signer) -> None:
    """Raises CertificateRevoked, SignerMismatch (403): ``signer`` may not sign ``slot``."""
    if signer.status == SignerStatus.DICABUT or signer.revoked_at is not None:
        raise CertificateRevoked(
            "Sertifikat penanda tangan telah dicabut; tanda tangan baru tidak dapat dibuat"
        )
    if slot.assigned_signer_id != signer.id:
        raise SignerMismatch(
            f"Penanda tangan tidak sesuai: peran {slot.label!r} ditetapkan "
            "untuk penanda tangan lain"
        )


def readable(caller: Caller, document: Document) -> bool:
    """Admins read every document; operators and auditors their units'; a signer the
    documents with a role bound to them; a verifikator those that name them."""
    if caller.role == Role.VERIFIKATOR:
        return any(step.user_id == caller.id for step in document.paraf_steps)
    if caller.role == Role.SIGNER:
        signer_id = caller.user.signer_id if caller.user else None
        return signer_id is not None and any(
            slot.assigned_signer_id == signer_id for slot in document.slots
        )
    return caller.in_unit(document.unit_id)


def readable_scope(caller: Caller) -> repository.Scope:
    """The rule of :func:`readable` as the scope of a listing, which applies it in SQL."""
    if caller.role == Role.SIGNER:
        return repository.Scope(signer_id=caller.user.signer_id if caller.user else None)
    if caller.role == Role.VERIFIKATOR:
        return repository.Scope(verifikator_id=caller.id)
    if caller.is_admin:
        return repository.Scope(everything=True)
    return repository.Scope(unit_ids=caller.unit_ids)


def search_terms(q: str | None) -> list[str]:
    """The words of a search, lower-cased as the search text is; a NIP typed in groups
    (``19680512 199003 1 801``) is one word."""
    words = (q or "").lower().split()
    if len(words) > 1 and all(word.isascii() and word.isdigit() for word in words):
        return ["".join(words)]
    return words


async def list_readable(
    session: AsyncSession, caller: Caller, query: DocumentQuery
) -> tuple[list[repository.Listed], int]:
    """One page of the documents the caller may read that match ``query``, newest first, and
    how many match in all. Raises DataInvalid (422: ``date_to`` before ``date_from``)."""
    if query.date_from and query.date_to and query.date_to < query.date_from:
        raise DataInvalid([FieldProblem("date_to", "tidak boleh sebelum tanggal awal")])
    filters = repository.Filters(
        terms=search_terms(query.q),
        status=query.status,
        template_id=query.template,
        unit_id=query.unit_id,
        date_from=query.date_from,
        date_to=query.date_to,
    )
    return await repository.listing(session, readable_scope(caller), filters, query)


def document_unit(caller: Caller, unit_id: str | None) -> str:
    """The unit a new document (or batch) of the caller belongs to: the one asked for, or the
    caller's only unit. Raises Forbidden (not the caller's unit), DataInvalid (none given and
    the caller has several, or none)."""
    if unit_id is None:
        if len(caller.unit_ids) != 1:
            raise DataInvalid([FieldProblem("unit_id", "pilih unit dokumen ini")])
        (unit_id,) = caller.unit_ids
    if not caller.in_unit(unit_id):
        raise Forbidden("Anda hanya dapat membuat dokumen untuk unit Anda")
    return unit_id


def waiting_for(document: Document, slot: SignatureSlot) -> list[SignatureSlot]:
    """Unsigned slots of a lower order: they must be signed before ``slot``."""
    return [s for s in document.slots if s.order < slot.order and s.signed_at is None]


def slot_to_sign(document: Document, role: str) -> SignatureSlot:
    """The slot of ``role`` if it is its turn. Raises NotFound, Conflict (409)."""
    if document.status == DocumentStatus.DRAF:
        raise Conflict("Dokumen masih draf; terbitkan dahulu sebelum ditandatangani")
    if document.status == DocumentStatus.DICABUT:
        raise Conflict("Dokumen telah dicabut dan tidak dapat ditandatangani")
    if document.status == DocumentStatus.DITOLAK:
        raise Conflict("Dokumen ditolak oleh penanda tangan dan tidak dapat ditandatangani")
    if document.status == DocumentStatus.MENUNGGU_PARAF:
        raise Conflict(
            "Dokumen masih menunggu paraf verifikator; tanda tangan baru dapat dibuat "
            "setelah semua verifikator memarafnya"
        )
    if document.status == DocumentStatus.DIKEMBALIKAN:
        raise Conflict(
            "Dokumen dikembalikan verifikator kepada operator dan tidak dapat ditandatangani"
        )
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
    if waits_for_emeterai(document, slot):
        raise Conflict(
            "Belum gilirannya: e-Meterai harus dibubuhkan lebih dahulu (operator dapat "
            "membubuhkannya bila pembubuhan otomatis gagal)"
        )
    return slot


@dataclass(frozen=True)
class SignedMany:
    """What :meth:`DocumentService.sign_many` signed (document ids), and why the others were
    not (by document id)."""

    signed: list[str]
    failed: dict[str, DocgenError]


class DocumentService:
    """Makes, signs and revokes documents: the registry, the templates, the pipeline, the
    signers' keys and the revocation list."""

    def __init__(
        self,
        db: Database,
        catalogue: TemplateCatalogue,
        pipeline: Pipeline,
        keys: SignerKeys,
        revocations: RevocationList,
        links: Links,
        notifier: Notifier,
        emeterai: EMeteraiStep,
    ) -> None:
        self.db = db
        self.emeterai = emeterai
        self.catalogue = catalogue
        self.pipeline = pipeline
        self.keys = keys
        self.revocations = revocations
        self.links = links
        self.notifier = notifier
        self.locks = DocumentLocks(db)

    async def create(
        self,
        caller: Caller,
        template_id: str,
        data: Mapping[str, Any],
        signers: Mapping[str, str],
        unit_id: str | None,
        paraf: Sequence[str] = (),
    ) -> str:
        """Validate, bind every role to a signer, number, make and register a new document of
        the caller's unit; returns its id. The unit's place fills the template's place field
        when the data leaves it empty.

        ``signers`` names, per role, the enrolled signer who must sign it; roles not named are
        bound by the NIP / NI PPPK / NIK in the data. ``paraf`` names the verifikator (user
        ids) who initial it in order before the first signature (``docgen.paraf``).

        Raises Forbidden, TemplateNotFound, DataInvalid (422: the data, a role that cannot be
        bound, or the verifikator), TemplateInvalid, ConversionFailed (502).
        """
        unit = document_unit(caller, unit_id)
        template = self.catalogue.latest(template_id)
        clean = await self.checked_data(template.manifest, data, unit)
        return await self.issue(caller, template, clean, signers, unit, paraf=paraf)

    async def checked_data(
        self, manifest: TemplateManifest, data: Mapping[str, Any], unit: str | None
    ) -> dict[str, object]:
        """``data`` checked against ``manifest``, the unit's place filling the place field
        where the data leaves it empty. Raises DataInvalid (422; also for an e-Meterai asked
        for where no provider is configured)."""
        async with self.db.session() as session:
            profile = await session.get(UnitProfile, unit) if unit else None
        clean = validate_data(manifest, with_unit_place(manifest, data, profile))
        self.emeterai.check_offer(manifest, clean)
        return clean

    async def issue(
        self,
        caller: Caller,
        template: Template,
        clean: Mapping[str, Any],
        signers: Mapping[str, str],
        unit: str,
        *,
        paraf: Sequence[str] = (),
        draft_id: str | None = None,
    ) -> str:
        """Bind, number (with the unit's numbering codes for the template, if its profile has
        them), make and register checked data as a document waiting for its signers, or first
        for the paraf of its verifikator (``paraf``: user ids, in order); ``draft_id``: the
        draft it comes from, which it replaces under the same id.

        Raises DataInvalid (a role that cannot be bound, the verifikator), Conflict (409: the
        draft was issued or deleted meanwhile), TemplateInvalid, ConversionFailed (502).
        """
        manifest = template.manifest
        async with self.db.session() as session:
            chosen, problems = await chosen_problems(session, manifest, signers)
            bound, unbound = await bind_roles(session, manifest, clean, chosen)
            issuer = await issuing_unit(session, unit)
            kop = await unit_kop(session, issuer)
            problems += await named_problems(session, caller.id, unit, manifest, paraf)
        problems += [p for p in unbound if p.field not in {q.field for q in problems}]
        if problems:
            raise DataInvalid(problems)
        # The number is taken in its own transaction: a failed render leaves a gap, never a
        # repeat.
        async with self.db.writing() as session:
            on = document_date(manifest, clean)
            number = await allocate_number(
                session, issuer.numbering(manifest), on, numbering_unit(manifest, clean)
            )
            await session.commit()
        code = new_verify_code()
        draft = Draft(
            template,
            clean,
            number,
            code,
            self.links.verify_url(code),
            {role: signer.id for role, signer in bound.items()},
            **({"id": draft_id} if draft_id else {}),
            kop=kop,
        )
        made = (await self.pipeline.make([draft])).one()
        async with self.db.writing() as session:
            if draft_id is not None and not await repository.remove_draft(session, draft_id):
                raise Conflict("Draf ini sudah diterbitkan atau dihapus")
            await repository.register_made(session, [made], unit_id=unit, created_by=caller.id)
            labels = step_labels(manifest, len(paraf))
            await paraf_steps.add_steps(session, draft.id, list(zip(labels, paraf, strict=True)))
            await session.commit()
        if paraf:
            self.notifier.paraf_turn(draft.id)
        else:
            self.notifier.issued(draft.id)
        return draft.id

    async def sign(self, caller: Caller, document_id: str, role: str, pin: str) -> None:
        """The caller signs the role's field of the newest revision with their PIN; the result
        is stored as a new revision. Every check that needs no PIN (whose document, which
        role, whose turn, revoked, locked) comes first, so a refusal tells nothing of the PIN.

        Once the PIN holds, waits while another signature of the document is in progress, on
        any instance.

        Raises NotFound (also a document the caller has no role in), Conflict (409: revoked,
        already signed, out of order, or another signature outlasted the wait), SignerMismatch
        (403: the role is bound to someone else), CertificateRevoked (403), SignerLocked (423),
        WrongPin (403), SignerFailed (502).
        """
        signer_id = caller.user.signer_id if caller.user else None
        async with self.db.session() as session:
            document = await repository.get(session, document_id)
            signer = await session.get(Signer, signer_id) if signer_id else None
        if signer is None or not readable(caller, document):
            raise NotFound("Dokumen tidak ditemukan")
        check_signer(slot_to_sign(document, role), signer)
        signer, identity = await self.keys.unlock(signer.id, pin)
        key = SigningKey.of(identity.private_key, identity.certificate)
        # The lock only once the PIN holds: wrong guesses never queue for it.
        async with self.locks.holding(document_id):
            async with self.db.session() as session:
                document = await repository.get(session, document_id)
            # Read again under the lock: another role may have signed meanwhile (the newest
            # revision), or this one, or the document was revoked or declined; the signer
            # revoked while the PIN was checked is still refused.
            outcome = await self.sign_many([document], role, signer, key)
            if outcome.failed:
                raise next(iter(outcome.failed.values()))
        self.notifier.signed(outcome.signed, role)

    async def sign_many(
        self,
        documents: Sequence[Document],
        role: str,
        signer: Signer,
        key: SigningKey,
        *,
        pack: str | None = None,
        record: Callable[[AsyncSession, SignedMany], Awaitable[None]] | None = None,
    ) -> SignedMany:
        """Sign ``role`` of ``documents`` (their slots loaded; their revisions need not be)
        with ``key``, each under the rules of a single signature, and register what was
        signed; ``record`` adds to the same transaction. The caller holds the documents' locks.
        Then affixes the e-Meterai of those whose turn it now is (see ``docgen.emeterai``)."""
        items: list[ToSign] = []
        failed: dict[str, DocgenError] = {}
        slots: dict[str, int] = {}
        async with self.db.session() as session:
            # Each appearance writes its time in the zone of the document's unit, as it is now.
            zones = await zones_of(session, [document.unit_id for document in documents])
            # Each signature extends the newest revision (the locks keep it the newest).
            latest = await repository.latest_revisions(session, [d.id for d in documents])
        for document in documents:
            try:
                slot = slot_to_sign(document, role)
                check_signer(slot, signer)
            except (Conflict, NotFound, SignerMismatch, CertificateRevoked) as exc:
                failed[document.id] = exc
                continue
            slots[document.id] = slot.id
            zona = zones.get(document.unit_id or "", Zona.WIB)
            items.append(self._to_sign(document, latest[document.id], slot, signer, zona))
        trust = await self._trust(items)
        outcome = await self.pipeline.sign(items, key, trust, pack=pack)
        result = SignedMany(
            [s.item.document_id for s in outcome.done], {**failed, **outcome.failed}
        )
        async with self.db.writing() as session:
            # Revoked while these were signed: none of them counts (revoking writes in a
            # writing session too, so nothing registered here postdates a revocation).
            if await session.scalar(select(Signer.status).where(Signer.id == signer.id)) == (
                SignerStatus.DICABUT
            ):
                raise CertificateRevoked(
                    "Sertifikat penanda tangan dicabut selama penandatanganan; "
                    "tanda tangan ini tidak dicatat"
                )
            await repository.register_signed(session, outcome.done, slots, signer.id)
            if record is not None:
                await record(session, result)
            await session.commit()
        await self._affix_due(
            [d.id for d in documents if d.id in result.signed and d.emeterai_before_role]
        )
        return result

    async def _affix_due(self, document_ids: Sequence[str]) -> None:
        """Affix the e-Meterai of those of the documents (whose locks the caller holds) whose
        turn it now is. A failure is logged, not raised: the signature just made stands, the
        next role waits for the e-Meterai, and the operator affixes it again."""
        for document_id in document_ids:
            try:
                await self.emeterai.affix_if_due(document_id)
            except Exception:  # the provider, storage or registry: the signature is in already
                logger.warning(
                    "e-Meterai of document %s not affixed; the operator can retry",
                    document_id,
                    exc_info=True,
                )

    def _to_sign(
        self, document: Document, latest: Revision, slot: SignatureSlot, signer: Signer, zona: Zona
    ) -> ToSign:
        return ToSign(
            document_id=document.id,
            role=slot.role,
            latest=repository.stored_object(latest),
            next_seq=latest.seq + 1,
            request=SignatureRequest(
                field_name=field_name(slot.role),
                appearance=SignatureAppearance(
                    name=signer.name,
                    jabatan=signer.jabatan,
                    verify_url=self.links.verify_url(document.issued_code),
                    zona=zona,
                ),
                reason=f"{slot.label} {document.title}",
                certify=not any(s.signed_at for s in document.slots),
                archive=all(s.signed_at for s in document.slots if s.id != slot.id),
            ),
        )

    async def _trust(self, items: Sequence[ToSign]) -> Trust:
        if any(item.request.archive for item in items):
            return await self.revocations.trust()
        return Trust((), ())

    async def decline(self, caller: Caller, document_id: str, role: str, reason: str) -> None:
        """The signer bound to ``role`` declines to sign it, for ``reason``: the document is
        DITOLAK (nobody signs it any more; the operator revokes it and makes a new one) and
        its operator is told.

        Raises NotFound, Conflict (409: not waiting for this role), SignerMismatch (403).
        """
        async with self.locks.holding(document_id), self.db.writing() as session:
            document = await repository.get(session, document_id)
            signer_id = caller.user.signer_id if caller.user else None
            signer = await session.get(Signer, signer_id) if signer_id else None
            if signer is None or not readable(caller, document):
                raise NotFound("Dokumen tidak ditemukan")
            slot = next((s for s in document.slots if s.role == role), None)
            if slot is None or slot.signed_at is not None:
                raise Conflict(f"Peran {role!r} tidak menunggu tanda tangan pada dokumen ini")
            check_signer(slot, signer)
            if document.status != DocumentStatus.MENUNGGU:
                raise Conflict("Hanya dokumen yang menunggu tanda tangan yang dapat ditolak")
            document.status = DocumentStatus.DITOLAK
            document.declined_at = utcnow()
            document.declined_role = role
            document.decline_reason = reason
            await audit.record(
                session, "document.declined", "document", document_id, role=role, reason=reason
            )
            await session.commit()
        self.notifier.declined(document_id, role, reason)

    async def revoke(
        self, caller: Caller, document_id: str, reason: str, replaced_by: str | None
    ) -> None:
        """Mark a document of the caller's unit DICABUT with a reason and optionally the
        document that replaces it (one the caller may read).

        Nothing stored is deleted: every revision stays retrievable and verifiable.

        Raises NotFound, Conflict (409: already revoked), DataInvalid (422: the replacement does
        not exist, is the document itself, or is revoked itself).
        """
        async with self.locks.holding(document_id), self.db.writing() as session:
            document = await repository.get(session, document_id)
            if not caller.in_unit(document.unit_id):
                raise NotFound("Dokumen tidak ditemukan")
            if document.status == DocumentStatus.DICABUT:
                raise Conflict("Dokumen sudah dicabut")
            if document.status == DocumentStatus.DRAF:
                raise Conflict("Draf tidak dicabut, melainkan dihapus")
            if replaced_by is not None:
                replacement = await session.get(Document, replaced_by)
                problem = None
                if (
                    replacement is None
                    or replaced_by == document_id
                    or not readable(caller, replacement)
                ):
                    problem = "dokumen pengganti tidak ditemukan"
                elif replacement.status == DocumentStatus.DICABUT:
                    problem = "dokumen pengganti sudah dicabut"
                elif replacement.status == DocumentStatus.DRAF:
                    problem = "dokumen pengganti masih draf; terbitkan dahulu"
                if problem:
                    raise DataInvalid([FieldProblem("replaced_by", problem)])
            document.status = DocumentStatus.DICABUT
            document.revoked_at = utcnow()
            document.revoke_reason = reason
            document.replaced_by_id = replaced_by
            await audit.record(
                session,
                "document.revoked",
                "document",
                document_id,
                reason=reason,
                replaced_by=replaced_by,
            )
            await session.commit()

    async def read(self, revision: Revision) -> bytes:
        """A revision's bytes, checked against its SHA-256.

        Raises ObjectNotFound, ObjectCorrupted, StorageUnavailable (translated at the edge).
        """
        return await self.pipeline.store.read(repository.stored_object(revision))
