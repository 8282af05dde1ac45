"""Rate limits per client on the public routes, shared by every instance of a deployment.

Each group of routes allows so many requests per client address and minute. An instance
decides at once from what it knows (the deployment's count as of its last exchange with the
registry, plus what it counted since) and, about once a second, adds its new counts to the
registry's ``rate_windows`` and reads back the sums: a client spread over instances by a load
balancer is held to one limit, give or take the requests of that second. If the registry does
not answer, the instance goes on with its own counts (limits hold per instance meanwhile): the
public pages stay up.

Behind a reverse proxy the client address is the one it forwards (uvicorn's proxy headers,
``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from docgen.errors import ErrorOut
from docgen.kit.error_bodies import error_response
from docgen.registry.db import Database
from docgen.registry.models import RateWindow

__all__ = ["RateLimited", "RateLimits", "Rule"]

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
_Window = tuple[str, int]  # (key, minute)


@dataclass(frozen=True)
class Rule:
    """A group of routes and how many requests a client may make to them in a minute."""

    name: str
    per_minute: int


class RateLimits:
    """The counts of one instance and its exchange with the registry."""

    def __init__(self, db: Database, reads: int, uploads: int, logins: int) -> None:
        self.db = db
        self.reads = Rule("baca", reads)
        self.uploads = Rule("unggah", uploads)
        self.logins = Rule("masuk", logins)
        self._known: dict[_Window, int] = {}  # the deployment's counts at the last exchange
        self._pending: Counter[_Window] = Counter()  # counted here since

    def rule_for(self, method: str, path: str) -> Rule | None:
        """The group of a public route; None for the rest (health checks, static files, the
        routes of logged-in users)."""
        if method == "POST":
            if path in ("/v", "/api/v1/verify"):
                return self.uploads
            if path in ("/masuk", "/api/v1/auth/login") or path.startswith(
                ("/aktivasi/", "/api/v1/activation/")
            ):
                return self.logins
            return None
        if path == "/v" or path.startswith(("/v/", "/api/v1/verify/", "/api/v1/trust/")):
            return self.reads
        if path in ("/docs", "/redoc", "/openapi.json", "/masuk") or path.startswith(
            ("/aktivasi/", "/api/v1/activation/")
        ):
            return self.reads
        return None

    def take(self, rule: Rule, client: str, now: float | None = None) -> float | None:
        """Count one request of ``client``; or, when its minute's limit is reached, the
        seconds until the next minute (the request is then not counted)."""
        now = time.time() if now is None else now
        minute = int(now // 60)
        window = (f"{rule.name}:{client}", minute)
        if self._known.get(window, 0) + self._pending[window] >= rule.per_minute:
            return (minute + 1) * 60 - now
        self._pending[window] += 1
        return None

    async def run(self) -> None:
        """Exchange counts with the registry about once a second, until cancelled."""
        last_cleanup = 0.0
        while True:
            await anyio.sleep(FLUSH_SECONDS)
            try:
                await self.exchange()
                if time.monotonic() - last_cleanup > 60:
                    await self._clean_up()
                    last_cleanup = time.monotonic()
            except Exception as exc:  # the registry is away: go on with our own counts
                log.warning("rate limits: registry unreachable (%s)", exc)

    async def exchange(self) -> None:
        """Add what was counted here to the registry; learn the deployment's sums of those
        clients and of every other client this instance served in the current minute."""
        pending, self._pending = self._pending, Counter()
        current = int(time.time() // 60)
        self._known = {w: n for w, n in self._known.items() if w[1] >= current - 1}
        others = [k for (k, m) in self._known if m == current and (k, m) not in pending]
        if not pending and not others:
            return
        sums: list[Any] = []
        try:
            async with self.db.session() as session:
                if pending:
                    rows = [{"key": k, "minute": m, "hits": n} for (k, m), n in pending.items()]
                    adding = insert(RateWindow).values(rows)
                    statement = adding.on_conflict_do_update(
                        index_elements=[RateWindow.key, RateWindow.minute],
                        set_={"hits": RateWindow.hits + adding.excluded.hits},
                    ).returning(RateWindow.key, RateWindow.minute, RateWindow.hits)
                    sums += (await session.execute(statement)).all()
                if others:
                    sums += (
                        await session.execute(
                            select(RateWindow.key, RateWindow.minute, RateWindow.hits).where(
                                RateWindow.minute == current, RateWindow.key.in_(others)
                            )
                        )
                    ).all()
                await session.commit()
        except Exception:
            self._pending.update(pending)  # counted again at the next exchange
            raise
        for key, minute, hits in sums:
            self._known[(key, minute)] = hits

    async def _clean_up(self) -> None:
        before = int(time.time() // 60) - 2
        async with self.db.session() as session:
            await session.execute(delete(RateWindow).where(RateWindow.minute < before))
            await session.commit()


class RateLimited:
    """Answers 429 with ``Retry-After`` (JSON for the API, a page for people) to a client over
    its limit on a public route; the limits are the app's (``app.state.rate_limits``, set
    by its lifespan)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits: RateLimits | None = getattr(scope["app"].state, "rate_limits", None)
        if scope["type"] == "http" and limits is not None:
            rule = limits.rule_for(scope["method"], scope["path"])
            client = scope.get("client")
            if rule is not None and client is not None:
                wait = limits.take(rule, client[0])
                if wait is not None:
                    await _too_many(scope["path"], math.ceil(wait))(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _too_many(path: str, seconds: int) -> Response:
    detail = (
        f"Terlalu banyak permintaan dari alamat Anda dalam satu menit; coba lagi dalam "
        f"{seconds} detik."
    )
    response: Response
    if path.startswith("/api/"):
        response = error_response(429, ErrorOut(error="TooManyRequests", detail=detail))
    else:
        response = HTMLResponse(
            '<!doctype html><html lang="id"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Terlalu banyak permintaan</title><main><h1>Terlalu banyak permintaan</h1>"
            f"<p>{detail}</p></main></html>",
            status_code=429,
        )
    response.headers["Retry-After"] = str(seconds)
    return response
