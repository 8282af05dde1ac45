"""One warm process of the sandbox: ``python -m docgen.kit.sandbox_worker <module> <bytes>``.

Caps its address space at ``<bytes>`` first, imports ``<module>`` once, says it is ready, then
answers one job at a time with the module's ``check(args, data) -> bytes``
(:mod:`docgen.kit.sandbox_protocol`), until its stdin closes. A job that raises (the memory
limit included) is answered FAILED and the process ends: what it left behind is not trusted
with the next job. What the module prints goes to stderr: stdout carries only the frames.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import cast

from docgen.kit.sandbox import limit_memory
from docgen.kit.sandbox_protocol import FAILED, OK, READY, read_job, write_answer

Check = Callable[[list[str], bytes], bytes]


def main(module_name: str, memory_limit: int) -> int:
    # Ctrl-C in a terminal reaches every process of its group: the service ends this one by
    # closing its stdin, and a KeyboardInterrupt here would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_memory(memory_limit)
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    jobs = sys.stdin.buffer
    check = cast(Check, importlib.import_module(module_name).check)
    write_answer(frames, READY)
    while (job := read_job(jobs)) is not None:
        args, data = job
        try:
            answer = check(args, data)
        except BaseException as exc:  # MemoryError, RecursionError, a bug: reported, then end
            traceback.print_exc()
            write_answer(frames, FAILED, f"{type(exc).__name__}: {exc}"[:500].encode())
            return 1
        write_answer(frames, OK, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
