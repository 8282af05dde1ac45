"""A module the sandbox runs in tests (``tests.sandbox_jobs``), like the real ones: its
``check(args, data)`` does what ``args[0]`` names."""

from __future__ import annotations

import os
import time


def check(args: list[str], data: bytes) -> bytes:
    """``pid``: this process's id; ``sleep <seconds>``: sleeps, then answers ``data``;
    ``memory``: takes 2 GiB; ``exit``: ends the process mid-job."""
    match args:
        case ["pid"]:
            return str(os.getpid()).encode()
        case ["sleep", seconds]:
            time.sleep(float(seconds))
            return data
        case ["memory"]:
            return bytes(bytearray(2 << 30))[:1]
        case ["exit"]:
            os._exit(3)
    raise ValueError(f"unknown job {args}")
