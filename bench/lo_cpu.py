"""LibreOffice CPU per document of merged conversions of the berita acara pelantikan.

Renders n documents from bench/bulk.py's staff rows, starts one warm server, converts them with
``UnoserverPool.to_pdfs`` (merged by ``batch_size``) a few times and prints the CPU time of the
server's soffice processes per document for each repeat. CPU time hardly depends on what else the
shared machine runs; wall time does. A measurement, not a test.

    uv run python bench/lo_cpu.py [-n 200] [--repeats 5] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.bulk import TEMPLATE, staff_csv, to_csv
from bench.convert_many import libreoffice_cpu_seconds
from docgen.batches.staff_list import read_staff_list
from docgen.pipeline.convert import UnoserverPool
from docgen.pipeline.render import render_docx
from docgen.settings import Settings
from docgen.templating.catalogue import load_template
from docgen.templating.validation import validate_data

REPO = Path(__file__).resolve().parent.parent


def documents(n: int) -> list[bytes]:
    template = load_template(REPO / "templates" / TEMPLATE)
    rows = read_staff_list("staff.csv", to_csv(staff_csv(n)), template.manifest).rows
    return [
        render_docx(template, validate_data(template.manifest, row.data), nomor=f"800.1/{i}/2024")
        for i, row in enumerate(rows)
    ]


async def measure(docxs: list[bytes], repeats: int, batch_size: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="docgen-lo-cpu-") as tmp:
        workdir = Path(tmp)
        pool = UnoserverPool(workdir, python=Settings().uno_python, batch_size=batch_size)
        pool.start()
        try:
            await pool.to_pdfs(docxs[:20])  # warm-up: the first loads cost extra
            per_document = []
            for _ in range(repeats):
                before = libreoffice_cpu_seconds(workdir)
                await pool.to_pdfs(docxs)
                per_document.append((libreoffice_cpu_seconds(workdir) - before) / len(docxs))
            return per_document
        finally:
            pool.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="documents per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    cpu = asyncio.run(measure(documents(args.n), args.repeats, args.batch_size))
    ms = " ".join(f"{c * 1000:.1f}" for c in cpu)
    print(
        f"LibreOffice CPU per document ({args.n} docs, batch {args.batch_size}): {ms} ms;"
        f" median {statistics.median(cpu) * 1000:.1f}, min {min(cpu) * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
