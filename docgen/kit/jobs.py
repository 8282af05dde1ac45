"""Background work of this process, run in the app's task group while it serves."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from anyio.abc import TaskGroup

from docgen.errors import Conflict

__all__ = ["Jobs"]


class Jobs:
    """Where background jobs (bulk signings) run: the task group the app opens while it serves;
    nothing starts while the service is starting or stopping."""

    def __init__(self) -> None:
        self._group: TaskGroup | None = None

    def serve(self, group: TaskGroup | None) -> None:
        """Run jobs in ``group`` from now on; None while the service stops."""
        self._group = group

    def start_soon(self, job: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Raises Conflict (409) while the service is not serving."""
        if self._group is None:
            raise Conflict("Layanan sedang berhenti; coba lagi")
        self._group.start_soon(job, *args)
