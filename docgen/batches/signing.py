"""Bulk signing: one signer signs one role of every document of a batch that waits for it.

The PIN is checked once and the key unsealed once; the documents are then signed in the
background in chunks (``DocumentService.sign_many``: the worker processes sign, the key travels
to them in memory only), each chunk stored as one pack object and registered in one
transaction. Every document keeps the rules of a single signature: its turn in the signing
order, the signer it names, one signature at a time.

The key is never kept: if the service stops in the middle, the signing is marked ``terputus``
at the next start, and posting it again signs what is still waiting.

Each document is signed under its lock in the registry (``docgen.registry.locks``): a document
another signature holds (a single one, on any instance) is left for the end of the run and
waited for then, so a concurrent signature never aborts the run; "already signed" is that
document's outcome.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.batches import repository
from docgen.batches.schemas import SigningOut, SigningStartedOut, SkippedOut
from docgen.documents import repository as documents
from docgen.documents.service import (
    DocumentService,
    SignedMany,
    check_signer,
    readable,
    slot_to_sign,
)
from docgen.errors import CertificateRevoked, Conflict, DocgenError, NotFound, SignerMismatch
from docgen.kit.chunks import in_chunks
from docgen.kit.jobs import Jobs
from docgen.people.policies import Caller
from docgen.pipeline.sign import SigningKey
from docgen.pipeline.store import pack_key
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import BatchSigning, Signer, utcnow
from docgen.registry.statuses import BatchStatus, SignerStatus, SigningStatus

__all__ = ["BulkSignings"]

log = logging.getLogger(__name__)

CHUNK_DOCUMENTS = 40
CHUNKS_IN_FLIGHT = 2


@dataclass(frozen=True)
class _Signing:
    """A bulk signing under way: what each of its chunks needs."""

    batch_id: str
    job_id: str
    role: str
    signer: Signer
    key: SigningKey


def _revoked(exc: BaseException) -> bool:
    """Whether a chunk stopped because the signer was revoked meanwhile."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_revoked(e) for e in exc.exceptions)
    return isinstance(exc, CertificateRevoked)


