"""Running untrusted input through a module of ours in its own process, bounded in time, memory
and how many run at once: uploaded PDFs to verify, uploaded template DOCX files to check.

The child is ``python -m <module>`` reading the input on stdin and writing its answer on stdout;
it calls :func:`limit_memory` before it parses anything.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Sequence

import anyio

__all__ = ["MEMORY_LIMIT", "Sandbox", "SandboxFailed", "SandboxTimeout", "limit_memory"]

MEMORY_LIMIT = 1024 * 1024 * 1024


class SandboxTimeout(Exception):
    """The child took longer than the sandbox's time limit (it was killed)."""


class SandboxFailed(Exception):
    """The child ended with an error (a crash, the memory limit, an uncaught exception)."""


def limit_memory(limit: int = MEMORY_LIMIT) -> None:
    """In the child, first thing: cap its address space."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Sandbox:
    """At most ``slots`` children at once, each killed after ``timeout`` seconds."""

    def __init__(self, slots: int, timeout: float) -> None:
        self._slots = anyio.CapacityLimiter(slots)
        self.timeout = timeout

    async def run(self, module: str, args: Sequence[str], stdin: bytes) -> bytes:
        """The child's standard output.

        Raises SandboxTimeout, SandboxFailed.
        """
        try:
            async with self._slots:
                with anyio.fail_after(self.timeout):
                    result = await anyio.run_process(
                        [sys.executable, "-m", module, *args], input=stdin, check=False
                    )
        except TimeoutError:
            raise SandboxTimeout(f"{module} took over {self.timeout:g} s") from None
        if result.returncode != 0:
            raise SandboxFailed(f"{module} exited with {result.returncode}")
        return result.stdout
