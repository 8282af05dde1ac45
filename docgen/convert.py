"""DOCX -> PDF with LibreOffice kept warm behind unoserver.

unoserver must run under the system Python that has the ``uno`` module, so each server is a
child process of that interpreter with our venv's ``unoserver`` package on its path. We talk to
it over XML-RPC ourselves (the stock client has no timeout), one request per server at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio
import unoserver

from docgen.errors import ConversionFailed

log = logging.getLogger(__name__)


class Converter(Protocol):
    async def to_pdf(self, docx: bytes) -> bytes:
        """Convert a DOCX document; raises ConversionFailed."""
        ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):  # type: ignore[no-untyped-def]
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


@dataclass
class _UnoServer:
    """One unoserver + soffice pair on loopback ports."""

    workdir: Path
    python: str
    port: int = field(default_factory=free_port)
    uno_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float) -> None:
        if shutil.which("soffice") is None:
            raise ConversionFailed("LibreOffice (soffice) is not installed; run `make setup`")
        profile = self.workdir / f"profile-{self.port}"
        env = dict(os.environ)
        # Only the unoserver package is needed from our venv; the system Python supplies uno.
        env["PYTHONPATH"] = str(Path(unoserver.__file__).resolve().parent.parent)
        log_file = open(self.workdir / f"unoserver-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                self.python,
                "-m",
                "unoserver.server",
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--uno-interface",
                "127.0.0.1",
                "--uno-port",
                str(self.uno_port),
                "--user-installation",
                str(profile.resolve()),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConversionFailed(f"unoserver exited on start; see {self.workdir}")
            try:
                self._proxy(5).info()
                return
            except (OSError, xmlrpc.client.Error):
                time.sleep(0.2)
        self.stop()
        raise ConversionFailed(f"unoserver did not start within {timeout:.0f} s")

    def _proxy(self, timeout: float) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(
            f"http://127.0.0.1:{self.port}", transport=_TimeoutTransport(timeout), allow_none=True
        )

    def convert(self, docx: bytes, timeout: float) -> bytes:
        # unoserver's XML-RPC arguments: inpath, indata, outpath, convert_to, filtername,
        # filter_options, update_index (no index to update here), infiltername, password.
        result = self._proxy(timeout).convert(
            None, docx, None, "pdf", "writer_pdf_Export", [], False, None, None
        )
        if not isinstance(result, xmlrpc.client.Binary):
            raise ConversionFailed("LibreOffice returned no PDF")
        return bytes(result.data)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # soffice is a grandchild: signal the whole session we started. oosplash can linger
        # after SIGTERM; the profile is disposable, so don't wait long before SIGKILL.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass


class UnoserverPool:
    """A fixed number of warm LibreOffice servers; each converts one document at a time."""

    def __init__(self, workdir: Path, *, size: int = 1, python: str, timeout: float = 60) -> None:
        self._workdir = workdir
        self._timeout = timeout
        self._servers = [_UnoServer(workdir, python) for _ in range(size)]
        self._idle: list[_UnoServer] = []
        self._available: anyio.Semaphore | None = None

    def start(self, timeout: float = 90) -> None:
        """Start every server and wait until each answers; raises ConversionFailed."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        for server in self._servers:
            server.start(timeout)
        self._idle = list(self._servers)
        self._available = anyio.Semaphore(len(self._servers))

    def stop(self) -> None:
        for server in self._servers:
            server.stop()

    async def to_pdf(self, docx: bytes) -> bytes:
        """Convert one DOCX; raises ConversionFailed (and restarts a server that failed)."""
        if self._available is None:
            raise ConversionFailed("converter is not started")
        async with self._available:
            server = self._idle.pop()
            try:
                return await anyio.to_thread.run_sync(server.convert, docx, self._timeout)
            except xmlrpc.client.Fault as exc:
                raise ConversionFailed(
                    f"LibreOffice could not convert the document: {exc}"
                ) from exc
            except (OSError, xmlrpc.client.ProtocolError) as exc:
                # A timeout or a dead soffice: start it afresh so the next document works.
                log.warning("unoserver :%s failed, restarting it: %s", server.port, exc)
                await anyio.to_thread.run_sync(self._restart, server)
                raise ConversionFailed(f"LibreOffice did not answer: {exc}") from exc
            finally:
                self._idle.append(server)

    def _restart(self, server: _UnoServer) -> None:
        server.stop()
        server.start(90)