class BulkSignings:
    """Starts bulk signings and runs them as background jobs."""

    def __init__(self, db: Database, documents: DocumentService, jobs: Jobs) -> None:
        self.db = db
        self.documents = documents
        self.jobs = jobs

    async def start(self, caller: Caller, batch_id: str, role: str, pin: str) -> SigningStartedOut:
        """The caller checks their PIN once and starts signing; returns the job and the
        documents left out (with why: not their turn, another signer, already signed). Every
        check that needs no PIN comes first.

        Raises NotFound, Conflict (409: the batch is still being made, or no document waits for
        this role and signer), CertificateRevoked (403), SignerLocked (423), WrongPin (403).
        """
        signer_id = caller.user.signer_id if caller.user else None
        async with self.db.session() as session:
            batch = await repository.get(session, batch_id)
            signer = await session.get(Signer, signer_id) if signer_id else None
            waiting = await repository.documents_of(session, batch_id, revisions=False)
        if signer is None or not any(readable(caller, d) for d in waiting):
            raise NotFound("Batch tidak ditemukan")
        if batch.status != BatchStatus.SELESAI:
            raise Conflict("Dokumen batch ini masih dibuat; tanda tangani setelah selesai")
        if signer.status == SignerStatus.DICABUT:
            raise CertificateRevoked(
                "Sertifikat penanda tangan telah dicabut; tanda tangan baru tidak dapat dibuat"
            )
        eligible: list[str] = []
        skipped: list[SkippedOut] = []
        for document in waiting:
            try:
                check_signer(slot_to_sign(document, role), signer)
            except (Conflict, NotFound, SignerMismatch) as exc:
                skipped.append(
                    SkippedOut(
                        document_id=document.id, number=document.issued_number, reason=exc.detail
                    )
                )
            else:
                eligible.append(document.id)
        if not eligible:
            reasons = sorted({s.reason for s in skipped})[:3]
            raise Conflict(
                f"Tidak ada dokumen batch ini yang menunggu tanda tangan peran {role!r} "
                f"oleh penanda tangan ini" + (f" ({'; '.join(reasons)})" if reasons else "")
            )
        signer, identity = await self.documents.keys.unlock(signer.id, pin)
        job = BatchSigning(
            id=uuid.uuid4().hex,
            batch_id=batch_id,
            role=role,
            signer_id=signer.id,
            status=SigningStatus.BERJALAN,
            total=len(eligible),
            done=0,
            failed=0,
            errors=[],
        )
        async with self.db.writing() as session:
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
        self.jobs.start_soon(
            self._sign_all, _Signing(batch_id, job.id, role, signer, key), eligible
        )
        return SigningStartedOut(**SigningOut.of(job).model_dump(), skipped=skipped)

    async def interrupt_all(self) -> None:
        """At start-up: signings a stopped service left running can't go on (the key is gone)."""
        async with self.db.writing() as session:
            await session.execute(
                update(BatchSigning)
                .where(BatchSigning.status == SigningStatus.BERJALAN)
                .values(status=SigningStatus.TERPUTUS, finished_at=utcnow())
            )
            await session.commit()

    async def _sign_all(self, job: _Signing, document_ids: list[str]) -> None:
        status = SigningStatus.GAGAL
        signed: list[str] = []
        try:
            await self._sign_documents(job, document_ids, signed)
            status = SigningStatus.SELESAI
        except anyio.get_cancelled_exc_class():
            status = SigningStatus.TERPUTUS  # the service is stopping: posting again signs the rest
            raise
        except Exception as exc:
            if _revoked(exc):
                status = SigningStatus.DIHENTIKAN
                log.info("bulk signing %s stopped: the signer was revoked", job.job_id)
            else:
                log.exception("bulk signing %s stopped", job.job_id)
        finally:
            # Once for the whole signing, also one that stopped: one message per person. (Told
            # before the signing shows as over: its signatures are already registered.)
            self.documents.notifier.signed(signed, job.role, job.batch_id)
            with anyio.CancelScope(shield=True):
                async with self.db.writing() as session:
                    await session.execute(
                        update(BatchSigning)
                        .where(BatchSigning.id == job.job_id)
                        .values(status=status, finished_at=utcnow())
                    )
                    await session.commit()

    async def _sign_documents(
        self, job: _Signing, document_ids: Sequence[str], signed: list[str]
    ) -> None:
        """Sign in chunks the documents no other signature holds; then those, one at a time,
        waiting for each."""
        held: list[str] = []

        async def sign(chunk: Sequence[str]) -> None:
            async with self.documents.locks.trying(chunk) as ours:
                taken = set(ours)
                held.extend(d for d in chunk if d not in taken)
                if ours:
                    signed.extend((await self._sign_chunk(job, ours)).signed)

        await in_chunks(document_ids, CHUNK_DOCUMENTS, CHUNKS_IN_FLIGHT, sign)
        for document_id in held:
            try:
                async with self.documents.locks.holding(document_id):
                    signed.extend((await self._sign_chunk(job, [document_id])).signed)
            except Conflict as exc:  # held past the wait: posting again signs it
                await self._record_failed(job, document_id, exc)

    async def _sign_chunk(self, job: _Signing, document_ids: Sequence[str]) -> SignedMany:
        """Sign and register the documents, whose locks the caller holds."""
        async with self.db.session() as session:
            chunk = await documents.by_ids(session, document_ids)
        numbers = {document.id: document.number for document in chunk}

        async def progress(session: AsyncSession, outcome: SignedMany) -> None:
            # In the transaction that registers the chunk's signatures.
            await self._progress(session, job, outcome.signed, outcome.failed, numbers)

        return await self.documents.sign_many(
            chunk,
            job.role,
            job.signer,
            job.key,
            pack=pack_key(job.batch_id, f"ttd-{job.role}"),
            record=progress,
        )

    async def _record_failed(self, job: _Signing, document_id: str, error: DocgenError) -> None:
        async with self.db.writing() as session:
            await self._progress(session, job, [], {document_id: error}, {})
            await session.commit()

    async def _progress(
        self,
        session: AsyncSession,
        job: _Signing,
        signed: Sequence[str],
        failed: dict[str, DocgenError],
        numbers: dict[str, str | None],
    ) -> None:
        """Count a chunk's outcome into the signing."""
        row = await repository.signing(session, job.job_id)
        row.done += len(signed)
        row.failed += len(failed)
        row.errors = [
            *row.errors,
            *(
                {"document_id": i, "number": numbers.get(i), "message": error.detail}
                for i, error in failed.items()
            ),
        ]
