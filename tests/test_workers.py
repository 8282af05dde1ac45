"""The worker processes of bulk work: results in order, and a dying worker costs only its slice."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from docgen.workers import Failed, WorkerPool


def shout_or_die(items: Sequence[str]) -> list[str]:
    """Runs in a worker: upper-cases each item; "mati" kills the worker process outright."""
    if "mati" in items:
        os._exit(1)
    return [item.upper() for item in items]


@pytest.mark.anyio
async def test_a_worker_that_dies_fails_its_items_and_the_pool_goes_on(tmp_path: Path) -> None:
    pool = WorkerPool(2, tmp_path / "ca")
    try:
        assert await pool.map(shout_or_die, ["a", "b", "c", "d", "e"]) == ["A", "B", "C", "D", "E"]
        # Two slices: the second holds the item that kills its worker, once and on the retry.
        result = await pool.map(shout_or_die, ["a", "b", "mati", "c"])
        assert result[:2] == ["A", "B"]
        assert all(isinstance(r, Failed) and "berhenti" in r.message for r in result[2:])
        assert await pool.map(shout_or_die, ["x"]) == ["X"]
    finally:
        pool.stop()
