"""LibreOffice CPU per document, two server variants side by side (paired A/B).

On the shared machine the CPU time of one conversion varies by +-25 % with what else runs; run
one after the other, A and B differ by more than most changes worth measuring. Here one server of
each variant converts the same berita acara at the same time, so the noise hits both alike, and
each repeat gives the ratio B/A. A variant is environment variables of its server (e.g.
``GLIBC_TUNABLES``); the rest is ``bench/lo_cpu.py``'s measurement. A measurement, not a test.

Run every comparison both ways round (the variant as B, then as A): the side matters by a few
per cent (A/A gave B/A 1.015-1.03 over 10 pairs), and runs minutes apart differ by more than
that (glibc allocator tunables, merged by 50: x0.88, 0.95 and 1.01 as B; x1.03, 1.02, 1.02 as A).

    uv run python bench/lo_cpu_pair.py --b-env GLIBC_TUNABLES=glibc.malloc.tcache_count=2048 \\
        [--a-env NAME=VALUE] [-n 100] [--repeats 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from bench.convert_many import libreoffice_cpu_seconds
from bench.lo_cpu import documents
from docgen.pipeline.convert import UnoserverPool
from docgen.settings import Settings


def started(workdir: Path, env: dict[str, str], batch_size: int) -> UnoserverPool:
    """A one-server pool whose LibreOffice runs with ``env`` added to ours."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        pool = UnoserverPool(workdir, python=Settings().uno_python, batch_size=batch_size)
        pool.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return pool


async def measure(
    docxs: list[bytes], envs: tuple[dict[str, str], dict[str, str]], repeats: int
) -> list[tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="docgen-lo-pair-") as tmp:
        workdirs = (Path(tmp) / "a", Path(tmp) / "b")
        pools: list[UnoserverPool] = []
        try:
            for workdir, env in zip(workdirs, envs, strict=True):
                pools.append(started(workdir, env, len(docxs)))
            await asyncio.gather(*(pool.to_pdfs(docxs[:20]) for pool in pools))  # warm-up
            pairs = []
            for _ in range(repeats):
                before = [libreoffice_cpu_seconds(workdir) for workdir in workdirs]
                await asyncio.gather(*(pool.to_pdfs(docxs) for pool in pools))
                a, b = (
                    (libreoffice_cpu_seconds(workdir) - cpu) / len(docxs)
                    for workdir, cpu in zip(workdirs, before, strict=True)
                )
                pairs.append((a, b))
            return pairs
        finally:
            for pool in pools:
                pool.stop()


def variables(assignments: list[str]) -> dict[str, str]:
    return dict(assignment.split("=", 1) for assignment in assignments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("-n", type=int, default=100, help="documents per call (one merged call)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    envs = (variables(args.a_env), variables(args.b_env))
    pairs = asyncio.run(measure(documents(args.n), envs, args.repeats))
    for a, b in pairs:
        print(f"A {a * 1000:.1f} ms  B {b * 1000:.1f} ms  B/A {b / a:.3f}")
    ratios = [b / a for a, b in pairs]
    median_a, median_b = (statistics.median(cpu) * 1000 for cpu in zip(*pairs, strict=True))
    print(
        f"LibreOffice CPU per document, median A {median_a:.1f} ms, B {median_b:.1f} ms; B/A median"
        f" {statistics.median(ratios):.3f}, mean {statistics.mean(ratios):.3f}"
        f" (B lower in {sum(r < 1 for r in ratios)} of {len(ratios)})"
    )


if __name__ == "__main__":
    main()
