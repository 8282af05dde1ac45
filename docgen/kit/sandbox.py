"""Running untrusted input through a module of ours in processes of its own, bounded in time,
memory and how many run at once: uploaded PDFs to verify, uploaded template DOCX files to check.

The processes are kept warm: for each module the sandbox starts ``slots`` of them ahead
(``python -m docgen.kit.sandbox_worker <module>``), each caps its address space
(:func:`limit_memory`) and imports the module once, then takes one job at a time over its
stdin and stdout (:mod:`docgen.kit.sandbox_protocol`) and hands it to the module's
``check(args, data) -> bytes``. A process is replaced after ``recycle_after`` jobs (whatever a
parse left behind in its heap goes with it), and at once when a job takes longer than
``timeout`` (killed), fails or kills it; the replacement starts in the background, so the next
job finds a warm one.

At most ``slots`` jobs run at once; when all are busy, the next free slot goes round-robin over
the clients waiting (one client's many uploads cannot starve another's one), and a caller may
refuse a client that has so many jobs already waiting or running (:class:`SandboxBusy`). The
counts are this instance's: a deployment's instances each bound their own processes.
"""

from __future__ import annotations

import logging
import resource
import sys
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from anyio.abc import Process, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream

from docgen.kit.sandbox_protocol import (
    FAILED,
    READY,
    encode_job,
    read_answer,
)

__all__ = [
    "MEMORY_LIMIT",
    "RECYCLE_AFTER",
    "Sandbox",
    "SandboxBusy",
    "SandboxFailed",
    "SandboxTimeout",
    "limit_memory",
]

log = logging.getLogger(__name__)

MEMORY_LIMIT = 1024 * 1024 * 1024
# A process serves this many jobs, then a fresh one takes its place: what a parse leaves in
# the heap (fragmentation, caches of pyHanko and asn1crypto) cannot grow for ever, and the
# ~0.5 s a start costs is spread over 100 checks.
RECYCLE_AFTER = 100
# A process that does not say it is ready within this time is taken for broken.
START_TIMEOUT = 60.0
# What talking to a process that ended (killed by the memory limit, a crash) raises.
_ENDED = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


class SandboxTimeout(Exception):
    """The job took longer than the sandbox's time limit (its process was killed)."""


class SandboxFailed(Exception):
    """The job ended with an error (a crash, the memory limit, an uncaught exception)."""


class SandboxBusy(Exception):
    """The client has as many jobs waiting or running as the caller allows it."""


def limit_memory(limit: int = MEMORY_LIMIT) -> None:
    """In the child, first thing: cap its address space."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _Worker:
    """One warm process of a module and how many jobs it has served."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None and process.stdin is not None
        self.stdin = process.stdin
        self.stdout = BufferedByteReceiveStream(process.stdout)
        self.jobs = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def call(self, args: Sequence[str], data: bytes) -> tuple[int, bytes]:
        self.jobs += 1
        await self.stdin.send(encode_job(args, data))
        return await read_answer(self.stdout)

    async def stop(self) -> None:
        """Kill it and reap it (shielded: it runs while a job is being cancelled too)."""
        with anyio.CancelScope(shield=True):
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()
            await self.process.aclose()


@dataclass
class _Turns:
    """The fair hand-out of slots: free ones, and the clients waiting in round-robin order."""

    free: int
    waiting: dict[str, deque[anyio.Event]] = field(default_factory=dict)
    order: deque[str] = field(default_factory=deque)
    held: dict[str, int] = field(default_factory=dict)  # jobs waiting or running, by client

    def release(self) -> None:
        """A slot is free: to the first waiter of the next client in turn, else kept free."""
        if not self.order:
            self.free += 1
            return
        client = self.order.popleft()
        queue = self.waiting[client]
        event = queue.popleft()
        if queue:
            self.order.append(client)
        else:
            del self.waiting[client]
        event.set()


