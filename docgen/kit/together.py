"""Two awaitables run at once, their errors raised as they are (not grouped)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["side_by_side"]

A = TypeVar("A")
B = TypeVar("B")


async def side_by_side(
    first: Callable[[], Awaitable[A]], second: Callable[[], Awaitable[B]]
) -> tuple[A, B]:
    """What ``first()`` and ``second()`` return, both awaited at once and each to its end.

    Raises what ``first()`` raised, else what ``second()`` raised, as it is: a caller catches
    its own errors (an ``except UploadInvalid``), not an ExceptionGroup.
    """
    results: dict[int, object] = {}
    errors: dict[int, Exception] = {}

    async def run(index: int, work: Callable[[], Awaitable[object]]) -> None:
        try:
            results[index] = await work()
        except Exception as exc:  # raised below, in the caller's order
            errors[index] = exc

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run, 0, first)
        tasks.start_soon(run, 1, second)
    for index in (0, 1):
        if index in errors:
            raise errors[index]
    return results[0], results[1]  # type: ignore[return-value]
