"""A running bulk signing's lease in the registry, held by the process that has its key.

The holder renews ``lease_until`` every third of the lease. A renewal finds the lease still its
own (same holder, still running, not run out) or not: then the lease is lost, and so is the
signing for this process. A holder that cannot reach the registry gives the lease up on its own
shortly before it could run out (self-fencing), so it never signs on under a lease another
instance may already take for run out.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

import anyio
from sqlalchemy import func, update
from sqlalchemy.exc import DBAPIError

from docgen.registry.db import Database
from docgen.registry.models import BatchSigning
from docgen.registry.statuses import SigningStatus

__all__ = ["LeaseLost", "SigningLease", "instance_id"]

log = logging.getLogger(__name__)

# A renewal that failed (the registry unreachable) is tried again this soon.
RETRY_SECONDS = 1.0
# Given up this long before the lease could run out, at most (a third of it for short leases):
# room for the registry's clock running ahead of ours between renewals.
MARGIN_SECONDS = 5.0


def instance_id() -> str:
    """This process among every instance's: ``host:pid:random`` (a container's pid alone is
    the same in every replica)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseLost(RuntimeError):
    """The signing's lease is no longer this process's: another took it as run out, or the
    registry could not be reached to renew it in time. Nothing more is registered."""


class SigningLease:
    """The lease of signing ``signing_id``, held by ``holder`` for ``seconds`` from each
    renewal; ``taken_at`` (``anyio.current_time()``) is just before it was first given."""

    def __init__(
        self, db: Database, signing_id: str, holder: str, seconds: float, taken_at: float
    ) -> None:
        self.db = db
        self.signing_id = signing_id
        self.holder = holder
        self.seconds = seconds
        self.taken_at = taken_at

    async def keep(self) -> None:
        """Renew the lease every third of it, until cancelled.

        Raises LeaseLost: the lease is no longer ours, or it could not be renewed until shortly
        before it may run out.
        """
        every = self.seconds / 3
        margin = min(MARGIN_SECONDS, every)
        deadline = self.taken_at + self.seconds - margin
        next_at = self.taken_at + every
        while True:
            await anyio.sleep(max(0.0, min(next_at, deadline) - anyio.current_time()))
            asked = anyio.current_time()
            if asked >= deadline:
                raise self._given_up()
            try:
                with anyio.fail_after(deadline - asked):
                    kept = await self.renew()
            except TimeoutError as exc:
                raise self._given_up() from exc
            except (DBAPIError, OSError):
                log.warning("signing %s: lease not renewed yet", self.signing_id, exc_info=True)
                next_at = asked + min(RETRY_SECONDS, every)
                continue
            if not kept:
                raise LeaseLost(f"sewa {self.signing_id} telah habis atau diambil")
            deadline = asked + self.seconds - margin
            next_at = asked + every

    def _given_up(self) -> LeaseLost:
        return LeaseLost(f"registri tidak terjangkau; sewa {self.signing_id} dilepas")

    async def renew(self) -> bool:
        """Whether the lease was still ours, and is renewed: one that ran out stays out."""
        async with self.db.session() as session:
            renewed = await session.execute(
                update(BatchSigning)
                .where(
                    BatchSigning.id == self.signing_id,
                    BatchSigning.holder == self.holder,
                    BatchSigning.status == SigningStatus.BERJALAN,
                    BatchSigning.lease_until > func.statement_timestamp(),
                )
                .values(lease_until=func.statement_timestamp() + timedelta(seconds=self.seconds))
            )
            await session.commit()
        return bool(renewed.rowcount)  # type: ignore[attr-defined]
