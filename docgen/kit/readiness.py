"""Whether an instance can do its work now: its registry, its object storage and its
LibreOffice answer, and the queue in the registry has a live worker (for a load balancer's or
compose's readiness check, beside ``/healthz``, which only says the process serves)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from sqlalchemy import text

from docgen.registry.db import Database
from storage import ObjectStore

__all__ = ["CHECK_SECONDS", "OK", "Checked", "readiness"]

log = logging.getLogger(__name__)

CHECK_SECONDS = 3.0  # each part's answer; a check never hangs a load balancer's probe
OK = "ok"
_PROBE_KEY = "readyz/probe"  # looked up, never written: a missing key is a fine answer


# Workers whose last heartbeat is this recent (procrastinate's own table).
_LIVE_WORKERS = text(
    "SELECT count(*) FROM procrastinate_workers "
    "WHERE last_heartbeat > now() - make_interval(secs => :seconds)"
)


class NotReady(Exception):
    """A part answered, but not as work needs it (the message says how, in Indonesian)."""


@dataclass(frozen=True)
class Checked:
    """What readiness looks at."""

    db: Database
    store: ObjectStore
    converter_listening: Callable[[], Awaitable[bool]]
    stalled_seconds: float  # a worker silent longer is dead


async def _registry(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("SELECT 1"))


async def _workers(db: Database, stalled_seconds: float) -> None:
    async with db.session() as session:
        live = await session.scalar(_LIVE_WORKERS, {"seconds": stalled_seconds})
    if not live:
        raise NotReady("tidak ada pekerja antrean yang hidup (jalankan docgen worker)")


async def _converter(listening: Callable[[], Awaitable[bool]]) -> None:
    if not await listening():
        raise NotReady("LibreOffice (unoserver) tidak menerima konversi")


async def readiness(parts: Checked) -> dict[str, str]:
    """Each part's state: ``"ok"``, or why it is not, in Indonesian."""
    probes: list[tuple[str, Callable[[], Awaitable[object]], str]] = [
        ("registri", lambda: _registry(parts.db), "basis data tidak menjawab"),
        (
            "penyimpanan",
            lambda: parts.store.exists(_PROBE_KEY),
            "penyimpanan objek tidak menjawab",
        ),
        ("konverter", lambda: _converter(parts.converter_listening), ""),
        (
            "pekerja",
            lambda: _workers(parts.db, parts.stalled_seconds),
            "antrean di registri tidak dapat dibaca",
        ),
    ]
    checks: dict[str, str] = {}
    for name, probe, down in probes:
        try:
            with anyio.fail_after(CHECK_SECONDS):
                await probe()
        except NotReady as exc:
            checks[name] = str(exc)
        except Exception as exc:  # whatever the part raised: not ready, and say which part
            log.warning("readiness: %s: %s", name, exc)
            checks[name] = down or "tidak menjawab"
        else:
            checks[name] = OK
    return checks
