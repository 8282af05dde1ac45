"""Bulk signing: one signer signs one role of every document of a batch that waits for it.

The PIN is checked once and the key unsealed once; the documents are then signed in the
background in chunks (``DocumentService.sign_many``: the worker processes sign, the key travels
to them in memory only), each chunk stored as one pack object and registered in one
transaction. Every document keeps the rules of a single signature: its turn in the signing
order, the signer it names, one signature at a time.

The key stays in the process that checked the PIN and is never kept. That process holds the
signing under a lease in the registry (``holder``, ``lease_until``), renewed every third of
``DOCGEN_SIGNING_LEASE_SECONDS``; no other instance touches it. A chunk is registered only
while the lease is still ours (the signing's row locked in the registering transaction). If the
process stops (Ctrl-C marks it ``terputus`` at once; a killed one stops renewing), or loses its
lease, or cannot reach the registry for nearly a lease (it stops on its own before the lease
can run out), the signing is ``terputus`` once the lease runs out, and posting it again, on
any instance, signs what is still waiting.

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
from datetime import timedelta

import anyio
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.batches import repository
from docgen.batches.lease import LeaseLost, SigningLease, instance_id
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
from docgen.registry.models import BatchSigning, Signer
from docgen.registry.statuses import BatchStatus, SignerStatus, SigningStatus

__all__ = ["BulkSignings"]

log = logging.getLogger(__name__)

CHUNK_DOCUMENTS = 40
CHUNKS_IN_FLIGHT = 2
RUNNING_INDEX = "uq_batch_signings_running"


@dataclass(frozen=True)
class _Signing:
    """A bulk signing under way: what each of its chunks needs."""

    batch_id: str
    job_id: str
    role: str
    signer: Signer
    key: SigningKey
    lease: SigningLease


def _lease_lost(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_lease_lost(e) for e in exc.exceptions)
    return isinstance(exc, LeaseLost)


def _revoked(exc: BaseException) -> bool:
    """Whether a chunk stopped because the signer was revoked meanwhile."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_revoked(e) for e in exc.exceptions)
    return isinstance(exc, CertificateRevoked)


