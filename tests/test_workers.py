"""The worker processes of bulk work: results in order, and a dying worker costs only its slice."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from docgen import workers
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


SERVICE_MODULES = ("docgen.runtime", "docgen.db", "docgen.documents", "sqlalchemy", "fastapi")


def service_modules_after_work(items: Sequence[str]) -> list[str]:
    """Runs in a worker: the steps' own imports (nothing to do, so only their imports run),
    then which of the service's modules the process has loaded."""
    workers.render_rows([], None)  # type: ignore[arg-type]
    workers.stamp_pdfs([], "templat", [])
    return [name for name in SERVICE_MODULES if name in sys.modules]


@pytest.mark.anyio
async def test_workers_start_without_loading_the_service(tmp_path: Path) -> None:
    # A worker loads what rendering, stamping and signing need, not the registry and web stack
    # (that doubled its start-up, paid at the first batch).
    pool = WorkerPool(1, tmp_path / "ca")
    try:
        assert await pool.map(service_modules_after_work, ["x"]) == []
    finally:
        pool.stop()
