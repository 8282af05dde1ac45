"""Conversion of many pakta integritas: one LibreOffice call per document vs merged batches.

Renders n documents with varied data (docgen.pipeline.render.render_docx), then for each pool size
converts a sample of them one by one (all servers busy) and all of them with ``to_pdfs`` for
each batch size, and prints seconds per document, the ratio, and whether every merged result
equals its single conversion (page count and ``pdftotext -layout`` text per page).

    uv run python bench/convert_many.py [-n 400] [--servers 1 2] [--batch-sizes 10 25 50 100]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pikepdf

from docgen.pipeline.convert import UnoserverPool
from docgen.pipeline.render import render_docx
from docgen.templating.catalogue import load_templates
from tests.pdftools import pages_text

REPO = Path(__file__).resolve().parent.parent

DEPAN = ["Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Eko", "Rina", "Hendra", "Nur", "Yusuf"]
BELAKANG = ["Santoso", "Wahyuni", "Hidayat", "Lestari", "Saputra", "Rahmawati", "Nugroho", "Putri"]
GELAR_DEPAN = ["", "", "Drs. ", "Ir. ", "dr. ", "H. "]
GELAR_BELAKANG = ["", "", ", S.E.", ", S.Kom.", ", M.Si.", ", S.H., M.H.", ", S.Sos., M.AP."]
PANGKAT = ["II/c", "III/a", "III/b", "III/c", "III/d", "IV/a", "IV/b", "Penata Muda Tk. I"]
JABATAN = [
    "Kepala Subbagian Umum dan Kepegawaian",
    "Analis Kebijakan Ahli Muda",
    "Pranata Komputer Ahli Pertama",
    "Kepala Seksi Kurikulum dan Penilaian Sekolah Dasar",
    "Kepala Bidang Pengadaan, Pemberhentian dan Informasi Kepegawaian pada Badan Kepegawaian "
    "dan Pengembangan Sumber Daya Manusia",
]
INSTANSI = [
    "Dinas Pendidikan dan Kebudayaan",
    "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Kabupaten Sidoarjo",
    "Sekretariat Daerah Kabupaten Sidoarjo",
    "Dinas Kependudukan dan Pencatatan Sipil",
    "Kecamatan Waru",
]
UNIT = ["", "", "Bagian Organisasi", "Bidang Pembinaan Sekolah Dasar", "Subbagian Keuangan"]


def nip(rng: random.Random) -> str:
    lahir = date(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
    tmt = lahir.year + rng.randrange(20, 30)
    bulan, kelamin, urut = rng.randrange(1, 13), rng.choice("12"), rng.randrange(1, 999)
    return f"{lahir:%Y%m%d}{tmt}{bulan:02d}{kelamin}{urut:03d}"


def pakta_rows(n: int, seed: int = 7) -> list[dict[str, object]]:
    """``n`` realistic, varied rows; every seventh has a jabatan long enough for a second page."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        nama = (
            rng.choice(GELAR_DEPAN)
            + f"{rng.choice(DEPAN)} {rng.choice(BELAKANG)}"
            + rng.choice(GELAR_BELAKANG)
        )
        jabatan = rng.choice(JABATAN)
        if i % 7 == 3:
            jabatan = " merangkap ".join([jabatan] * 12)
        rows.append(
            {
                "nama": nama,
                "nip": nip(rng),
                "pangkat": rng.choice(PANGKAT),
                "jabatan": jabatan,
                "unit_kerja": rng.choice(UNIT),
                "instansi": rng.choice(INSTANSI),
                "tempat": "Sidoarjo",
                "tanggal": (date(2024, 1, 2) + timedelta(days=rng.randrange(0, 300))).isoformat(),
            }
        )
    return rows


def libreoffice_cpu_seconds(workdir: Path) -> float:
    """CPU time used so far by the soffice processes whose profile lies in ``workdir``.

    Unlike wall time this hardly depends on what else the (shared) machine is doing.
    """
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if b"soffice" in cmdline and str(workdir).encode() in cmdline:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def same_document(a: bytes, b: bytes) -> bool:
    with pikepdf.open(io.BytesIO(a)) as pa, pikepdf.open(io.BytesIO(b)) as pb:
        if len(pa.pages) != len(pb.pages):
            return False
    return pages_text(a) == pages_text(b)


async def measure(
    docxs: list[bytes], servers: int, batch_sizes: list[int], sample: int, check: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="docgen-bench-") as tmp:
        workdir = Path(tmp)
        pool = UnoserverPool(workdir, size=servers, python="/usr/bin/python3")
        pool.start()
        try:
            await pool.to_pdfs(docxs[:4])  # warm-up: first loads cost extra
            await asyncio.gather(*(pool.to_pdf(d) for d in docxs[:servers]))
            singles_docs = docxs[:sample]
            t0, lo0 = time.perf_counter(), libreoffice_cpu_seconds(workdir)
            singles = await asyncio.gather(*(pool.to_pdf(d) for d in singles_docs))
            single = (time.perf_counter() - t0) / len(singles_docs)
            lo = (libreoffice_cpu_seconds(workdir) - lo0) / len(singles_docs)
            print(
                f"servers={servers}  one by one: {single:.4f} s/doc"
                f" (LibreOffice CPU {lo:.4f} s/doc; {len(singles_docs)} docs)"
            )
            for batch_size in batch_sizes:
                pool.batch_size = batch_size
                t0, cpu0 = time.perf_counter(), time.process_time()
                lo0 = libreoffice_cpu_seconds(workdir)
                merged = await pool.to_pdfs(docxs)
                wall = (time.perf_counter() - t0) / len(docxs)
                cpu = (time.process_time() - cpu0) / len(docxs)
                lo = (libreoffice_cpu_seconds(workdir) - lo0) / len(docxs)
                verdict = ""
                if check:
                    equal = sum(same_document(a, b) for a, b in zip(singles, merged, strict=False))
                    verdict = f"  equal to single: {equal}/{len(singles)}"
                print(
                    f"servers={servers}  batch={batch_size:4d}: {wall:.4f} s/doc"
                    f" (LibreOffice CPU {lo:.4f}, merge+split CPU {cpu:.4f} s/doc)"
                    f"  {single / wall:5.1f}x faster" + verdict
                )
        finally:
            pool.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="documents to convert merged")
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--sample", type=int, default=60, help="documents converted one by one")
    parser.add_argument("--no-check", action="store_true", help="skip the equality check")
    args = parser.parse_args()

    template = load_templates(REPO / "templates")["pakta-integritas"]
    rows = pakta_rows(args.n)
    t0 = time.perf_counter()
    docxs = [
        render_docx(template, row, nomor=f"800.1.12/{i + 1}/BKPSDM/VI/2024")
        for i, row in enumerate(rows)
    ]
    print(f"rendered {len(docxs)} documents: {(time.perf_counter() - t0) / len(docxs):.4f} s/doc")
    for servers in args.servers:
        asyncio.run(
            measure(docxs, servers, args.batch_sizes, min(args.sample, args.n), not args.no_check)
        )


if __name__ == "__main__":
    main()
