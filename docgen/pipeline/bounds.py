"""Time and memory bounds for one render in a worker process (:mod:`docgen.pipeline.workers`).

A template is code an admin uploaded: a nested loop of 10^10 steps, or a string of gigabytes,
is valid Jinja. Each render therefore gets, in the worker process that runs it:

- a CPU-time limit: ``ITIMER_VIRTUAL`` raises :class:`OverTime` in the render (again every
  ``REPEAT`` seconds, should a ``try`` in the template's path swallow it; it derives from
  BaseException so that ``except Exception`` does not);
- a kernel backstop: ``ITIMER_PROF`` at the limit plus a grace sends SIGPROF with its default
  action, which ends the process even while one C call holds the interpreter (a signal handler
  runs only between bytecodes). The pool replaces the process (see ``WorkerPool.map``);
- a memory limit: the address space may grow by ``memory`` bytes over what the process holds
  when the render starts (``RLIMIT_AS``); past it, allocations fail with MemoryError.

Both timers and the memory limit are put back when the render ends, whatever way it ends.
"""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

__all__ = ["OverMemory", "OverTime", "RenderBounds", "bounded"]

REPEAT = 0.25


class OverTime(BaseException):
    """The render used up its CPU time."""


class OverMemory(Exception):
    """The render needed more memory than its limit."""


@dataclass(frozen=True)
class RenderBounds:
    """What one render may use: CPU seconds, and bytes of address space beyond the process's;
    ``grace``: CPU seconds past the limit after which the kernel ends the process."""

    seconds: float
    memory: int
    grace: float = 5.0


def _over_time(signum: int, frame: FrameType | None) -> None:
    raise OverTime


def _address_space() -> int:
    """The process's address space now, in bytes (Linux: /proc/self/statm)."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def bounded(bounds: RenderBounds) -> Iterator[None]:
    """Run the block within ``bounds`` (main thread of the process only).

    Raises OverTime when the block runs out of CPU time, OverMemory when it runs out of memory.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + bounds.memory
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    previous = signal.signal(signal.SIGVTALRM, _over_time)
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_PROF, bounds.seconds + bounds.grace)
    signal.setitimer(signal.ITIMER_VIRTUAL, bounds.seconds, REPEAT)
    try:
        yield
    except MemoryError as exc:
        raise OverMemory from exc
    finally:
        while True:
            try:
                _unbind(soft, hard, previous)
                break
            except OverTime:  # the timer went off as the block ended: it has ended all the same
                continue


def _unbind(soft: int, hard: int, handler: signal.Handlers | object) -> None:
    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    signal.setitimer(signal.ITIMER_PROF, 0)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    signal.signal(signal.SIGVTALRM, handler)  # type: ignore[arg-type]
