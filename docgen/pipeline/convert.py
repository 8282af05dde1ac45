"""DOCX -> PDF with LibreOffice kept warm behind unoserver, one by one or many per call.

unoserver must run under the system Python that has the ``uno`` module, so each server is a
child process of that interpreter with our venv's ``unoserver`` package on its path. We talk to
it over XML-RPC ourselves (the stock client has no timeout), one request per server at a time.
The documents themselves go through files in our working directory, not through XML-RPC.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
import xmlrpc.client
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import anyio
import unoserver

import signing.fast
from docgen.errors import ConversionFailed
from docgen.pipeline.fast.merge import (
    NotMergeable,
    ParsedDocx,
    merge_docx,
    parse_docx,
    start_bookmark,
)
from docgen.pipeline.fast.split import SplitFailed, page_counts, split_pdf
from docgen.settings import Settings

log = logging.getLogger(__name__)


# Chunk size of merged conversions, chosen by measurement (bench/convert_many.py, 1,000 pakta
# integritas on this 2-core machine): LibreOffice CPU per document is 0.10 s one by one, and
# merged 0.013 s by 25, 0.010-0.011 s by 50, 0.009-0.011 s by 100, 0.010-0.011 s by 200. With two
# servers that is ~0.007 s of wall time per document. Larger chunks gain nothing more and cost
# more when a chunk has to be redone one by one.
DEFAULT_BATCH_SIZE = 100
# A merged call may take this much longer than a single one, per document it holds.
BATCH_SECONDS_PER_DOCUMENT = 2.0
# Bookmarks become named destinations: the split finds each document's first page by them.
MERGED_FILTER_OPTIONS = ("ExportBookmarksToPDFDestination=true",)


class Converter(Protocol):
    async def to_pdf(self, docx: bytes) -> bytes:
        """Convert a DOCX document; raises ConversionFailed."""
        ...

    async def to_pdfs(self, docxs: Sequence[bytes]) -> list[bytes]:
        """Convert several DOCX documents made from the same template in as few LibreOffice
        calls as sensible; result[i] is the PDF of docxs[i], equal in page count and text to
        what to_pdf(docxs[i]) gives.

        Raises ConversionFailed; BatchConversionFailed (a subclass) when only some documents
        failed: it names them and carries the PDFs of the others.
        """
        ...


class ServingConverter(Converter, Protocol):
    """A converter an instance runs on: LibreOffice of its own (:class:`UnoserverPool`) or a
    farm of converter nodes (``docgen.converter.remote.RemoteConverter``)."""

    async def listening(self) -> bool:
        """Whether it takes conversions now; answers within seconds (for /readyz)."""
        ...


class BatchConversionFailed(ConversionFailed):
    """Some documents of a batch could not be converted; the others were.

    ``failures`` maps the index of each failed document to its error; ``pdfs[i]`` is the PDF of
    document ``i``, or None where it failed.
    """

    def __init__(self, failures: dict[int, ConversionFailed], pdfs: list[bytes | None]) -> None:
        indices = sorted(failures)
        shown = ", ".join(str(i) for i in indices[:20]) + (", ..." if len(indices) > 20 else "")
        super().__init__(f"{len(indices)} of {len(pdfs)} documents could not be converted: {shown}")
        self.failures = failures
        self.pdfs = pdfs


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


PID_FILE = "servers.pid"
# Where documents wait for LibreOffice and its PDFs for us, one pair of files per call.
EXCHANGE_DIR = "exchange"
TEMP_PREFIX = "tmp-"  # + port: the temporary files of one soffice

# Settings for each server's fresh profile.
#
# First, nothing outside a document is loaded while converting it: a DOCX can name an image by
# an address instead of holding it (``a:blip r:link``, in the body or a header), and LibreOffice
# 7.4 fetched it (http://, file:// and paths relative to the document alike) into the PDF.
# Uploads refuse such templates (``docgen.templating.external``); this stops the fetch for any
# DOCX, e.g. a template stored before that check. ``BlockUntrustedRefererLinks`` makes
# LibreOffice refuse every link whose referer, the document, is outside the trusted locations
# (``SecureURL``, set empty so no location is trusted); tested in test_template_upload. A proxy
# to nowhere (``ooInetProxyType``) stopped only http, not file://; ``UseLocking`` is about lock
# files and changes nothing here. The field codes (INCLUDEPICTURE, INCLUDETEXT, LINK), VML
# images, subDocument, attachedTemplate, linked OLE objects and altChunk were loaded by none
# of the tried configurations, these settings included.
#
# Then interactive features that cost LibreOffice CPU while a document is open and change nothing
# in its PDF. Measured on 100 berita acara merged (perf): the status bar's word count (its idle
# statistics job counts every word) took 5-8 % of the LibreOffice CPU, collecting words for
# autocompletion ~4 %. Online spelling is off too.
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="SecureURL" oor:op="fuse"><value/></prop></item>
<item oor:path="/org.openoffice.Office.Writer/AutoFunction/Completion">\
<prop oor:name="Enable" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/AutoFunction/Completion">\
<prop oor:name="CollectWords" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Linguistic/SpellChecking">\
<prop oor:name="IsSpellAuto" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.UI.WriterWindowState/UIElements/States">\
<node oor:name="private:resource/statusbar/statusbar" oor:op="replace">\
<prop oor:name="Visible" oor:op="fuse"><value>false</value></prop></node></item>
</oor:items>
"""


