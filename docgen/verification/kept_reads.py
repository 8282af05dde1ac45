"""The two public reads by code answered straight from the view this process keeps.

A QR code scanned by many phones at once asks for the same view again and again; while
:class:`~docgen.verification.service.PublicViews` keeps it, the answer is bytes already made.
Going through FastAPI for them (matching the path against every route of the API and the
office, solving the route's dependencies, a Response object, two more layers of middleware)
took most of the ~1.6 ms of CPU a read cost. This middleware sits inside the rate limits and the
security headers and answers ``GET /api/v1/verify/{code}`` and ``GET /v/{code}`` itself when
the view is kept: the same status, body and content type as the routes give. Anything else, a
view not kept (first read, expired, unknown code) included, goes on to the routes, which read
the registry and keep the view.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["KeptReads"]

_READ = re.compile(r"/(?:(api/v1/verify)|v)/([^/]+)")
_JSON = b"application/json"
_HTML = b"text/html; charset=utf-8"


class KeptReads:
    """ASGI middleware: kept views by code, answered without the routes (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        read = _READ.fullmatch(scope["path"]) if scope["type"] == "http" else None
        parts = getattr(scope["app"].state, "parts", None) if read else None
        if read is None or scope["method"] != "GET" or parts is None:
            await self.app(scope, receive, send)
            return
        kept = parts.public_views.kept(read[2])
        if kept is None:
            await self.app(scope, receive, send)
            return
        if read[1]:
            body, content_type = kept.json(), _JSON
        else:
            body, content_type = kept.page(scope["app"].state.pages.verify), _HTML
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", content_type),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
