"""Rendering many documents from one template: ms per document, in process, no LibreOffice.

    uv run python bench/render_many.py [-n 300] [--repeats 5]

For the pakta integritas and the berita acara pelantikan (one participant) it renders ``n``
documents with ``render_docx``, one call per document, and, where ``docgen.pipeline.render`` has it,
with one ``TemplateRenderer.render`` per document. ``render_docx`` goes through ``renderer_for``;
before ``TemplateRenderer`` (up to commit 17a2993) it ran docxtpl end to end, re-reading the
template every time: run the script there for the figure to compare with (about 20 ms per document
on a 2-CPU machine, against under 2 ms after). Each figure is the best of
``--repeats`` runs of ``n`` documents, after a warm-up; the header gives the machine's load
average, since the figures are only as quiet as the machine. A measurement, not a test: it
exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from docgen.pipeline import render
from docgen.templating.catalogue import load_template
from docgen.templating.manifest import Template
from docgen.templating.validation import validate_data
from tests.conftest import pakta_data
from tests.test_templates_content import ba_data

REPO = Path(__file__).resolve().parent.parent


Render = Callable[[Mapping[str, object], str], bytes]


def ms_per_document(render_one: Render, rows: list[dict[str, object]], repeats: int) -> float:
    def run(i: int) -> None:
        render_one(rows[i], f"800.1.12/{i + 1}/BKPSDM/VI/2024")

    for i in range(min(5, len(rows))):  # warm-up: lazy imports, compile caches
        run(i)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(len(rows)):
            run(i)
        best = min(best, (time.perf_counter() - t0) / len(rows))
    return best * 1000


def rows_for(template: Template, n: int) -> list[dict[str, object]]:
    if template.id == "pakta-integritas":
        rows = [
            pakta_data(nama=f"Budi Santoso {i:03d}", tanggal=f"2024-06-{1 + i % 28:02d}")
            for i in range(n)
        ]
    else:
        rows = [ba_data(1, tanggal=f"2024-06-{1 + i % 28:02d}") for i in range(n)]
    for row in rows:
        validate_data(template.manifest, row)  # fail early on bad sample data
    return rows


def _render_docx(template: Template, data: Mapping[str, object], nomor: str) -> bytes:
    return render.render_docx(template, data, nomor=nomor)


def _render_with(renderer: Any, data: Mapping[str, object], nomor: str) -> bytes:
    return bytes(renderer.render(data, nomor=nomor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="documents per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs; the best one counts")
    args = parser.parse_args()

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load average {load}; n={args.n}")
    for name in ("pakta-integritas", "berita-acara-pelantikan"):
        template = load_template(REPO / "templates" / name)
        rows = rows_for(template, args.n)

        slow = functools.partial(_render_docx, template)
        line = f"{name:26s} render_docx {ms_per_document(slow, rows, args.repeats):6.2f} ms/doc"
        renderer_class = getattr(render, "TemplateRenderer", None)
        if renderer_class is not None:
            fast = functools.partial(_render_with, renderer_class(template))
            fast_ms = ms_per_document(fast, rows, args.repeats)
            line += f"   TemplateRenderer.render {fast_ms:6.2f} ms/doc"
        print(line, flush=True)


if __name__ == "__main__":
    main()