def _prepare_profile(profile: Path) -> None:
    """Give a new LibreOffice profile our settings (LibreOffice adds its own on first start)."""
    settings = profile / "user" / "registrymodifications.xcu"
    if not settings.exists():
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(PROFILE_SETTINGS, encoding="utf-8")


START_ATTEMPTS = 3


class _ExitedOnStart(ConversionFailed):
    """unoserver (or the soffice behind it) ended before it answered."""


@dataclass
class _UnoServer:
    """One unoserver + soffice pair on loopback ports."""

    workdir: Path
    python: str
    port: int = field(default_factory=free_port)
    uno_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float) -> None:
        """Start the pair and wait until it answers; raises ConversionFailed.

        A pair that exits while starting is started again on fresh ports, twice at most: seen
        on a loaded machine as soffice dying before its bridge was up ("Binary URP bridge
        disposed"), and a port picked free can be taken before unoserver binds it."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._launch(timeout)
                return
            except _ExitedOnStart:
                if attempt == START_ATTEMPTS:
                    raise
                log.warning("unoserver :%s exited on start, trying fresh ports", self.port)
                self.stop()
                self.port, self.uno_port = free_port(), free_port()

    def _launch(self, timeout: float) -> None:
        if shutil.which("soffice") is None:
            raise ConversionFailed("LibreOffice (soffice) is not installed; run `make setup`")
        profile = self.workdir / f"profile-{self.port}"
        _prepare_profile(profile)
        env = dict(os.environ)
        # LibreOffice's temporary files beside its profile: they go with it (see stop()).
        env["TMPDIR"] = str(self._temp_dir())
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
            # Its own directory: a stray uno.py in the caller's directory would shadow `uno`.
            cwd=self.workdir,
            start_new_session=True,
        )
        log_file.close()
        # Its process group, for the next start should this service be killed without stop().
        with (self.workdir / PID_FILE).open("a", encoding="ascii") as groups:
            groups.write(f"{self.process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise _ExitedOnStart(f"unoserver exited on start; see {self.workdir}")
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

    def convert(self, docx: bytes, timeout: float, filter_options: Sequence[str] = ()) -> bytes:
        # By file paths, as the server runs beside us: as XML-RPC data, a merged chunk (~2 MB of
        # DOCX, ~2 MB of PDF) was base64-encoded and parsed out of XML on both sides, which cost
        # the service ~3 ms of CPU per document (unoserver writes a temporary file either way).
        exchange = self.workdir / EXCHANGE_DIR
        exchange.mkdir(mode=0o700, exist_ok=True)
        name = uuid.uuid4().hex
        source, target = exchange / f"{name}.docx", exchange / f"{name}.pdf"
        try:
            source.write_bytes(docx)
            # unoserver's XML-RPC arguments: inpath, indata, outpath, convert_to, filtername,
            # filter_options, update_index (no index to update here), infiltername, password.
            self._proxy(timeout).convert(
                str(source),
                None,
                str(target),
                None,
                "writer_pdf_Export",
                list(filter_options),
                False,
                None,
                None,
            )
            try:
                return target.read_bytes()
            except FileNotFoundError:
                raise ConversionFailed("LibreOffice returned no PDF") from None
        finally:
            source.unlink(missing_ok=True)
            target.unlink(missing_ok=True)

    def responsive(self) -> bool:
        """Whether unoserver and the soffice behind it answer (``info`` asks LibreOffice)."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            self._proxy(10).info()
        except (OSError, xmlrpc.client.Error):
            return False
        return True

    def listening(self) -> bool:
        """Whether unoserver runs and takes connections: asked without a request, so the
        answer never waits behind a conversion (unoserver serves one call at a time)."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _temp_dir(self) -> Path:
        temp = self.workdir / f"{TEMP_PREFIX}{self.port}"
        temp.mkdir(mode=0o700, exist_ok=True)
        return temp

    def stop(self) -> None:
        """Kill the pair and remove its temporary files.

        soffice is a grandchild: the whole session we started gets SIGKILL at once. Asked with
        SIGTERM, soffice took 2-3 s to end (and oosplash ignores it), seconds every stop and
        restart waited for; nothing of the pair outlives it: the profile is disposable and its
        temporary files are in its own directory."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        shutil.rmtree(self.workdir / f"{TEMP_PREFIX}{self.port}", ignore_errors=True)


