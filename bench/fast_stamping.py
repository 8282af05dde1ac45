"""CPU time of signing.fast's QR codes, appearance QR forms and font engine, beside the libraries'.

    uv run python bench/fast_stamping.py [--calls 200]

For each piece, the CPU time of one call on the fast path and on the library path (the one
``signing.fast.use(False)`` takes), how many such calls a document of the bulk run
(bench/bulk.py: 1,000 berita acara, three signatures each) makes, and what the fast path saves
per document, also as a share of the bulk run's CPU time per document. That share takes the bulk
run's ~45 ms of CPU per document (all processes, as measured in an earlier session on this
machine; it is slower on a busy day) as the reference.

- QR code of the footer: the symbol of a verification URL and its drawing (``qr_drawing``), once
  per document, in its footer. Each call on a URL not seen before: a worker's per-URL cache only
  helps when it handles the same document again.
- QR form of an appearance: ``QRStamp._qr_xobject`` (pyHanko's, or the override in
  signing/fast/appearance.py), once per signature; a URL not seen before each call.
- Font engine of the footer and of an appearance: a fresh engine shapes the text, then writes its
  font (subset, widths, ToUnicode map) into a PDF writer, as each footer and each signature
  does. The fast path as in a bulk run, where each glyph set's subset is already kept, and so
  are the shaped lines that come back (an appearance's lines, the same for a signer within a
  minute; a footer's lines without its URL): each footer call has a URL not seen before.
- Font subset: what the fast engine pays when a glyph set's subset is not kept yet (fontTools
  cuts the font). Its calls per document are counted on the bulk run's texts in one process (one
  footer text per document with its own URL, three signers whose times change with the
  documents) and multiplied by the worker processes, each of which keeps its own subsets.

CPU time is ``time.process_time()`` around each call, in this process, after one call to warm up
(imports, per-process font preparation); the table shows the minimum and the median over
--calls calls, and the savings use the minimums. The machine is shared and has two cores: CPU
time is steadier than wall time there, not immune (other processes' load slows this one's
caches), and the least disturbed call is the steadiest figure from run to run. A measurement,
not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import string
import textwrap
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.writer import PdfFileWriter

import signing.fast
from docgen.pipeline.prepare import FOOTER
from signing.fast import fonts
from signing.fast.appearance import VerificationQRStyle
from signing.fast.fonts import LIBERATION_SANS, EmbeddedFontFactory
from signing.fast.qr import qr_drawing
from signing.prepare.stamp import URL_SAFE_CHARACTERS
from signing.waktu import format_waktu_wib

BULK_CPU_MS_PER_DOCUMENT = 45.0
"""The reference: CPU per document of the whole bulk run, all processes (an earlier session)."""
BULK_DOCUMENTS = 1000
BULK_WORKERS = 2
"""Worker processes of a bulk run (the service's default); each keeps its own font subsets."""

BASE_URL = "http://127.0.0.1:8000"
SIGNERS = (  # (name, jabatan) of the two witnesses and the official, as in bench/bulk.py
    ("Hendra Saputra, S.Kom.", "Pranata Komputer Ahli Pertama"),
    ("Sri Lestari, S.E.", "Pengadministrasi Perkantoran pada Kecamatan Buduran"),
    ("Drs. H. Agus Hidayat, M.Si.", "Sekretaris Daerah Kabupaten Sidoarjo"),
)
FOOTER_COLUMNS = 110  # about what fits beside the QR code on an A4 page at 7 pt
APPEARANCE_COLUMNS = 40  # signing.pades.sign wraps names and jabatan there


def verify_url() -> str:
    return f"{BASE_URL}/v/{secrets.token_urlsafe(18)}"


def footer_lines(url: str) -> list[str]:
    return textwrap.wrap(FOOTER.format(url=url), FOOTER_COLUMNS)


def appearance_lines(signer: int, moment: datetime) -> list[str]:
    name, jabatan = SIGNERS[signer]
    return [
        "Ditandatangani secara elektronik oleh",
        *textwrap.wrap(name, APPEARANCE_COLUMNS),
        *textwrap.wrap(jabatan, APPEARANCE_COLUMNS),
        format_waktu_wib(moment),
    ]


@dataclass(frozen=True)
class Piece:
    name: str
    calls_per_document: float
    fast: Callable[[], object]
    """One call on the fast path."""
    library: Callable[[], object] | None
    """One call on the library path; None: a cost of the fast path alone."""


def cpu_ms(call: Callable[[], object], calls: int, *, fast: bool) -> tuple[float, float]:
    """Minimum and median CPU milliseconds of ``call`` on the chosen path, after a warm-up."""
    signing.fast.use(fast)
    try:
        call()
        times = []
        for _ in range(calls):
            start = time.process_time()
            call()
            times.append(time.process_time() - start)
    finally:
        signing.fast.use(True)
    return 1000 * min(times), 1000 * statistics.median(times)


def qr_footer() -> Callable[[], object]:
    def call() -> object:
        return qr_drawing(verify_url(), border=0, box_size=1)

    return call


def qr_appearance() -> Callable[[], object]:
    """A QR stamp drawn (its QR form made) for a new URL, as each signature's appearance."""
    style = VerificationQRStyle(stamp_text="Ditandatangani secara elektronik oleh")

    def call() -> object:
        box = BoxConstraints(200, 70)
        return style.create_stamp(PdfFileWriter(), box, {"url": verify_url()}).render()

    return call


def write_font(factory: EmbeddedFontFactory, lines: list[str]) -> None:
    """What a footer or an appearance does with its font: a fresh engine on a fresh writer
    shapes the lines, then writes the font into the writer."""
    engine = factory.create_font_engine(PdfFileWriter(stream_xrefs=False))
    for line in lines:
        engine.shape(line)
    engine.prepare_write()


def font_subset() -> Callable[[], object]:
    """A subset the fast engine has not kept: the glyphs of an appearance."""
    program = fonts.font_program(LIBERATION_SANS)
    text = "".join(appearance_lines(0, datetime.now().astimezone())) + string.digits
    glyphs = frozenset(program.glyph_of[ord(c)] for c in set(text) if ord(c) in program.glyph_of)

    def call() -> object:
        return zlib.compress(program.subset(glyphs))

    return call


def subsets_per_document() -> float:
    """Subsets the fast engine makes per document of a bulk run: counted on one worker's share
    of the bulk's texts, in this process, times the worker processes (each keeps its own)."""
    fonts._compressed_subset.cache_clear()
    moment = datetime.now().astimezone()
    for _ in range(BULK_DOCUMENTS // BULK_WORKERS):
        write_font(FOOTER_FONTS, footer_lines(verify_url()))
        for signer in range(len(SIGNERS)):
            moment += timedelta(seconds=37)  # the signers sign one document after another
            write_font(APPEARANCE_FONTS, appearance_lines(signer, moment))
    made = fonts._compressed_subset.cache_info().misses
    return BULK_WORKERS * made / BULK_DOCUMENTS


FOOTER_FONTS = EmbeddedFontFactory(LIBERATION_SANS, 7.0, always_embed=URL_SAFE_CHARACTERS)
APPEARANCE_FONTS = EmbeddedFontFactory(LIBERATION_SANS, 10, always_embed=string.digits)


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU time of signing.fast's stamping pieces")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per path (200)")
    calls = parser.parse_args().calls

    appearance = appearance_lines(2, datetime.now().astimezone())
    pieces = [
        Piece("QR code of the footer (qr.py)", 1, qr_footer(), qr_footer()),
        Piece(
            "QR form of an appearance (appearance.py, qr.py)", 3, qr_appearance(), qr_appearance()
        ),
        Piece(
            "font engine, footer (fonts.py)",
            1,
            lambda: write_font(FOOTER_FONTS, footer_lines(verify_url())),
            lambda: write_font(FOOTER_FONTS, footer_lines(verify_url())),
        ),
        Piece(
            "font engine, appearance (fonts.py)",
            3,
            lambda: write_font(APPEARANCE_FONTS, appearance),
            lambda: write_font(APPEARANCE_FONTS, appearance),
        ),
        Piece(
            "font subset made by fontTools (fonts.py)", subsets_per_document(), font_subset(), None
        ),
    ]

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{platform.node()}: load average {load}; {calls} calls per path")
    print(f"{'CPU ms per call, minimum / median':42s} {'fast':>13s} {'library':>13s}")
    print(
        f"{'piece':42s} {'':13s} {'':13s} {'calls/doc':>9s} {'saved ms/doc':>12s} {'of bulk':>7s}"
    )
    total = 0.0
    for piece in pieces:
        fast = cpu_ms(piece.fast, calls, fast=True)
        if piece.library is None:
            library_column = f"{'-':>13s}"
            saved = -piece.calls_per_document * fast[0]
        else:
            library = cpu_ms(piece.library, calls, fast=False)
            library_column = f"{library[0]:6.2f}/{library[1]:6.2f}"
            saved = piece.calls_per_document * (library[0] - fast[0])
        total += saved
        print(
            f"{piece.name:42s} {fast[0]:6.2f}/{fast[1]:6.2f} {library_column} "
            f"{piece.calls_per_document:9.3f} {saved:12.2f} "
            f"{saved / BULK_CPU_MS_PER_DOCUMENT:7.1%}"
        )
    share = total / BULK_CPU_MS_PER_DOCUMENT
    print(f"{'all':42s} {'':13s} {'':13s} {'':9s} {total:12.2f} {share:7.1%}")
    print(
        f"Shares of {BULK_CPU_MS_PER_DOCUMENT:.0f} ms of CPU per document: the whole bulk run's "
        "figure, all processes, from an earlier session. A negative saving is a cost of the fast "
        "path alone (subsets it makes where pyHanko's engine makes one every time)."
    )


if __name__ == "__main__":
    main()
