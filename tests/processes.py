"""The child processes of the test process, as the pool and sandbox tests count them."""

from __future__ import annotations

import psutil


def live_children(marker: str) -> list[psutil.Process]:
    """This process's live children whose command line holds ``marker``.

    Children only: the services a test process started run processes of the same kinds (bulk
    processes, sandbox processes) under them. A process killed by an earlier test (or by its
    pool) stays a zombie until its parent reaps it, and psutil refuses a zombie's command line:
    zombies are not counted.
    """
    found = []
    for child in psutil.Process().children():
        try:
            if marker in " ".join(child.cmdline()):
                found.append(child)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return found
