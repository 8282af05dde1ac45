"""Bulk signing: one signer signs one role of every document of a batch that waits for it.

The PIN is checked once and the key unsealed once; the documents are then signed in the
background in chunks by the worker processes (the key travels to them in memory only), each
chunk stored as one pack object and registered in one transaction. Every document keeps the
rules of a single signature: its turn in the signing order, the signer it names, one signature
at a time.

The key is never kept: if the service stops in the middle, the signing is marked ``terputus``
at the next start, and posting it again signs what is still waiting.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update

from docgen.batches.service import SELESAI, batch_documents, get_batch
from docgen.documents.service import (
    NewSignature,
    check_signer,
    documents_by_id,
    latest_pdf,
    pack_key,
    read_revision,
    register_signed,
    signature_request,
    signed_revisions,
    slot_to_sign,
    store_packed,
)
from docgen.errors import Conflict, NotFound, SignerMismatch
from docgen.pipeline.workers import Failed, SigningKey, in_chunks, sign_pdfs
from docgen.registry import audit
from docgen.registry.models import BatchSigning, Document, Signer, utcnow
from docgen.runtime import Runtime
from docgen.signers.crl import current_crl
from docgen.signers.service import unlock_identity

__all__ = ["interrupt_signings", "start_bulk_signing"]

log = logging.getLogger(__name__)

BERJALAN = "berjalan"
SELESAI_TTD = "selesai"
TERPUTUS = "terputus"
GAGAL = "gagal"

CHUNK_DOCUMENTS = 40
CHUNKS_IN_FLIGHT = 2
IO_CONCURRENCY = 8


async def start_bulk_signing(
    rt: Runtime, batch_id: str, role: str, signer_id: str, pin: str
) -> tuple[BatchSigning, list[dict[str, Any]]]:
    """Check the PIN once and start signing; returns the job and the documents left out (with
    why: not their turn, another signer, already signed).

    Raises NotFound, Conflict (409: the batch is still being made, or no document waits for
    this role and signer), WrongPin (403), SignerLocked (423), CertificateRevoked (403).
    """
    batch = await get_batch(rt, batch_id)
    if batch.status != SELESAI:
        raise Conflict("Dokumen batch ini masih dibuat; tanda tangani setelah selesai")
    if rt.jobs is None:
        raise Conflict("Layanan sedang berhenti; coba lagi")
    await rt.workers.start()  # running since the service started, unless one died since
    signer, identity = await unlock_identity(rt, signer_id, pin)
    eligible: list[str] = []
    skipped: list[dict[str, Any]] = []
    for document in await batch_documents(rt, batch_id, revisions=False):
        try:
            check_signer(slot_to_sign(document, role), signer)
        except (Conflict, NotFound, SignerMismatch) as exc:
            skipped.append(
                {"document_id": document.id, "number": document.number, "reason": exc.detail}
            )
        else:
            eligible.append(document.id)
    if not eligible:
        reasons = sorted({s["reason"] for s in skipped})[:3]
        raise Conflict(
            f"Tidak ada dokumen batch ini yang menunggu tanda tangan peran {role!r} "
            f"oleh penanda tangan ini" + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    job = BatchSigning(
        id=uuid.uuid4().hex,
        batch_id=batch_id,
        role=role,
        signer_id=signer.id,
        status=BERJALAN,
        total=len(eligible),
        done=0,
        failed=0,
        errors=[],
    )
    async with rt.write_lock, rt.db.session() as session:
        session.add(job)
        await audit.record(
            session,
            "batch.signing_started",
            "batch",
            batch_id,
            signing=job.id,
            role=role,
            signer=signer.id,
            documents=len(eligible),
        )
        await session.commit()
    key = SigningKey.of(identity.private_key, identity.certificate)
    rt.jobs.start_soon(_sign_all, rt, _Signing(batch_id, job.id, role, signer, key), eligible)
    return job, skipped


async def interrupt_signings(rt: Runtime) -> None:
    """At start-up: signings a stopped service left running can't go on (the key is gone)."""
    async with rt.write_lock, rt.db.session() as session:
        await session.execute(
            update(BatchSigning)
            .where(BatchSigning.status == BERJALAN)
            .values(status=TERPUTUS, finished_at=utcnow())
        )
        await session.commit()