@dataclass
class ServerStats:
    """What one LibreOffice server of a pool has done (for monitoring)."""

    port: int
    conversions: int = 0  # LibreOffice calls; a merged batch counts once
    documents: int = 0  # documents those calls held


class UnoserverPool:
    """A fixed number of warm LibreOffice servers; each converts one document at a time.

    ``to_pdfs`` converts many documents merged into few LibreOffice calls, ``batch_size``
    documents at most per call, spread over all servers at once (see :meth:`to_pdfs`).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        size: int = 1,
        python: str,
        timeout: float = 60,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._workdir = workdir
        self._timeout = timeout
        self.batch_size = batch_size
        self._servers = [_UnoServer(workdir, python) for _ in range(size)]
        self._stats = {id(server): ServerStats(server.port) for server in self._servers}
        self._idle: list[_UnoServer] = []
        self._available: anyio.Semaphore | None = None
        self._busy = 0
        self.peak_busy = 0  # the most servers converting at the same time so far

    def start(self, timeout: float = 90) -> None:
        """Start every server and wait until each answers; raises ConversionFailed.

        Servers that a killed service left running on this workdir are stopped first, and
        what they left behind is removed: documents in the exchange directory and the profiles
        (each server starts with a new one, named after its port).
        """
        self._workdir.mkdir(parents=True, exist_ok=True)
        _stop_orphans(self._workdir / PID_FILE, self._workdir)
        for leftover in [
            self._workdir / EXCHANGE_DIR,
            *self._workdir.glob("profile-*"),
            *self._workdir.glob(f"{TEMP_PREFIX}*"),
        ]:
            shutil.rmtree(leftover, ignore_errors=True)
        # Side by side: unoserver waits a fixed 5 s for soffice before it serves, so servers
        # started one after the other cost 5 s each.
        with ThreadPoolExecutor(len(self._servers)) as starting:
            for started in [starting.submit(server.start, timeout) for server in self._servers]:
                started.result()
        self._idle = list(self._servers)
        self._available = anyio.Semaphore(len(self._servers))

    def stop(self) -> None:
        # Side by side as well: each waits up to seconds for its soffice to end.
        with ThreadPoolExecutor(len(self._servers)) as stopping:
            for stopped in [stopping.submit(server.stop) for server in self._servers]:
                stopped.result()
        (self._workdir / PID_FILE).unlink(missing_ok=True)

    @property
    def workdir(self) -> Path:
        """Where the servers keep their profiles and logs (``unoserver-<port>.log``)."""
        return self._workdir

    async def listening(self) -> bool:
        """Whether one of its servers at least takes conversions (see
        ``_UnoServer.listening``; asked in a thread)."""
        return await anyio.to_thread.run_sync(
            lambda: any(server.listening() for server in self._servers)
        )

    def stats(self) -> list[ServerStats]:
        """Per server: how many LibreOffice calls and documents it has converted."""
        return [replace(self._stats[id(server)], port=server.port) for server in self._servers]

    async def to_pdf(self, docx: bytes) -> bytes:
        """Convert one DOCX; raises ConversionFailed (and restarts a server that failed)."""
        return await self._convert(docx, documents=1, timeout=self._timeout)

    async def to_pdfs(self, docxs: Sequence[bytes]) -> list[bytes]:
        """Convert DOCX documents made from one template in as few LibreOffice calls as sensible.

        ``result[i]`` is the PDF of ``docxs[i]``, equal in pages and text to ``to_pdf(docxs[i])``.
        The documents are cut into consecutive chunks of at most ``batch_size`` (at least one per
        server, so all servers work at once); each chunk is merged into one DOCX
        (``docgen.pipeline.fast.merge``), converted in one call and split at the document boundaries
        (``docgen.pipeline.fast.split``); a chunk whose documents show NUMPAGES ("Halaman X dari Y")
        is converted twice, the second time with each document's own page total written in. A
        document that cannot be merged (not a readable DOCX, a field such as SEQ or TOC that depends
        on the whole file, a template of its own) is converted on its own, and so is every document
        of a chunk whose merged conversion or split fails, so one bad document
        costs its chunk time but never the other documents.

        With the fast paths switched off (``signing.fast.use(False)``) every document is
        converted on its own (``to_pdf``), all servers at once: no merge, no split.

        Raises:
            BatchConversionFailed: some documents could not be converted; it names them by index
                and carries the PDFs of all the others.
            ConversionFailed: the converter is not started.
        """
        if self._available is None:
            raise ConversionFailed("converter is not started")
        results: list[bytes | None] = [None] * len(docxs)
        failures: dict[int, ConversionFailed] = {}
        if signing.fast.enabled():
            chunks = _chunks(len(docxs), self.batch_size, len(self._servers))
            queue = iter(chunks)

            async def worker() -> None:
                for chunk in queue:
                    await self._convert_chunk(docxs, chunk, results, failures)

            # One worker more than servers: while the servers convert, the next chunk is merged.
            async with anyio.create_task_group() as tg:
                for _ in range(min(len(chunks), len(self._servers) + 1)):
                    tg.start_soon(worker)
        else:
            await self._convert_each(docxs, range(len(docxs)), results, failures)
        if failures:
            raise BatchConversionFailed(failures, results)
        return [pdf for pdf in results if pdf is not None]

    async def _convert_chunk(
        self,
        docxs: Sequence[bytes],
        chunk: range,
        results: list[bytes | None],
        failures: dict[int, ConversionFailed],
    ) -> None:
        batches, alone = await anyio.to_thread.run_sync(_merge_chunk, docxs, chunk)
        for batch in batches:
            try:
                pdfs = await self._convert_batch(docxs, batch)
            except (ConversionFailed, SplitFailed, NotMergeable) as exc:
                log.warning(
                    "merged conversion of documents %d-%d failed, converting them one by one: %s",
                    batch.indices[0],
                    batch.indices[-1],
                    exc,
                )
                alone.extend(batch.indices)
                continue
            for index, pdf in zip(batch.indices, pdfs, strict=True):
                results[index] = pdf
        await self._convert_each(docxs, sorted(alone), results, failures)

    async def _convert_each(
        self,
        docxs: Sequence[bytes],
        indices: Sequence[int],
        results: list[bytes | None],
        failures: dict[int, ConversionFailed],
    ) -> None:
        """Convert the documents at ``indices`` one per LibreOffice call, as many at once as
        there are servers; each PDF goes to ``results``, each error to ``failures``."""

        async def convert_alone(index: int) -> None:
            try:
                results[index] = await self.to_pdf(docxs[index])
            except ConversionFailed as exc:
                failures[index] = exc

        async with anyio.create_task_group() as tg:
            for index in indices:
                tg.start_soon(convert_alone, index)

    async def _convert_batch(self, docxs: Sequence[bytes], batch: _Batch) -> list[bytes]:
        """The PDFs of a merged batch; raises ConversionFailed, SplitFailed, NotMergeable."""
        count = len(batch.indices)
        starts = [start_bookmark(n) for n in range(count)]
        timeout = self._timeout + BATCH_SECONDS_PER_DOCUMENT * count
        pdf = await self._convert(
            batch.merged, documents=count, timeout=timeout, filter_options=MERGED_FILTER_OPTIONS
        )
        if batch.page_totals:
            # NUMPAGES counted the whole file: now that each document's page count is known,
            # write those in and convert again (still far cheaper than one call per document).
            totals = await anyio.to_thread.run_sync(page_counts, pdf, starts)
            merged = await anyio.to_thread.run_sync(_merge_again, docxs, batch.indices, totals)
            pdf = await self._convert(
                merged, documents=count, timeout=timeout, filter_options=MERGED_FILTER_OPTIONS
            )
            if await anyio.to_thread.run_sync(page_counts, pdf, starts) != totals:
                raise SplitFailed("the page totals changed the documents' page counts")
        return await anyio.to_thread.run_sync(split_pdf, pdf, starts)

    async def _convert(
        self,
        docx: bytes,
        *,
        documents: int,
        timeout: float,
        filter_options: Sequence[str] = (),
    ) -> bytes:
        if self._available is None:
            raise ConversionFailed("converter is not started")
        async with self._available:
            server = self._idle.pop()
            self._busy += 1
            self.peak_busy = max(self.peak_busy, self._busy)
            stats = self._stats[id(server)]
            try:
                pdf = await anyio.to_thread.run_sync(server.convert, docx, timeout, filter_options)
                stats.conversions += 1
                stats.documents += documents
                return pdf
            except xmlrpc.client.Fault as exc:
                # LibreOffice refused the document, or soffice died behind a live unoserver
                # (then every call faults): ask the server, and restart it if it is the latter.
                if not await anyio.to_thread.run_sync(server.responsive):
                    log.warning("soffice behind unoserver :%s is gone, restarting", server.port)
                    await anyio.to_thread.run_sync(self._restart, server)
                raise ConversionFailed(
                    f"LibreOffice could not convert the document: {exc}"
                ) from exc
            except (OSError, xmlrpc.client.ProtocolError) as exc:
                # A timeout or a dead soffice: start it afresh so the next document works.
                log.warning("unoserver :%s failed, restarting it: %s", server.port, exc)
                await anyio.to_thread.run_sync(self._restart, server)
                raise ConversionFailed(f"LibreOffice did not answer: {exc}") from exc
            finally:
                self._busy -= 1
                self._idle.append(server)

    def _restart(self, server: _UnoServer) -> None:
        server.stop()
        server.start(90)


def local_pool(settings: Settings) -> UnoserverPool:
    """The LibreOffice pool of this process's settings (not started), in data_dir/converter."""
    return UnoserverPool(
        settings.data_dir / "converter",
        size=settings.converter_workers,
        python=settings.uno_python,
        timeout=settings.converter_timeout,
    )


