"""What every request meets first: security headers on every answer, a request with both
Content-Length and Transfer-Encoding refused, and deadlines for receiving a request, so slow or
idle connections (slowloris) do not stay open."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import anyio
import httpx
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from docgen.app import API_DOCS_POLICY
from docgen.kit.edge import PAGE_POLICY
from docgen.kit.server import INVALID_REQUEST, DeadlineProtocol, server_config
from tests.conftest import Service

REPO = Path(__file__).resolve().parent.parent


def test_every_answer_carries_security_headers(anonymous: httpx.Client) -> None:
    for path in ("/v", "/masuk", "/v/" + "0" * 12):  # public pages, the login, a 404 page
        page = anonymous.get(path)
        assert page.headers["content-type"].startswith("text/html"), path
        assert page.headers["content-security-policy"] == PAGE_POLICY, path
        assert "frame-ancestors 'none'" in PAGE_POLICY and "script-src 'self';" in PAGE_POLICY
        assert page.headers["x-frame-options"] == "DENY", path
        assert page.headers["x-content-type-options"] == "nosniff", path
        assert page.headers["referrer-policy"] == "no-referrer", path
    api = anonymous.get("/api/v1/verify/" + "0" * 12)
    assert api.status_code == 404 and api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers
    docs = anonymous.get("/docs")  # keeps its own policy (its scripts start inline)
    assert docs.headers["content-security-policy"] == API_DOCS_POLICY
    assert docs.headers["x-frame-options"] == "DENY"


def test_every_script_of_the_pages_is_a_file() -> None:
    # The pages' policy runs no inline script: an inline one would silently do nothing.
    templates = [*(REPO / "docgen").rglob("*.html")]
    assert templates
    for template in templates:
        text = template.read_text(encoding="utf-8")
        for start in range(text.count("<script")):
            tag = text.split("<script")[start + 1].split(">", 1)[0]
            assert " src=" in tag, f"{template.name}: inline <script{tag}>"


def _address(url: str) -> tuple[str, int]:
    parts = urlparse(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket.timeout if it
    never does)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_both_content_length_and_transfer_encoding_are_refused(service: Service) -> None:
    request = (
        b"POST /api/v1/verify HTTP/1.1\r\nHost: docgen\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with socket.create_connection(_address(service.url), timeout=30) as sock:
        sock.sendall(request)
        answer = _until_closed(sock)  # and the connection is closed
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head
    assert json.loads(body) == {"error": "InvalidHttpRequest", "detail": INVALID_REQUEST}
    assert "Transfer-Encoding sekaligus" in INVALID_REQUEST


def test_the_service_closes_a_connection_that_sends_no_request(service: Service) -> None:
    # The service's deadline for a request head (DOCGEN_REQUEST_HEAD_SECONDS, 10 s by default).
    with socket.create_connection(_address(service.url), timeout=60) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: docgen\r\n")  # and never the blank line
        assert _until_closed(sock) == b""


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body, then answers."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def _server(head_seconds: float, body_seconds: float) -> Iterator[tuple[str, int]]:
    """A real uvicorn server with the deadline protocol on a free port, in a thread."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = server_config(
        _hello,
        host="127.0.0.1",
        port=port,
        head_seconds=head_seconds,
        body_seconds=body_seconds,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    with anyio.from_thread.start_blocking_portal() as portal:
        running = portal.start_task_soon(server.serve)
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        try:
            yield "127.0.0.1", port
        finally:
            server.should_exit = True
            running.result(timeout=30)


def test_slow_and_idle_connections_are_closed_and_whole_requests_served() -> None:
    assert issubclass(DeadlineProtocol, HttpToolsProtocol)  # uvicorn's httptools protocol, extended
    with _server(head_seconds=1.0, body_seconds=2.0) as address:
        idle = [socket.create_connection(address, timeout=20) for _ in range(20)]
        trickling = [socket.create_connection(address, timeout=20) for _ in range(20)]
        slow_body = socket.create_connection(address, timeout=20)
        slow_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        for sock in trickling:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        # A header line a byte at a time, for longer than the head's deadline.
        for byte in b"X-Lambat: 1234":
            for sock in trickling:
                with contextlib.suppress(OSError):  # closed already
                    sock.sendall(bytes([byte]))
            time.sleep(0.2)
        for sock in [*idle, *trickling, slow_body]:
            assert _until_closed(sock) == b""
            sock.close()
        # A request sent whole is answered.
        with socket.create_connection(address, timeout=20) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"\r\n\r\nok"):
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok")
            # Kept alive after the answer: the next request gets the head's deadline again.
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            assert _until_closed(sock) == b""
