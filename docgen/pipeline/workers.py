"""Worker processes for the CPU-bound steps of making and signing documents: render, stamp, sign.

Python runs one thread at a time per process, and rendering, stamping and signing are pure
Python work, so the pipeline hands them to a pool of processes (``bulk_workers``, default 2: the
cores of our machines) while the service process keeps the I/O: LibreOffice, object storage, the
registry. The pool starts with the service and stays warm. Every function here takes and returns
only picklable values; a failure of one item comes back as its message, never as an exception
that would lose the rest of the chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

import signing.fast
from docgen.errors import DocgenError, TemplateInvalid, translate
from docgen.pipeline.bounds import OverMemory, OverTime, RenderBounds, bounded
from docgen.pipeline.sign import SignatureRequest, SigningKey, Trust
from docgen.templating.kop import Kop
from docgen.templating.manifest import Template

__all__ = ["Failed", "WorkerFailure", "WorkerPool", "freeze_start_up_objects"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failed:
    """One item that could not be done, and why (in Bahasa Indonesia where it is ours), with
    the name and HTTP status of the error, so that a single document answers as it would have
    without the worker (see :meth:`error`)."""

    message: str
    name: str = "InternalError"
    status_code: int = 500

    @classmethod
    def of(cls, exc: Exception) -> Failed:
        known = translate(exc)
        if known is None:
            return cls(f"{type(exc).__name__}: {exc}")
        return cls(known.detail, known.error, known.status_code)

    def error(self) -> DocgenError:
        return WorkerFailure(self)


class WorkerFailure(DocgenError):
    """An item that failed in a worker process, as the error it raised there."""

    def __init__(self, failed: Failed) -> None:
        super().__init__(failed.message)
        self.status_code = failed.status_code
        self._name = failed.name

    @property
    def error(self) -> str:
        return self._name


class WorkerPool:
    """``size`` worker processes, started on first use; ``stop`` ends them."""

    def __init__(
        self,
        size: int,
        ca_dir: Path,
        render_bounds: RenderBounds,
        *,
        fast_paths: bool = True,
    ) -> None:
        self._size = size
        self._ca_dir = ca_dir
        self._render_bounds = render_bounds
        self._fast_paths = fast_paths
        self._pool: ProcessPoolExecutor | None = None
        self._starting = anyio.Lock()

    @property
    def size(self) -> int:
        return self._size

    async def _executor(self) -> ProcessPoolExecutor:
        async with self._starting:
            if self._pool is None:
                # spawn: the service process has threads and an event loop; forking it is unsafe.
                self._pool = ProcessPoolExecutor(
                    self._size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_initialize,
                    initargs=(
                        str(self._ca_dir),
                        os.getpid(),
                        self._fast_paths,
                        self._render_bounds,
                    ),
                )
            return self._pool

    async def start(self) -> None:
        """Have every worker process start now, in the background: spawning and initialising
        one takes ~0.8 s, which the first chunk of a batch would otherwise wait for."""
        pool = await self._executor()
        for _ in range(self._size):
            pool.submit(_started)

    async def _run(self, fn: Callable[..., list[T]], *args: Any) -> list[T]:
        pool = await self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start afresh for the next call.
            async with self._starting:
                if self._pool is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
            raise

    async def map(
        self, fn: Callable[..., list[T]], items: Sequence[Any], *args: Any
    ) -> list[T | Failed]:
        """``fn(slice, *args)`` over ``items`` cut into one slice per worker, in order.

        A slice whose worker dies is tried once more in a fresh pool; if that dies too (an item
        that kills its process), each of its items comes back ``Failed``.
        """
        if not items:
            return []
        step = -(-len(items) // self._size)
        slices = [items[i : i + step] for i in range(0, len(items), step)]
        results: list[list[T | Failed]] = [[] for _ in slices]

        async def one(i: int) -> None:
            for attempt in (1, 2):
                try:
                    done: list[T] = await self._run(fn, slices[i], *args)
                    results[i] = list(done)
                    return
                except BrokenProcessPool:
                    log.warning("worker process died (attempt %d of 2)", attempt)
            results[i] = [Failed("proses pekerja berhenti tak terduga")] * len(slices[i])

        async with anyio.create_task_group() as tg:
            for i in range(len(slices)):
                tg.start_soon(one, i)
        return [result for part in results for result in part]

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def freeze_start_up_objects() -> int:
    """Keep what a process made while starting (modules, classes, fonts, templates, CA) out of
    every later garbage collection; returns how many objects that is.

    Python's full collections walk every object the process holds, and start-up makes most of
    them: in the service ~230,000, whose every full pass took 110-160 ms of CPU with the event
    loop stopped. Timed by a gc callback over one run of bench/bulk.py each (1,000 berita
    acara, 3 signatures each), collections took 1.6 s of the service's CPU and 2.4 s of the
    workers' without it, 0.6 and 1.6 s with it. Frozen objects are never freed, so it runs
    once, after a collection.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# -- in the worker processes -------------------------------------------------------------

