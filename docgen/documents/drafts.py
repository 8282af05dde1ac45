"""Drafts: a document before it is issued. Editable and deletable, previewed as page images
marked DRAF, with no number taken and nothing public; issuing takes the number, binds every
role to its signer and opens the document for signing (``DocumentService.issue``)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.documents import repository
from docgen.documents.binding import chosen_problems
from docgen.documents.service import DocumentService, document_unit, readable
from docgen.errors import Conflict, DataInvalid, NotFound
from docgen.paraf.steps import named_problems
from docgen.people.policies import Caller
from docgen.people.profiles import kop_of_unit
from docgen.pipeline.preview import page_count
from docgen.registry import audit
from docgen.registry.models import Document, utcnow
from docgen.registry.statuses import DocumentStatus
from docgen.templating.manifest import Template
from docgen.templating.validation import restored, stored_form

__all__ = ["Drafts"]


class Drafts:
    """Drafts of documents, and the page images of any document (drafts marked DRAF)."""

    def __init__(self, documents: DocumentService, cache: Path) -> None:
        self.documents = documents
        self.db = documents.db
        self.catalogue = documents.catalogue
        self.pipeline = documents.pipeline
        # Converted drafts, by content: a draft is converted once per version of its data.
        self.cache = cache

    async def save(
        self,
        caller: Caller,
        template_id: str,
        data: Mapping[str, Any],
        signers: Mapping[str, str],
        unit_id: str | None,
        paraf: Sequence[str] = (),
    ) -> str:
        """A new draft of the caller's unit (``paraf``: its verifikator, who initial it once
        it is issued); returns its id. Raises Forbidden, TemplateNotFound, DataInvalid (the
        data, unknown roles or signers, the verifikator)."""
        unit = document_unit(caller, unit_id)
        template = self.catalogue.latest(template_id)
        fields = await self._checked(caller, template, data, signers, unit, paraf)
        document = Document(
            id=uuid.uuid4().hex,
            status=DocumentStatus.DRAF,
            unit_id=unit,
            created_by=caller.id,
            **fields,
        )
        async with self.db.writing() as session:
            session.add(document)
            await audit.record(
                session, "document.drafted", "document", document.id, template=template.id
            )
            await session.commit()
        return document.id

    async def update(
        self,
        caller: Caller,
        document_id: str,
        data: Mapping[str, Any],
        signers: Mapping[str, str],
        paraf: Sequence[str] = (),
    ) -> None:
        """New data (and chosen signers and verifikator) for a draft, checked against the
        template's latest version. Raises NotFound, Conflict (409: not a draft), DataInvalid."""
        async with self.db.session() as session:
            draft = await self._draft(session, caller, document_id)
        template = self.catalogue.latest(draft.template_id)
        fields = await self._checked(caller, template, data, signers, draft.unit_id, paraf)
        async with self.db.writing() as session:
            current = await self._draft(session, caller, document_id)
            for name, value in fields.items():
                setattr(current, name, value)
            current.updated_at = utcnow()
            await audit.record(session, "document.draft_changed", "document", document_id)
            await session.commit()

    async def delete(self, caller: Caller, document_id: str) -> None:
        """Raises NotFound, Conflict (409: not a draft: an issued document is revoked instead)."""
        async with self.db.writing() as session:
            await self._draft(session, caller, document_id)
            await repository.remove_draft(session, document_id)
            await audit.record(session, "document.draft_deleted", "document", document_id)
            await session.commit()

    async def issue(self, caller: Caller, document_id: str) -> None:
        """Issue a draft: its data checked again, every role bound, the number taken, the
        document made and opened for signing, under the same id.

        Raises NotFound, Conflict, DataInvalid, TemplateInvalid, ConversionFailed.
        """
        async with self.db.session() as session:
            draft = await self._draft(session, caller, document_id)
        template = self.catalogue.latest(draft.template_id)
        clean = await self.documents.checked_data(template.manifest, draft.data, draft.unit_id)
        await self.documents.issue(
            caller,
            template,
            clean,
            draft.chosen_signers or {},
            draft.unit_id or "",
            paraf=draft.chosen_paraf or [],
            draft_id=document_id,
        )

    # Page images ----------------------------------------------------------------------------

    async def pages(self, caller: Caller, document_id: str) -> int:
        """How many pages the document (or draft) has. Raises NotFound."""
        pdf, _ = await self._pdf(caller, document_id)
        return await anyio.to_thread.run_sync(page_count, pdf)

    async def page_image(self, caller: Caller, document_id: str, page: int, width: int) -> bytes:
        """One page as a PNG, marked DRAF for a draft. Raises NotFound (also no such page)."""
        pdf, draft = await self._pdf(caller, document_id)
        if not 1 <= page <= await anyio.to_thread.run_sync(page_count, pdf):
            raise NotFound(f"Halaman {page} tidak ada")
        return await self.pipeline.page_image(pdf, page, width, draft=draft)

    async def _pdf(self, caller: Caller, document_id: str) -> tuple[bytes, bool]:
        """The document's current PDF, or a draft's converted preview; and whether a draft."""
        async with self.db.session() as session:
            document = await repository.get(session, document_id)
        if not readable(caller, document):
            raise NotFound("Dokumen tidak ditemukan")
        if document.status != DocumentStatus.DRAF:
            return await self.documents.read(document.revisions[-1]), False
        template = self.catalogue.get(document.template_id, document.template_version)
        async with self.db.session() as session:
            kop = await kop_of_unit(session, document.unit_id)
        # The unit's kop is read each time: a changed profile or emblem shows at once.
        digest = hashlib.sha256(
            f"{template.sha256}:{kop.digest}:{sorted(document.data.items())}".encode()
        ).hexdigest()
        cached = anyio.Path(self.cache / f"{digest}.pdf")
        if await cached.exists():
            return await cached.read_bytes(), True
        data = restored(template.manifest, document.data)
        pdf = await self.pipeline.draft_pdf(template, data, kop)
        await anyio.Path(self.cache).mkdir(parents=True, exist_ok=True)
        partial = anyio.Path(f"{cached}.{uuid.uuid4().hex}")
        await partial.write_bytes(pdf)
        await partial.replace(cached)
        return pdf, True

    # ----------------------------------------------------------------------------------------

    async def _checked(
        self,
        caller: Caller,
        template: Template,
        data: Mapping[str, Any],
        signers: Mapping[str, str],
        unit: str | None,
        paraf: Sequence[str],
    ) -> dict[str, Any]:
        """The columns of a draft from its data (the unit's place filling an empty place).
        Raises DataInvalid. Roles are bound only when it is issued: a draft may wait for a
        signer's enrolment."""
        manifest = template.manifest
        clean = await self.documents.checked_data(manifest, data, unit)
        async with self.db.session() as session:
            _, problems = await chosen_problems(session, manifest, signers)
            problems += await named_problems(session, caller.id, unit, manifest, paraf)
        if problems:
            raise DataInvalid(problems)
        return {
            "template_id": template.id,
            "template_version": template.version,
            "template_sha256": template.sha256,
            "document_type": manifest.document_type,
            "title": manifest.document_title(clean),
            "document_date": repository.document_date(clean, manifest.date_field).isoformat(),
            "data": stored_form(clean),
            "chosen_signers": dict(signers),
            "chosen_paraf": list(paraf),
            "search_text": repository.search_text(manifest, clean, None),
        }

    @staticmethod
    async def _draft(session: AsyncSession, caller: Caller, document_id: str) -> Document:
        document = await repository.get(session, document_id)
        if not caller.in_unit(document.unit_id):
            raise NotFound("Dokumen tidak ditemukan")
        if document.status != DocumentStatus.DRAF:
            raise Conflict("Dokumen ini sudah diterbitkan, bukan draf lagi")
        return document
