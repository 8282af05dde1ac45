"""The HTTP server every docgen process runs (API, converter node): uvicorn with deadlines for
receiving a request.

uvicorn closes a connection that stays idle *after* a response (``timeout_keep_alive``), but
nothing bounds the time a client takes to send a request: a fresh connection that sends nothing,
or a request head trickled a byte at a time (slowloris), stays open for good. Tried on a service
of ours: 500 such connections stayed open. Its own issue for these timeouts
(Kludex/uvicorn#157, "--timeout-request-start") is still open, so the protocol here adds them:
the head of a request must arrive within ``head_seconds`` of the connection (or of the previous
response), its body within ``body_seconds`` after the head; otherwise the connection is closed.
Once a request is whole, nothing here limits the time the app takes to answer it.

It subclasses uvicorn's h11 protocol and overrides four of its methods, each calling the
original; uvicorn's version is pinned in uv.lock and tests/test_edge.py breaks if they change.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DeadlineH11Protocol", "server_config"]

# Reading the request (its head, then its body) is what the deadlines cover.
_RECEIVING = (h11.IDLE, h11.SEND_BODY)
HEAD_SECONDS = 10.0
BODY_SECONDS = 120.0


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines for the request head and body (seconds, from the
    config that ``server_config`` made)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_seconds: float = getattr(self.config, "docgen_head_seconds", HEAD_SECONDS)
        self.body_seconds: float = getattr(self.config, "docgen_body_seconds", BODY_SECONDS)
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_for: Any = None  # the h11 state the running deadline covers

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Arm the deadline of what the client is sending now, keep a running one, or disarm
        it once the request is whole."""
        state = self.conn.their_state
        if state not in _RECEIVING or self.transport.is_closing():
            self._disarm()
            return
        if self._deadline is not None and self._deadline_for is state:
            return
        self._disarm()
        seconds = self.head_seconds if state is h11.IDLE else self.body_seconds
        self._deadline = self.loop.call_later(seconds, self._expired)
        self._deadline_for = state

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_for = None

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
    config = uvicorn.Config(app, http=DeadlineH11Protocol, **options)
    config.docgen_head_seconds = head_seconds  # type: ignore[attr-defined]
    config.docgen_body_seconds = body_seconds  # type: ignore[attr-defined]
    return config
