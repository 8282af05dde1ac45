"""Whether an instance can do its work now: its registry and its object storage answer (for a
load balancer's or compose's readiness check, beside ``/healthz``, which only says the process
serves)."""

from __future__ import annotations

import logging

import anyio
from sqlalchemy import text

from docgen.registry.db import Database
from storage import ObjectStore

__all__ = ["CHECK_SECONDS", "OK", "readiness"]

log = logging.getLogger(__name__)

CHECK_SECONDS = 3.0  # each part's answer; a check never hangs a load balancer's probe
OK = "ok"
_PROBE_KEY = "readyz/probe"  # looked up, never written: a missing key is a fine answer


async def _registry(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("SELECT 1"))


async def readiness(db: Database, store: ObjectStore) -> dict[str, str]:
    """Each part's state: ``"ok"``, or why it is not, in Indonesian."""
    checks: dict[str, str] = {}
    for name, probe, down in (
        ("registri", lambda: _registry(db), "basis data tidak menjawab"),
        ("penyimpanan", lambda: store.exists(_PROBE_KEY), "penyimpanan objek tidak menjawab"),
    ):
        try:
            with anyio.fail_after(CHECK_SECONDS):
                await probe()
        except Exception as exc:  # whatever the part raised: not ready, and say which part
            log.warning("readiness: %s: %s", name, exc)
            checks[name] = down
        else:
            checks[name] = OK
    return checks