def _stop_orphans(pid_file: Path, workdir: Path) -> None:
    """SIGKILL what is left of the process groups in ``pid_file`` (unoserver, soffice,
    oosplash): only processes of those groups whose command line names ``workdir``."""
    try:
        groups = {int(line) for line in pid_file.read_text(encoding="ascii").split()}
    except (OSError, ValueError):
        groups = set()
    marker = str(workdir.resolve()).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            group = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if group in groups and marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def _chunks(count: int, batch_size: int, servers: int) -> list[range]:
    """Consecutive ranges of at most ``batch_size``, a multiple of ``servers`` of them if the
    documents allow, of nearly equal length (so the servers finish together)."""
    if count == 0:
        return []
    chunks = max(-(-count // batch_size), min(servers, count))
    if chunks > servers:
        chunks = min(count, -(-chunks // servers) * servers)
    bounds = [count * i // chunks for i in range(chunks + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@dataclass(frozen=True)
class _Batch:
    indices: list[int]  # of the documents in the merged DOCX, in order
    merged: bytes
    page_totals: bool  # some document shows NUMPAGES: convert twice (see _convert_batch)


def _merge_chunk(docxs: Sequence[bytes], chunk: range) -> tuple[list[_Batch], list[int]]:
    """Merge a chunk's documents, those of one template together (blocking: run in a thread).

    Returns the merged batches of at least two documents, and the indices of the documents to
    convert on their own.
    """
    alone: list[int] = []
    groups: dict[str, list[tuple[int, ParsedDocx]]] = {}
    for index in chunk:
        try:
            parsed = parse_docx(docxs[index])
        except NotMergeable as exc:
            log.info("document %d is converted on its own: %s", index, exc)
            alone.append(index)
            continue
        groups.setdefault(parsed.fingerprint, []).append((index, parsed))
    batches: list[_Batch] = []
    for members in groups.values():
        indices = [index for index, _ in members]
        if len(members) == 1:
            alone.extend(indices)
            continue
        page_totals = any(parsed.page_totals for _, parsed in members)
        try:
            merged = merge_docx([parsed for _, parsed in members])
        except NotMergeable as exc:
            log.warning(
                "documents %s cannot be merged, converting them one by one: %s", indices, exc
            )
            alone.extend(indices)
            continue
        batches.append(_Batch(indices, merged, page_totals))
    return batches, alone


def _merge_again(docxs: Sequence[bytes], indices: list[int], page_totals: list[int]) -> bytes:
    """The batch merged anew with its documents' page totals written in (blocking)."""
    return merge_docx([parse_docx(docxs[index]) for index in indices], page_totals)
