"""Affixing a document's e-Meterai: automatically once its turn comes (the signatures before
its role are in), or by the operator's action when that failed (the provider was unreachable).

The e-Meterai goes into the signature field the document was prepared with, as one more
incremental update (a permitted change under the first signature's DocMDP), stored as a
revision of its own (kind ``emeterai``) and recorded with its serial number, time and provider.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from docgen.documents import repository
from docgen.emeterai.rules import affixed, due, offer_problems
from docgen.errors import Conflict, DataInvalid, NotFound
from docgen.people.policies import Caller
from docgen.people.profiles import zone_of
from docgen.pipeline.prepare import EMETERAI_FIELD
from docgen.pipeline.store import NewRevision, store_grouped
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.locks import DocumentLocks
from docgen.registry.models import Document
from docgen.registry.statuses import RevisionKind
from docgen.templating.manifest import TemplateManifest
from signing.emeterai import EMeteraiProvider
from storage import ObjectStore

__all__ = ["EMeteraiStep"]

logger = logging.getLogger(__name__)


class EMeteraiStep:
    """The e-Meterai step of the workflow, with the deployment's provider (None: none is
    configured, and no document may ask for an e-Meterai)."""

    def __init__(self, db: Database, store: ObjectStore, provider: EMeteraiProvider | None) -> None:
        self.db = db
        self.store = store
        self.provider = provider
        self.locks = DocumentLocks(db)

    @property
    def configured(self) -> bool:
        return self.provider is not None

    def check_offer(self, manifest: TemplateManifest, data: Mapping[str, object]) -> None:
        """Raises DataInvalid (422) when ``data`` asks for an e-Meterai and no provider is
        configured."""
        problems = offer_problems(manifest, data, self.configured)
        if problems:
            raise DataInvalid(problems)

    async def affix_if_due(self, document_id: str) -> bool:
        """Affix the document's e-Meterai if it is due now (see ``rules.due``); whether it was.
        The caller holds the document's lock.

        Raises EMeteraiFailed or another SigningError (the provider failed), StorageUnavailable,
        Conflict (someone else added a revision meanwhile).
        """
        async with self.db.session() as session:
            document = await repository.get(session, document_id)
        if self.provider is None or not due(document):
            return False
        await self._affix(document, self.provider)
        return True

    async def affix(self, caller: Caller, document_id: str) -> None:
        """The operator affixes the e-Meterai of a document of their unit now, after the
        automatic attempt failed.

        Raises NotFound, Conflict (409: the document carries none, it is affixed already, its
        turn has not come, or no provider is configured), EMeteraiProviderFailed (502, through
        the translation of EMeteraiFailed), StorageUnavailable.
        """
        async with self.locks.holding(document_id):
            async with self.db.session() as session:
                document = await repository.get(session, document_id)
            if not caller.in_unit(document.unit_id):
                raise NotFound("Dokumen tidak ditemukan")
            if document.emeterai_before_role is None:
                raise Conflict("Dokumen ini tidak dibubuhi e-Meterai")
            if affixed(document):
                raise Conflict("e-Meterai dokumen ini sudah dibubuhkan")
            if not due(document):
                raise Conflict(
                    "Belum gilirannya: e-Meterai dibubuhkan setelah penanda tangan sebelum "
                    f"peran {document.emeterai_before_role!r} menandatangani, pada dokumen yang "
                    "masih menunggu tanda tangan"
                )
            if self.provider is None:
                raise Conflict("Layanan ini tidak terhubung ke penyedia e-Meterai")
            await self._affix(document, self.provider)

    async def _affix(self, document: Document, provider: EMeteraiProvider) -> None:
        latest = document.revisions[-1]
        pdf = await self.store.read(repository.stored_object(latest))
        async with self.db.session() as session:
            zona = await zone_of(session, document.unit_id)
        result = await provider.affix(
            pdf, field_name=EMETERAI_FIELD, reason=f"e-Meterai {document.title}", zona=zona
        )
        seq = latest.seq + 1
        revision = NewRevision(document.id, seq, RevisionKind.EMETERAI, "emeterai", result.pdf)
        stored = await store_grouped(self.store, {document.id: [revision]}, None)
        ((_, obj),) = stored[document.id]
        async with self.db.writing() as session:
            await repository.register_emeterai(session, document.id, seq, obj, result)
            await audit.record(
                session,
                "document.emeterai_affixed",
                "document",
                document.id,
                serial=result.serial,
                provider=result.provider,
                local=result.local,
            )
            await session.commit()
        logger.info("e-Meterai %s affixed to document %s", result.serial, document.id)
