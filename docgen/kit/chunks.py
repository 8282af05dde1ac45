"""Work on many items in consecutive chunks, a few chunks at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

__all__ = ["in_chunks"]

T = TypeVar("T")


async def in_chunks(
    items: Sequence[T], size: int, at_once: int, work: Callable[[Sequence[T]], Awaitable[None]]
) -> None:
    """``work`` on consecutive chunks of ``size`` items, ``at_once`` chunks in flight: while the
    workers or LibreOffice do one chunk, the service stores and registers another."""
    in_flight = anyio.Semaphore(at_once)

    async def one(chunk: Sequence[T]) -> None:
        try:
            await work(chunk)
        finally:
            in_flight.release()

    async with anyio.create_task_group() as tg:
        for start in range(0, len(items), size):
            await in_flight.acquire()
            tg.start_soon(one, items[start : start + size])