class BulkSignings:
    """Starts bulk signings and runs them as background jobs, each under a lease of
    ``lease_seconds`` held by ``holder`` (this process: :func:`instance_id`)."""

    def __init__(
        self,
        db: Database,
        documents: DocumentService,
        jobs: Jobs,
        lease_seconds: float,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.documents = documents
        self.jobs = jobs
        self.lease_seconds = lease_seconds
        self.holder = holder or instance_id()

    async def start(self, caller: Caller, batch_id: str, role: str, pin: str) -> SigningStartedOut:
        """The caller checks their PIN once and starts signing; returns the job and the
        documents left out (with why: not their turn, another signer, already signed). Every
        check that needs no PIN comes first.

        Raises NotFound, Conflict (409: the batch is still being made, no document waits for
        this role and signer, or this signer's signing of the role already runs),
        CertificateRevoked (403), SignerLocked (423), WrongPin (403).
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
        taken_at = anyio.current_time()
        async with self.db.writing() as session:
            # Signings whose holder stopped renewing end here, so posting one again starts it.
            await repository.end_lapsed_signings(session)
            now = await session.scalar(select(func.statement_timestamp()))
            assert now is not None
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
                holder=self.holder,
                lease_until=now + timedelta(seconds=self.lease_seconds),
            )
            session.add(job)
            try:
                await session.flush()
            except IntegrityError as exc:
                if RUNNING_INDEX not in str(exc.orig):
                    raise
                raise Conflict(
                    f"Penandatanganan massal peran {role!r} batch ini oleh Anda sedang berjalan"
                ) from exc
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
        lease = SigningLease(self.db, job.id, self.holder, self.lease_seconds, taken_at)
        self.jobs.start_soon(
            self._sign_all, _Signing(batch_id, job.id, role, signer, key, lease), eligible
        )
        return SigningStartedOut(**SigningOut.of(job).model_dump(), skipped=skipped)

    async def _sign_all(self, job: _Signing, document_ids: list[str]) -> None:
        status = SigningStatus.GAGAL
        signed: list[str] = []
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(job.lease.keep)
                await self._sign_documents(job, document_ids, signed)
                group.cancel_scope.cancel()  # the lease's renewals
            status = SigningStatus.SELESAI
        except anyio.get_cancelled_exc_class():
            status = SigningStatus.TERPUTUS  # the service is stopping: posting again signs the rest
            raise
        except Exception as exc:
            if _revoked(exc):
                status = SigningStatus.DIHENTIKAN
                log.info("bulk signing %s stopped: the signer was revoked", job.job_id)
            elif _lease_lost(exc):
                status = SigningStatus.TERPUTUS
                log.warning("bulk signing %s stopped: its lease was lost", job.job_id)
            else:
                log.exception("bulk signing %s stopped", job.job_id)
        finally:
            # Once for the whole signing, also one that stopped: one message per person. (Told
            # before the signing shows as over: its signatures are already registered.)
            self.documents.notifier.signed(signed, job.role, job.batch_id)
            with anyio.CancelScope(shield=True):
                await self._end(job, status)

    async def _end(self, job: _Signing, status: SigningStatus) -> None:
        """Mark the signing ended, if it is still ours; one whose lease ran out meanwhile is
        already (or will read as) ``terputus``."""
        try:
            async with self.db.session() as session:
                await session.execute(
                    update(BatchSigning)
                    .where(
                        BatchSigning.id == job.job_id,
                        BatchSigning.holder == self.holder,
                        BatchSigning.status == SigningStatus.BERJALAN,
                    )
                    .values(status=status, finished_at=func.statement_timestamp())
                )
                await session.commit()
        except (DBAPIError, OSError):
            log.warning("bulk signing %s: its end was not recorded", job.job_id, exc_info=True)

    async def _sign_documents(
        self, job: _Signing, document_ids: Sequence[str], signed: list[str]
    ) -> None:
        """Sign in chunks the documents no other signature holds. Those held (another role of
        the same turn signing the batch at once, a single signature): wait for the first, then
        try the rest in chunks again, as the other signing has most likely moved on."""
        held = await self._sign_free(job, document_ids, signed)
        while held:
            document_id, rest = held[0], held[1:]
            try:
                async with self.documents.locks.holding(document_id):
                    signed.extend((await self._sign_chunk(job, [document_id])).signed)
            except Conflict as exc:  # held past the wait: posting again signs it
                await self._record_failed(job, document_id, exc)
            held = await self._sign_free(job, rest, signed)

    async def _sign_free(
        self, job: _Signing, document_ids: Sequence[str], signed: list[str]
    ) -> list[str]:
        """Sign in chunks those of the documents no other signature holds; returns the others,
        in the order given."""
        held = dict.fromkeys(document_ids)  # in order; the signed ones leave it

        async def sign(chunk: Sequence[str]) -> None:
            async with self.documents.locks.trying(chunk) as ours:
                for document_id in ours:
                    del held[document_id]
                if ours:
                    signed.extend((await self._sign_chunk(job, ours)).signed)

        await in_chunks(document_ids, CHUNK_DOCUMENTS, CHUNKS_IN_FLIGHT, sign)
        return list(held)

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
        """Count a chunk's outcome into the signing. Raises LeaseLost (the transaction is to be
        rolled back): the signing no longer runs under our lease."""
        row = await repository.leased_signing(session, job.job_id, self.holder)
        if row is None:
            raise LeaseLost(f"sewa {job.job_id} telah habis atau diambil; tidak dicatat")
        row.done += len(signed)
        row.failed += len(failed)
        row.errors = [
            *row.errors,
            *(
                {"document_id": i, "number": numbers.get(i), "message": error.detail}
                for i, error in failed.items()
            ),
        ]
