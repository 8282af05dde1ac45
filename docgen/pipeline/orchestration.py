"""One orchestration for N documents, a single document being N = 1.

Making: render every draft in the worker processes, convert them (merged into few LibreOffice
calls), stamp them in the workers (QR code, footer, signature fields), and store their revisions.
Signing: read each document's newest PDF, sign it in the workers, and store the new revisions.
Bytes in and out: nothing here touches the registry; the caller registers what was made in one
transaction (``docgen.documents.repository``).

One bad document costs only itself: its failure comes back under its id, the others go on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from docgen.errors import DocgenError
from docgen.pipeline.convert import BatchConversionFailed, Converter
from docgen.pipeline.sign import SignatureRequest, SigningKey, Trust
from docgen.pipeline.store import NewRevision, store_grouped
from docgen.pipeline.workers import (
    Failed,
    WorkerPool,
    page_images,
    render_rows,
    sign_pdfs,
    stamp_pdfs,
)
from docgen.registry.statuses import RevisionKind
from docgen.templating.kop import Kop
from docgen.templating.manifest import Template
from docgen.templating.validation import signing_roles
from storage import ObjectStore, StoredObject

__all__ = ["Draft", "Made", "Outcome", "Pipeline", "Signed", "ToSign"]

T = TypeVar("T")

# What a draft shows where its number will be: it gets one only when it is issued.
DRAFT_NUMBER = "(nomor diberikan saat diterbitkan)"


@dataclass(frozen=True)
class Draft:
    """A document decided and numbered, not made yet: its template, its checked data, its
    number, who signs it, and the verification code its QR code will carry."""

    template: Template
    data: Mapping[str, Any]
    number: str
    verify_code: str
    verify_url: str
    assigned: Mapping[str, str] = field(default_factory=dict)  # role -> signer id
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    kop: Kop = field(default_factory=Kop)  # its unit's letterhead


@dataclass(frozen=True)
class Made:
    """A document made and stored, to be registered."""

    draft: Draft
    pages: Mapping[str, int]  # role -> page of its signature field
    stored: Sequence[tuple[RevisionKind, StoredObject]]  # the DOCX source, the prepared PDF


@dataclass(frozen=True)
class ToSign:
    """One signature to make: the document's newest PDF revision and what goes into it."""

    document_id: str
    role: str
    latest: StoredObject
    next_seq: int  # the number of the first revision this signature makes
    request: SignatureRequest


@dataclass(frozen=True)
class Signed:
    """A signature made and stored, to be registered."""

    item: ToSign
    stored: Sequence[tuple[RevisionKind, StoredObject]]  # signed, then B-LTA after the last


@dataclass
class Outcome(Generic[T]):
    """What a run made, and why the others failed (by document id)."""

    done: list[T] = field(default_factory=list)
    failed: dict[str, DocgenError] = field(default_factory=dict)

    def one(self) -> T:
        """The one document of an N = 1 run. Raises the error it failed with."""
        if self.failed:
            raise next(iter(self.failed.values()))
        return self.done[0]


