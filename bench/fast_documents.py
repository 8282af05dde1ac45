"""docgen's fast document paths beside their library paths: CPU per document, share of the bulk run.

    uv run python bench/fast_documents.py [-n 100] [--repeats 5] [--convert 100]

- Rendering: ``TemplateRenderer.render`` (the template read once, docgen/pipeline/fast/render.py)
  against docxtpl end to end (``render_docx`` with ``signing.fast.use(False)``), for the berita
  acara pelantikan (bench/bulk.py's staff rows) and the pakta integritas; data validation is
  included in both.
- Number words: ``terbilang`` is num2words now (the hand-written code went): the cost of the
  three numbers a berita acara spells out (its day, its year, its count of participants).
- Conversion: ``--convert`` berita acara through ``UnoserverPool.to_pdfs`` on one server, merged
  (docgen/pipeline/fast/merge.py and split.py) and one LibreOffice call per document (the switch
  off): LibreOffice's CPU (its processes, read from /proc) plus this process's, per document.
  ``--convert 0`` skips it; bench/convert_many.py has the full study by batch size and servers.

CPU time (``time.process_time``), not wall time: other work on the shared machine changes it far
less. Each figure is the best and the median of ``--repeats`` runs of ``n`` documents after a
warm-up (conversion: of two runs). Shares are of 45 ms of CPU per document, the reference figure
of the whole bulk run (bench/bulk.py, all processes, measured in an earlier session on this
machine; the machine's speed varies from day to day). A measurement, not a test: it prints and
exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import signing.fast
from bench.bulk import TEMPLATE, staff_csv, to_csv
from bench.convert_many import libreoffice_cpu_seconds, pakta_rows
from docgen.batches.staff_list import read_staff_list
from docgen.indonesia import jumlah_terbilang, terbilang
from docgen.pipeline.convert import UnoserverPool
from docgen.pipeline.render import TemplateRenderer, render_docx
from docgen.settings import Settings
from docgen.templating.catalogue import load_template
from docgen.templating.manifest import Template

REPO = Path(__file__).resolve().parent.parent
BULK_CPU_MS = 45.0  # CPU per document of the whole bulk run: the reference for the shares

Rows = list[dict[str, object]]


def berita_acara_rows(template: Template, n: int) -> Rows:
    staff = read_staff_list("staff.csv", to_csv(staff_csv(n)), template.manifest)
    return [dict(row.data) for row in staff.rows]


def cpu_ms(run: Callable[[int], object], n: int, repeats: int) -> tuple[float, float]:
    """Best and median CPU milliseconds per call of ``run(i)`` for i in range(n)."""
    for i in range(min(5, n)):  # warm-up: lazy imports, compile caches
        run(i)
    per_call = []
    for _ in range(repeats):
        start = time.process_time()
        for i in range(n):
            run(i)
        per_call.append((time.process_time() - start) / n * 1000)
    return min(per_call), statistics.median(per_call)


def share(saved_ms: float) -> str:
    return f"saves {saved_ms:6.2f} ms/doc = {saved_ms / BULK_CPU_MS:6.1%} of the bulk CPU"


def line(what: str, fast: tuple[float, float], library: tuple[float, float]) -> str:
    return (
        f"{what:40s} fast {fast[0]:7.3f} (median {fast[1]:7.3f})"
        f"   library {library[0]:7.3f} (median {library[1]:7.3f}) ms/doc"
        f"   {share(library[0] - fast[0])}"
    )


def rendering(n: int, repeats: int) -> None:
    for name in (TEMPLATE, "pakta-integritas"):
        template = load_template(REPO / "templates" / name)
        rows = berita_acara_rows(template, n) if name == TEMPLATE else pakta_rows(n)
        renderer = TemplateRenderer(template)

        def fast(i: int, renderer: TemplateRenderer = renderer, rows: Rows = rows) -> bytes:
            return renderer.render(rows[i], nomor=f"800.1/{i + 1}/2024")

        def library(i: int, template: Template = template, rows: Rows = rows) -> bytes:
            return render_docx(template, rows[i], nomor=f"800.1/{i + 1}/2024")

        fast_ms = cpu_ms(fast, n, repeats)
        signing.fast.use(False)
        try:
            library_ms = cpu_ms(library, n, repeats)
        finally:
            signing.fast.use(True)
        print(line(f"render {name}", fast_ms, library_ms), flush=True)


def number_words(repeats: int) -> None:
    days = [date(2024, 1, 1 + i % 28) for i in range(1000)]

    def spell(i: int) -> str:
        return f"{terbilang(days[i].day)} {terbilang(days[i].year)} {jumlah_terbilang(1, 'orang')}"

    best, median = cpu_ms(spell, len(days), repeats)
    print(
        f"{'terbilang (num2words), 3 numbers':40s} {best:7.3f} (median {median:7.3f}) ms/doc"
        f" = {best / BULK_CPU_MS:.2%} of the bulk CPU; no fast path",
        flush=True,
    )


async def conversion(n: int) -> None:
    template = load_template(REPO / "templates" / TEMPLATE)
    docxs = [
        render_docx(template, row, nomor=f"800.1/{i + 1}/2024")
        for i, row in enumerate(berita_acara_rows(template, n))
    ]
    with tempfile.TemporaryDirectory(prefix="docgen-fast-documents-") as tmp:
        workdir = Path(tmp)
        pool = UnoserverPool(workdir, python=Settings().uno_python)
        pool.start()
        try:
            await pool.to_pdfs(docxs[:10])  # warm-up: the first loads cost extra
            figures = {}
            for path, fast in (("fast", True), ("library", False)):
                signing.fast.use(fast)
                runs = []
                for _ in range(2):
                    cpu, libreoffice = time.process_time(), libreoffice_cpu_seconds(workdir)
                    await pool.to_pdfs(docxs)
                    cpu = time.process_time() - cpu
                    libreoffice = libreoffice_cpu_seconds(workdir) - libreoffice
                    runs.append((cpu + libreoffice) / n * 1000)
                figures[path] = (min(runs), statistics.median(runs))
        finally:
            signing.fast.use(True)
            pool.stop()
    print(
        line(f"convert {TEMPLATE}, all CPU", figures["fast"], figures["library"]),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="documents per rendering run")
    parser.add_argument("--repeats", type=int, default=5, help="runs of n documents")
    parser.add_argument("--convert", type=int, default=100, help="documents converted; 0: skip")
    args = parser.parse_args()

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load average {load}")
    print(f"CPU ms per document; shares of {BULK_CPU_MS:.0f} ms, the bulk run's CPU per document")
    rendering(args.n, args.repeats)
    number_words(args.repeats)
    if args.convert > 0:
        asyncio.run(conversion(args.convert))
    else:
        print("conversion skipped; bench/convert_many.py: LibreOffice CPU 0.10 s/doc one by one,")
        print("0.009-0.011 s/doc merged by 100 (pakta integritas, 2 servers)")


if __name__ == "__main__":
    main()