@dataclass(frozen=True)
class _Signing:
    """A bulk signing under way: what each of its chunks needs."""

    batch_id: str
    job_id: str
    role: str
    signer: Signer
    key: SigningKey


async def _sign_all(rt: Runtime, job: _Signing, document_ids: list[str]) -> None:
    status = GAGAL
    try:
        crl = await current_crl(rt)
        trust = (
            [rt.ca.root_certificate.public_bytes(serialization.Encoding.DER)],
            [crl.public_bytes(serialization.Encoding.DER)],
        )

        async def sign(chunk: Sequence[str]) -> None:
            await _sign_chunk(rt, job, trust, chunk)

        await in_chunks(document_ids, CHUNK_DOCUMENTS, CHUNKS_IN_FLIGHT, sign)
        status = SELESAI_TTD
    except anyio.get_cancelled_exc_class():
        status = TERPUTUS  # the service is stopping: posting it again signs the rest
        raise
    except Exception:
        log.exception("bulk signing %s stopped", job.job_id)
    finally:
        with anyio.CancelScope(shield=True):
            async with rt.write_lock, rt.db.session() as session:
                await session.execute(
                    update(BatchSigning)
                    .where(BatchSigning.id == job.job_id)
                    .values(status=status, finished_at=utcnow())
                )
                await session.commit()


async def _sign_chunk(
    rt: Runtime, job: _Signing, trust: tuple[list[bytes], list[bytes]], document_ids: Sequence[str]
) -> None:
    role, signer = job.role, job.signer
    failed: dict[str, str] = {}
    async with AsyncExitStack() as locks:
        # Sorted, and a single signature takes one lock only: no two holders wait on each other.
        for document_id in sorted(document_ids):
            await locks.enter_async_context(rt.document_lock(document_id))
        documents: list[Document] = []
        numbers: dict[str, str] = {}
        for document in await documents_by_id(rt, document_ids):
            numbers[document.id] = document.number
            try:
                check_signer(slot_to_sign(document, role), signer)
            except (Conflict, NotFound, SignerMismatch) as exc:  # changed since the start
                failed[document.id] = exc.detail
            else:
                documents.append(document)
        slots = {d.id: next(s for s in d.slots if s.role == role) for d in documents}
        pdfs: dict[str, bytes] = {}
        limit = anyio.CapacityLimiter(IO_CONCURRENCY)

        async def read(document: Document) -> None:
            async with limit:
                pdfs[document.id] = await read_revision(rt, latest_pdf(document))

        async with anyio.create_task_group() as tg:
            for document in documents:
                tg.start_soon(read, document)
        items = [(pdfs[d.id], signature_request(rt, d, slots[d.id], signer)) for d in documents]
        results = await rt.workers.map(sign_pdfs, items, job.key, *trust)
        signed = {}
        for document, result in zip(documents, results, strict=True):
            if isinstance(result, Failed):
                failed[document.id] = result.message
            else:
                signed[document.id] = result
        made = {
            document.id: signed_revisions(document, role, signed[document.id])
            for document in documents
            if document.id in signed
        }
        stored = await store_packed(rt, made, pack_key(job.batch_id, f"ttd-{role}"))

        by_id = {d.id: d for d in documents}
        async with rt.write_lock, rt.db.session() as session:
            await register_signed(
                session,
                [
                    NewSignature(by_id[document_id], slots[document_id], signer, objects)
                    for document_id, objects in stored.items()
                ],
            )
            row = await session.scalar(select(BatchSigning).where(BatchSigning.id == job.job_id))
            assert row is not None
            row.done += len(stored)
            row.failed += len(failed)
            row.errors = [
                *row.errors,
                *(
                    {"document_id": i, "number": numbers.get(i), "message": m}
                    for i, m in failed.items()
                ),
            ]
            await session.commit()