class Pipeline:
    """Makes and signs documents: the worker processes, the converter, object storage."""

    def __init__(self, workers: WorkerPool, converter: Converter, store: ObjectStore) -> None:
        self.workers = workers
        self.converter = converter
        self.store = store

    async def make(self, drafts: Sequence[Draft], *, pack: str | None = None) -> Outcome[Made]:
        """Render, convert, stamp and store ``drafts`` (all of one template version and one
        unit: the first one's kop is theirs).

        With ``pack`` (a key from ``store.pack_key``, or a batch chunk's) the revisions are
        stored as one pack object, written create-only, otherwise one object each.
        """
        outcome: Outcome[Made] = Outcome()
        if not drafts:
            return outcome
        template = drafts[0].template
        by_id = {draft.id: draft for draft in drafts}
        rendered = await self.workers.map(
            render_rows, [(d.data, d.number) for d in drafts], template, drafts[0].kop
        )
        docxs = _keep_done(outcome.failed, list(by_id), rendered)
        pdfs = await self._convert(outcome.failed, docxs)
        stamped = _keep_done(
            outcome.failed,
            list(pdfs),
            await self.workers.map(
                stamp_pdfs,
                [
                    (
                        pdf,
                        by_id[draft_id].verify_url,
                        _roles(template, by_id[draft_id].data),
                        _emeterai_size(by_id[draft_id]),
                    )
                    for draft_id, pdf in pdfs.items()
                ],
                template.id,
            ),
        )
        made = {
            draft_id: [
                NewRevision(draft_id, 1, RevisionKind.SOURCE, RevisionKind.SOURCE, docxs[draft_id]),
                NewRevision(draft_id, 2, RevisionKind.PREPARED, RevisionKind.PREPARED, prepared),
            ]
            for draft_id, (prepared, _) in stamped.items()
        }
        stored = await store_grouped(self.store, made, pack)
        outcome.done = [
            Made(by_id[draft_id], stamped[draft_id][1], objects)
            for draft_id, objects in stored.items()
        ]
        return outcome

    async def draft_pdf(self, template: Template, data: Mapping[str, Any], kop: Kop) -> bytes:
        """A draft rendered under its unit's ``kop`` and converted, without a number, QR code
        or signature fields.

        Raises TemplateInvalid, ConversionFailed.
        """
        failed: dict[str, DocgenError] = {}
        rendered = await self.workers.map(render_rows, [(data, DRAFT_NUMBER)], template, kop)
        pdfs = await self._convert(failed, _keep_done(failed, ["draf"], rendered))
        if failed:
            raise next(iter(failed.values()))
        return pdfs["draf"]

    async def page_image(self, pdf: bytes, page: int, width: int, *, draft: bool) -> bytes:
        """Page ``page`` (1-based, within the document) of ``pdf`` as a PNG, marked DRAF for a
        draft, made in a worker process."""
        (result,) = await self.workers.map(page_images, [(pdf, page, width, draft)])
        if isinstance(result, Failed):
            raise result.error()
        return bytes(result)

    async def sign(
        self, items: Sequence[ToSign], key: SigningKey, trust: Trust, *, pack: str | None = None
    ) -> Outcome[Signed]:
        """Read each document's newest PDF, sign it with ``key``, store the new revisions."""
        outcome: Outcome[Signed] = Outcome()
        if not items:
            return outcome
        # Together: a chunk's PDFs that lie in one pack are read with one request.
        pdfs = await self.store.read_many([item.latest for item in items])
        by_id = {item.document_id: item for item in items}
        results = await self.workers.map(
            sign_pdfs,
            [(pdf, item.request) for pdf, item in zip(pdfs, items, strict=True)],
            key,
            trust,
        )
        signed = _keep_done(outcome.failed, list(by_id), results)
        made = {
            document_id: [
                NewRevision(
                    document_id,
                    by_id[document_id].next_seq + i,
                    kind,
                    # In its object key or pack member name: signed-<role>, lta.
                    f"{kind}-{by_id[document_id].role}" if kind == RevisionKind.SIGNED else kind,
                    pdf,
                )
                for i, (kind, pdf) in enumerate(outputs)
            ]
            for document_id, outputs in signed.items()
        }
        stored = await store_grouped(self.store, made, pack)
        outcome.done = [
            Signed(by_id[document_id], objects) for document_id, objects in stored.items()
        ]
        return outcome

    async def _convert(
        self, failed: dict[str, DocgenError], docxs: dict[str, bytes]
    ) -> dict[str, bytes]:
        ids = list(docxs)
        try:
            pdfs: list[bytes | None] = list(await self.converter.to_pdfs(list(docxs.values())))
        except BatchConversionFailed as exc:
            pdfs = exc.pdfs
            for index, problem in exc.failures.items():
                failed[ids[index]] = problem
        return {key: pdf for key, pdf in zip(ids, pdfs, strict=True) if pdf is not None}


def _roles(template: Template, data: Mapping[str, Any]) -> list[str]:
    """The roles that sign a document of ``template`` with ``data``, in order."""
    return [role.name for role in signing_roles(template.manifest, data)]


def _emeterai_size(draft: Draft) -> float | None:
    """The e-Meterai box of a draft that carries one (its template's size), else None."""
    manifest = draft.template.manifest
    if manifest.emeterai is None or not manifest.emeterai_asked(draft.data):
        return None
    return manifest.emeterai.size


def _keep_done(
    failed: dict[str, DocgenError], keys: Sequence[str], results: Sequence[Any]
) -> dict[str, Any]:
    """The results by key, moving each ``Failed`` one into ``failed``."""
    done: dict[str, Any] = {}
    for key, result in zip(keys, results, strict=True):
        if isinstance(result, Failed):
            failed[key] = result.error()
        else:
            done[key] = result
    return done
