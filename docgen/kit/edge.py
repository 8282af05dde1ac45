"""What every response goes through last: security headers. (A request whose length is
ambiguous never reaches the app: see ``docgen.kit.server``.)"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COMMON", "PAGE_POLICY", "EdgeHeaders"]

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
    stays)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