_ca_dir: Path | None = None
_render_bounds: RenderBounds | None = None


def _initialize(
    ca_dir: str, service_pid: int, fast_paths: bool, render_bounds: RenderBounds
) -> None:
    global _ca_dir, _render_bounds
    _ca_dir = Path(ca_dir)
    _render_bounds = render_bounds
    # Ctrl-C in a terminal reaches every process of its group: the service ends its workers
    # (stop(), or the kernel when it dies), and a KeyboardInterrupt here would only print a
    # traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(service_pid)
    signing.fast.use(fast_paths)
    # Pay the one-off font preparation before the first chunk arrives.
    from signing.pades import sign as pades
    from signing.prepare import stamp

    stamp.warm_up()
    pades.warm_up()
    freeze_start_up_objects()


def _started() -> None:
    """Nothing: a worker runs it once its initialiser is done (see WorkerPool.start)."""


def _die_with(service_pid: int) -> None:
    """Have the kernel kill this worker when the service dies, even by SIGKILL: an idle worker
    would otherwise wait on its queue forever (Linux; elsewhere the service's stop() is all)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != service_pid:  # it died before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


@functools.cache
def _certificate_authority() -> Any:
    from signing.pki.ca import CertificateAuthority

    assert _ca_dir is not None, "worker not initialised"
    return CertificateAuthority.load_or_create(_ca_dir)


def render_rows(
    items: Sequence[tuple[Mapping[str, object], str]], template: Template, kop: Kop
) -> list[Any]:
    """The DOCX of each ``(checked data, number)`` under its unit's ``kop``, each rendered
    within the pool's ``RenderBounds``; ``Failed`` for a row that cannot render. The data was
    checked when the document or its row was accepted: not again here."""
    from docgen.pipeline.render import render_checked

    assert _render_bounds is not None, "worker not initialised"
    bounds = _render_bounds
    results: list[bytes | Failed] = []
    for data, number in items:
        try:
            with bounded(bounds):
                results.append(render_checked(template, data, nomor=number, kop=kop))
        except OverTime:
            results.append(_over(template, f"batas waktu render ({bounds.seconds:g} detik CPU)"))
        except OverMemory:
            results.append(_over(template, f"batas memori render ({bounds.memory >> 20} MiB)"))
        except Exception as exc:  # one bad row must not cost the others
            results.append(Failed.of(exc))
    return results


def _over(template: Template, bound: str) -> Failed:
    return Failed.of(TemplateInvalid(f"templat {template.manifest.id} melebihi {bound}"))


def page_images(items: Sequence[tuple[bytes, int, int, bool]]) -> list[Any]:
    """The PNG of each ``(pdf, page, width, draft)``; ``Failed`` for one that cannot be made."""
    from docgen.pipeline.preview import page_image

    results: list[bytes | Failed] = []
    for pdf, page, width, draft in items:
        try:
            results.append(page_image(pdf, page, width, draft=draft))
        except Exception as exc:
            results.append(Failed.of(exc))
    return results


def stamp_pdfs(
    items: Sequence[tuple[bytes, str, Sequence[str], float | None]], template_id: str
) -> list[Any]:
    """Per ``(converted PDF, verify URL, the roles that sign it, e-Meterai box size or None)``:
    the prepared PDF and the page of each role."""
    from docgen.pipeline.prepare import stamp_converted

    results: list[tuple[bytes, dict[str, int]] | Failed] = []
    for pdf, verify_url, roles, emeterai_size in items:
        try:
            results.append(stamp_converted(pdf, template_id, roles, verify_url, emeterai_size))
        except Exception as exc:
            results.append(Failed.of(exc))
    return results


def sign_pdfs(
    items: Sequence[tuple[bytes, SignatureRequest]], key: SigningKey, trust: Trust
) -> list[Any]:
    """Per ``(PDF, SignatureRequest)``: the new revisions as ``apply_signature`` makes them."""
    from docgen.pipeline.sign import apply_signature
    from signing.pades import SigningIdentity

    ca = _certificate_authority()
    # The service unsealed this key from its GCM-sealed blob (the bytes we sealed from a key
    # cryptography had validated): as in unseal_private_key, the ~35 ms RSA consistency check
    # per chunk would buy nothing.
    private_key = serialization.load_der_private_key(
        key.private_key_der, password=None, unsafe_skip_rsa_key_validation=True
    )
    assert isinstance(private_key, RSAPrivateKey)
    identity = SigningIdentity(
        private_key=private_key,
        certificate=x509.load_der_x509_certificate(key.certificate_der),
        chain=ca.chain,
    )
    roots = [x509.load_der_x509_certificate(der) for der in trust.roots_der]
    crls = [x509.load_der_x509_crl(der) for der in trust.crls_der]
    timestamper = ca.timestamper()

    async def sign_all() -> list[Any]:
        results: list[Any] = []
        for pdf, request in items:
            try:
                results.append(
                    await apply_signature(pdf, request, identity, timestamper, roots, crls)
                )
            except Exception as exc:
                results.append(Failed.of(exc))
            gc.collect(0)  # see _one_collection_per_document
        return results

    with _one_collection_per_document():
        return _event_loop().run_until_complete(sign_all())


@contextlib.contextmanager
def _one_collection_per_document() -> Iterator[None]:
    """Automatic collections of the youngest objects held off while a chunk is signed: the
    caller collects them once after each document instead.

    A signature leaves its PDF's objects as cyclic garbage (pyHanko's reader, writer and the
    objects they read and write refer to each other), which only a collection frees. Python's
    collections every 700 allocations met each document's objects while they were still in
    use, several times each, and moved them to older generations collected less often at more
    cost. Timed by a gc callback over chunks of 20 berita acara signed as here (three signers,
    the last with the B-LTA revision; three runs each): ~1.9-2.1 ms of CPU per document in
    collections as before, ~0.9-1.2 ms with one collection per document, and no more memory.
    """
    threshold = gc.get_threshold()
    gc.set_threshold(_SIGNING_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


_SIGNING_YOUNG_THRESHOLD = 100_000
"""Allocations before an automatic collection while signing: more than one document makes."""


@functools.cache
def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop per worker process for its signing chunks.

    Not ``asyncio.run``: in a process's main thread it puts its own SIGINT handler in place and
    back, and ``signal.signal`` then builds the message of a ValueError from the repr of the
    replaced handler, which holds the finished task and so the signed PDFs of the chunk: ~12 ms
    per chunk of 40 (~25 ms with B-LTA revisions), ~1.2 ms per document over three signatures.
    """
    return asyncio.new_event_loop()
