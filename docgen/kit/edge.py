"""What every response and request goes through first: security headers, and the refusal of
requests whose length is ambiguous."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgen.errors import ErrorOut
from docgen.kit.error_bodies import error_response

__all__ = ["PAGE_POLICY", "EdgeHeaders"]

# The pages load only docgen's own scripts, styles and images (styles may be inline: the public
# pages carry theirs in the page); no page may be framed (clickjacking), no form posts elsewhere.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Every response: no MIME sniffing, and no address (verification codes are in them) sent to
# another site.
COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PAGE = {"Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}


class EdgeHeaders:
    """Security headers on every response (an HTML page's own ``Content-Security-Policy``
    stays), and a 400 that closes the connection for a request carrying both
    ``Content-Length`` and ``Transfer-Encoding``, whose end a proxy and the server could see
    differently (request smuggling, RFC 9112 section 6.1)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in scope["headers"]}
        if b"content-length" in names and b"transfer-encoding" in names:
            response = error_response(
                400,
                ErrorOut(
                    error="AmbiguousRequest",
                    detail="Permintaan memuat Content-Length dan Transfer-Encoding sekaligus",
                ),
            )
            response.headers["Connection"] = "close"
            await response(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in PAGE.items():
                        headers.setdefault(name, value)
            await send(message)

        return sending
