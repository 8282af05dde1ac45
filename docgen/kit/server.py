"""The HTTP server every docgen process runs (API, converter node): uvicorn on httptools and
uvloop, with deadlines for receiving a request.

httptools (llhttp, in C) and uvloop are uvicorn's fast pair (``uvicorn[standard]``): a public
read kept in memory cost 0.55 ms of the service's CPU on uvicorn's pure-Python h11 protocol
and the asyncio loop, 0.29 ms on them (bench/verify_load.py; CPU time of the service over
wrk's requests).

uvicorn closes a connection that stays idle *after* a response (``timeout_keep_alive``), but
nothing bounds the time a client takes to send a request: a fresh connection that sends nothing,
or a request head trickled a byte at a time (slowloris), stays open for good. Tried on a service
of ours: 500 such connections stayed open. Its own issue for these timeouts
(Kludex/uvicorn#157, "--timeout-request-start") is still open, so the protocol here adds them:
the head of a request must arrive within ``head_seconds`` of the connection (or of the previous
response), its body within ``body_seconds`` after the head; otherwise the connection is closed.
Once a request is whole, nothing here limits the time the app takes to answer it.

A request httptools refuses (malformed; or with both Content-Length and Transfer-Encoding,
whose end a proxy and the server could see differently: request smuggling, RFC 9112 section
6.1) gets 400 with our error body in Bahasa Indonesia, and its connection is closed.

It subclasses uvicorn's httptools protocol, extends five of its methods (each calling the
original) and replaces its plain-text 400; uvicorn's version is pinned in uv.lock and
tests/test_edge.py breaks if they change.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from docgen.errors import ErrorOut
from docgen.kit.edge import COMMON

__all__ = ["DeadlineProtocol", "server_config"]

HEAD_SECONDS = 10.0
INVALID_REQUEST = (
    "Permintaan HTTP tidak sah (misalnya memuat Content-Length dan Transfer-Encoding sekaligus)"
)
BODY_SECONDS = 120.0


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines for the request head and body (seconds,
    from the config that ``server_config`` made)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_seconds: float = getattr(self.config, "docgen_head_seconds", HEAD_SECONDS)
        self.body_seconds: float = getattr(self.config, "docgen_body_seconds", BODY_SECONDS)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("head")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm("body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer when nothing pipelined waits: the next head is due.
        if self.timeout_keep_alive_task is not None:
            self._arm("head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = ErrorOut(error="InvalidHttpRequest", detail=INVALID_REQUEST)
        content = body.model_dump_json(exclude_none=True).encode()
        headers = {
            **COMMON,
            "Content-Type": "application/json",
            "Content-Length": str(len(content)),
            "Connection": "close",
        }
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.transport.write(f"HTTP/1.1 400 Bad Request\r\n{head}\r\n".encode() + content)
        self.transport.close()

    def _arm(self, part: Literal["head", "body"]) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        seconds = self.head_seconds if part == "head" else self.body_seconds
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        self.logger.info("connection closed: request not received in time (%s)", self.client)
        if not self.transport.is_closing():
            self.transport.close()


def server_config(
    app: Any,
    *,
    head_seconds: float = HEAD_SECONDS,
    body_seconds: float = BODY_SECONDS,
    **options: Any,
) -> uvicorn.Config:
    """``uvicorn.Config`` for ``app`` (an app, or an import string) with the deadline protocol.

    The deadlines travel on the config, which ``--workers`` hands to each process.
    """
    config = uvicorn.Config(app, http=DeadlineProtocol, loop="uvloop", **options)
    config.docgen_head_seconds = head_seconds  # type: ignore[attr-defined]
    config.docgen_body_seconds = body_seconds  # type: ignore[attr-defined]
    return config
