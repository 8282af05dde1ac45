"""A cap on request bodies, so no client can make the service buffer an endless upload."""

from __future__ import annotations

import json

from fastapi import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgen.errors import UploadTooLarge

# The fields a form may have (Starlette's default is 1,000): a document's form carries every row
# of its lists, four or five fields each, and a manifest's list may hold up to 500 items (a
# list filled from a file, up to bulk's 5,000 rows). The body's size is bounded apart
# (BodySizeLimit); this only bounds how many pieces it is cut into.
MAX_FORM_FIELDS = 30_000


def refuse_oversized(what: str, data: bytes, limit: int) -> None:
    """Raises UploadTooLarge (413) when an upload is over ``limit`` bytes."""
    if len(data) > limit:
        raise UploadTooLarge(f"{what} melebihi batas {limit / 2**20:g} MiB")


class BodySizeLimit:
    """Refuse bodies over ``limit`` bytes: at once by Content-Length, else while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if not started and not refused:
                        refused = True
                        await self._refuse(send)
                    raise UploadTooLarge(self._detail())
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # we already answered 413; drop what the app makes of the cut-off body
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except UploadTooLarge:
            if not started and not refused:
                await self._refuse(send)

    def _detail(self) -> str:
        return f"Permintaan melebihi batas {self.limit // 2**20} MiB"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": "UploadTooLarge", "detail": self._detail()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """An uploaded file's bytes, at most ``limit`` + 1 of them: one byte past the limit is
    enough for ``refuse_oversized`` to refuse it."""
    return await file.read(limit + 1)