class Sandbox:
    """Warm processes per module, at most ``slots`` jobs at once, each killed after
    ``timeout`` seconds; used inside ``async with sandbox.running():``."""

    def __init__(
        self,
        slots: int,
        timeout: float,
        *,
        modules: Sequence[str] = (),
        recycle_after: int = RECYCLE_AFTER,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        self.slots = slots
        self.timeout = timeout
        self.modules = tuple(modules)
        self.recycle_after = recycle_after
        self.memory_limit = memory_limit
        self._turns = _Turns(slots)
        self._idle: dict[str, deque[_Worker]] = {}
        self._ready: dict[str, anyio.Event] = {}  # set when a worker of the module turns idle
        self._all: set[_Worker] = set()
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Sandbox]:
        """Start ``slots`` processes for each of ``modules`` (in the background) and keep them
        replaced; on exit, kill every process of the sandbox.

        A module not named here gets its processes on its first job."""
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                for module in self.modules:
                    self._fill(module)
                try:
                    yield self
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            self._tasks = None
            with anyio.CancelScope(shield=True):
                for worker in list(self._all):
                    await worker.stop()
            self._all.clear()
            self._idle.clear()

    def pids(self, module: str) -> list[int]:
        """The processes of ``module`` idle now (for tests and diagnostics)."""
        return [w.pid for w in self._idle.get(module, ())]

    async def run(
        self,
        module: str,
        args: Sequence[str],
        stdin: bytes,
        *,
        client: str = "",
        per_client: int | None = None,
    ) -> bytes:
        """What ``module``'s ``check(args, stdin)`` returned, run in one of its processes
        when ``client``'s turn comes.

        Raises SandboxBusy (``client`` has ``per_client`` jobs waiting or running already),
        SandboxTimeout, SandboxFailed.
        """
        async with self._slot(client, per_client):
            try:
                with anyio.fail_after(START_TIMEOUT):
                    worker = await self._take(module)
            except TimeoutError:
                raise SandboxFailed(f"no process of {module} started") from None
            try:
                with anyio.fail_after(self.timeout):
                    status, answer = await worker.call(args, stdin)
            except TimeoutError:
                await self._discard(module, worker)
                raise SandboxTimeout(f"{module} took over {self.timeout:g} s") from None
            except _ENDED as exc:
                await self._discard(module, worker)
                raise SandboxFailed(f"{module} ended during the job") from exc
            except BaseException:  # cancelled: the process is mid-job, it cannot be reused
                await self._discard(module, worker)
                raise
            if status == FAILED:
                await self._discard(module, worker)
                raise SandboxFailed(f"{module} failed: {answer.decode(errors='replace')}")
            if worker.jobs >= self.recycle_after:
                await self._discard(module, worker)
            else:
                self._give_back(module, worker)
            return answer

    @asynccontextmanager
    async def _slot(self, client: str, per_client: int | None) -> AsyncIterator[None]:
        turns = self._turns
        if per_client is not None and turns.held.get(client, 0) >= per_client:
            raise SandboxBusy(f"{client} has {per_client} jobs in the sandbox")
        turns.held[client] = turns.held.get(client, 0) + 1
        try:
            if turns.free > 0 and not turns.order:
                turns.free -= 1
            else:
                event = anyio.Event()
                if client not in turns.waiting:
                    turns.waiting[client] = deque()
                    turns.order.append(client)
                turns.waiting[client].append(event)
                try:
                    await event.wait()
                except BaseException:
                    if event.is_set():
                        turns.release()  # handed a slot as it was cancelled: pass it on
                    else:
                        self._leave_queue(client, event)
                    raise
            try:
                yield
            finally:
                turns.release()
        finally:
            turns.held[client] -= 1
            if not turns.held[client]:
                del turns.held[client]

    def _leave_queue(self, client: str, event: anyio.Event) -> None:
        turns = self._turns
        queue = turns.waiting[client]
        queue.remove(event)
        if not queue:
            del turns.waiting[client]
            turns.order.remove(client)

    async def _take(self, module: str) -> _Worker:
        """An idle process of ``module``, waiting for one being started if none is."""
        if module not in self._idle:
            self._fill(module)
        idle = self._idle[module]
        while True:
            while idle:
                worker = idle.popleft()
                if worker.alive:
                    return worker
                await self._discard(module, worker)  # died while idle
            ready = self._ready.get(module)
            if ready is None or ready.is_set():
                self._ready[module] = ready = anyio.Event()
            await ready.wait()

    def _give_back(self, module: str, worker: _Worker) -> None:
        self._idle[module].append(worker)
        ready = self._ready.get(module)
        if ready is not None:
            ready.set()

    async def _discard(self, module: str, worker: _Worker) -> None:
        self._all.discard(worker)
        await worker.stop()
        if self._tasks is not None:  # (not while the sandbox stops)
            self._start_one(module)

    def _fill(self, module: str) -> None:
        self._idle.setdefault(module, deque())
        for _ in range(self.slots):
            self._start_one(module)

    def _start_one(self, module: str) -> None:
        if self._tasks is None:
            raise RuntimeError("the sandbox runs only inside `async with sandbox.running()`")
        self._tasks.start_soon(self._start, module)

    async def _start(self, module: str) -> None:
        """Start a process of ``module``, wait until it has imported it, make it idle; if it
        does not start, try again after a pause (the jobs wait meanwhile)."""
        delay = 0.5
        command = [sys.executable, "-m", "docgen.kit.sandbox_worker", module]
        while True:
            worker: _Worker | None = None
            try:
                process = await anyio.open_process([*command, str(self.memory_limit)], stderr=None)
                worker = _Worker(process)
                self._all.add(worker)
                with anyio.fail_after(START_TIMEOUT):
                    status, _ = await read_answer(worker.stdout)
                if status == READY:
                    self._give_back(module, worker)
                    return
            except Exception as exc:  # no process (fork failed), or it died or hung importing
                log.error("sandbox: a process of %s did not start: %r", module, exc)
            if worker is not None:
                self._all.discard(worker)
                await worker.stop()
            await anyio.sleep(delay)
            delay = min(delay * 2, 30.0)
