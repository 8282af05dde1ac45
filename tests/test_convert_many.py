"""Many documents per LibreOffice call (UnoserverPool.to_pdfs) against real LibreOffice: every
split PDF is the document a single conversion gives, in order, standalone; a broken document is
reported by index without costing the others; both servers of a pool work at once."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import docx
import pikepdf
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from PIL import Image

from docgen.errors import ConversionFailed
from docgen.pipeline.convert import BatchConversionFailed, UnoserverPool
from docgen.pipeline.fast.merge import start_bookmark
from docgen.pipeline.render import render_docx
from docgen.settings import Settings
from docgen.templating.catalogue import load_templates
from docgen.templating.manifest import Template
from tests.conftest import pakta_data
from tests.pdftools import pages_text
from tests.test_lifecycle import processes_under

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LONG_JABATAN = " merangkap ".join(["Kepala Bidang Pengadaan, Pemberhentian dan Informasi"] * 14)
BATCH_MARKER = re.compile(start_bookmark(0)[:-5])


def rows() -> list[dict[str, object]]:
    """Twelve people; two have a jabatan long enough to push the signature to a second page."""
    names = [
        "Drs. Budi Santoso, M.Si.",
        "Siti Rahmawati, S.E.",
        "Ir. Agus Hidayat",
        "dr. Dewi Lestari",
        "Rudi Saputra, S.Kom.",
        "Hj. Sri Wahyuni, S.H., M.H.",
        "Eko Nugroho",
        "Rina Putri, S.Sos., M.AP.",
        "Hendra Gunawan",
        "Nur Aini",
        "Yusuf Maulana, S.T.",
        "Dra. Kartini Utami",
    ]
    result = []
    for i, nama in enumerate(names):
        nip = f"1980{i + 1:02d}152005{i % 12 + 1:02d}{1 + i % 2}{i + 1:03d}"
        data = pakta_data(nama=nama, nip=nip)
        if i in (3, 8):
            data["jabatan"] = LONG_JABATAN
        if i % 3 == 1:
            data["unit_kerja"] = "Bidang Pembinaan Sekolah Dasar"
        result.append(data)
    return result


def formatted_nip(nip: object) -> str:
    digits = str(nip)
    return f"{digits[:8]} {digits[8:14]} {digits[14]} {digits[15:]}"


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnoserverPool]:
    converter = UnoserverPool(
        tmp_path_factory.mktemp("converter"), size=2, python=Settings().uno_python
    )
    converter.start()
    try:
        yield converter
    finally:
        converter.stop()


@pytest.fixture(scope="module")
def pakta() -> Template:
    return load_templates(TEMPLATES)["pakta-integritas"]


@pytest.fixture(scope="module")
def documents(pakta: Template) -> list[bytes]:
    return [
        render_docx(pakta, data, nomor=f"800.1.12/{i + 1}/BKPSDM/VI/2024")
        for i, data in enumerate(rows())
    ]


@pytest.fixture(scope="module")
def singles(pool: UnoserverPool, documents: list[bytes]) -> list[bytes]:
    async def convert() -> list[bytes]:
        return [await pool.to_pdf(docx) for docx in documents]  # one at a time, on purpose

    return anyio.run(convert)


@pytest.fixture(scope="module")
def merged(pool: UnoserverPool, documents: list[bytes], singles: list[bytes]) -> list[bytes]:
    # Requested after `singles` (one server busy at a time), so peak_busy says what to_pdfs did.
    assert pool.peak_busy == 1
    calls = libreoffice_calls(pool)
    pdfs = anyio.run(pool.to_pdfs, documents)
    assert libreoffice_calls(pool) - calls == 2, "expected one merged call per server"
    return pdfs


def libreoffice_calls(pool: UnoserverPool) -> int:
    return sum(server.conversions for server in pool.stats())


def page_count(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def test_each_split_pdf_equals_its_single_conversion(
    singles: list[bytes], merged: list[bytes]
) -> None:
    assert len(merged) == len(singles) == 12
    counts = [page_count(pdf) for pdf in singles]
    assert [page_count(pdf) for pdf in merged] == counts
    assert set(counts) == {1, 2}, "the long jabatan should take a second page"
    for i, (single, split) in enumerate(zip(singles, merged, strict=True)):
        single_pages, split_pages = pages_text(single), pages_text(split)
        assert split_pages == single_pages, f"document {i} differs"
        for text in (*single_pages, *split_pages):
            assert not BATCH_MARKER.search(text)


def test_order_is_preserved(merged: list[bytes]) -> None:
    for i, (data, pdf) in enumerate(zip(rows(), merged, strict=True)):
        text = "\n".join(pages_text(pdf))
        assert str(data["nama"]) in text, f"document {i} is not {data['nama']}'s"
        assert formatted_nip(data["nip"]) in text
        others = [str(row["nama"]) for j, row in enumerate(rows()) if j != i]
        assert not [name for name in others if name in text]


def test_split_pdfs_are_standalone(merged: list[bytes], tmp_path: Path) -> None:
    for i, pdf in enumerate(merged):
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            page_objects = [
                obj
                for obj in doc.objects
                if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == pikepdf.Name.Page
            ]
            assert len(page_objects) == len(doc.pages), f"document {i} carries foreign pages"
            assert "/Dests" not in doc.Root and "/Names" not in doc.Root
            assert "/Outlines" not in doc.Root
        path = tmp_path / f"{i}.pdf"
        path.write_bytes(pdf)
        fonts = subprocess.run(
            ["pdffonts", str(path)], capture_output=True, text=True, check=True, timeout=30
        ).stdout.splitlines()[2:]
        assert fonts, f"document {i} has no fonts"
        # columns: name type encoding emb sub uni object ID
        assert all(line.split()[-5] == "yes" for line in fonts), "\n".join(fonts)


def test_two_servers_convert_at_once(pool: UnoserverPool, merged: list[bytes]) -> None:
    assert pool.peak_busy == 2
    stats = pool.stats()
    assert len(stats) == 2
    # Each server converted a merged chunk (more documents than LibreOffice calls), and its
    # own unoserver log shows it was asked.
    for server in stats:
        assert server.documents > server.conversions
    logs = sorted(pool.workdir.glob("unoserver-*.log"))
    assert len(logs) == 2
    for log in logs:
        assert "Opening " in log.read_text()


def test_switched_off_each_document_is_converted_on_its_own(
    pool: UnoserverPool,
    documents: list[bytes],
    singles: list[bytes],
    merged: list[bytes],
    library_path: None,
) -> None:
    before = pool.stats()
    pdfs = anyio.run(pool.to_pdfs, documents)
    after = pool.stats()
    calls = sum(s.conversions for s in after) - sum(s.conversions for s in before)
    converted = sum(s.documents for s in after) - sum(s.documents for s in before)
    assert calls == converted == len(documents), "not one LibreOffice call per document"
    # The same pages and text as each document's single conversion, and as the merged one.
    assert [page_count(pdf) for pdf in pdfs] == [page_count(pdf) for pdf in singles]
    assert [page_count(pdf) for pdf in pdfs] == [page_count(pdf) for pdf in merged]
    for i, (pdf, single, split) in enumerate(zip(pdfs, singles, merged, strict=True)):
        assert pages_text(pdf) == pages_text(single) == pages_text(split), f"document {i} differs"


def test_servers_run_without_word_count_and_word_collection(
    pool: UnoserverPool, merged: list[bytes]
) -> None:
    # After LibreOffice has started on it and converted, each profile still holds the settings
    # we gave it (LibreOffice would rewrite the file without them had it refused them).
    profiles = sorted(pool.workdir.glob("profile-*/user/registrymodifications.xcu"))
    assert len(profiles) == 2
    for settings in profiles:
        text = settings.read_text(encoding="utf-8")
        assert re.search(r'"CollectWords" oor:op="fuse"><value>false<', text)
        statusbar = re.search(r'"private:resource/statusbar/statusbar".*?</node>', text, re.S)
        assert statusbar
        assert '"Visible" oor:op="fuse"><value>false<' in statusbar.group(0)


def test_a_broken_document_is_reported_and_the_others_convert(
    pool: UnoserverPool, documents: list[bytes], singles: list[bytes]
) -> None:
    batch = list(documents[:6])
    batch[2] = batch[2][: len(batch[2]) // 2]  # a truncated DOCX
    batch[4] = b"PK\x03\x04 not really a zip"
    with pytest.raises(BatchConversionFailed) as caught:
        anyio.run(pool.to_pdfs, batch)
    failed = caught.value
    assert sorted(failed.failures) == [2, 4]
    assert all(isinstance(error, ConversionFailed) for error in failed.failures.values())
    assert [i for i, pdf in enumerate(failed.pdfs) if pdf is None] == [2, 4]
    for i in (0, 1, 3, 5):
        pdf = failed.pdfs[i]
        assert pdf is not None
        assert pages_text(pdf) == pages_text(singles[i])
    # Documents reach LibreOffice as files; none is left behind, also of the failed calls.
    assert (pool.workdir / "exchange").is_dir()
    assert list((pool.workdir / "exchange").iterdir()) == []


def test_a_chunk_whose_libreoffice_dies_is_redone_one_by_one(
    tmp_path: Path, documents: list[bytes], singles: list[bytes]
) -> None:
    converter = UnoserverPool(tmp_path, size=1, python=Settings().uno_python)
    converter.start()
    try:
        # Kill the soffice behind the only server: the merged call fails, the server restarts
        # and every document of the chunk is converted on its own.
        for pid in soffice_processes(tmp_path):
            os.kill(pid, signal.SIGKILL)
        pdfs = anyio.run(converter.to_pdfs, documents[:4])
        assert [pages_text(pdf) for pdf in pdfs] == [pages_text(pdf) for pdf in singles[:4]]
        (server,) = converter.stats()
        assert (server.conversions, server.documents) == (4, 4)
    finally:
        converter.stop()


def test_a_server_that_exits_on_start_is_started_again_on_fresh_ports(
    tmp_path: Path, documents: list[bytes]
) -> None:
    converter = UnoserverPool(tmp_path, size=1, python=Settings().uno_python)
    (taken,) = [server.port for server in converter.stats()]
    # Another program holds the port picked for unoserver: it cannot bind it and exits.
    with socket.create_server(("127.0.0.1", taken)):
        converter.start()
    try:
        (server,) = converter.stats()
        assert server.port != taken
        assert "exited" not in (tmp_path / f"unoserver-{server.port}.log").read_text()
        assert (tmp_path / f"unoserver-{taken}.log").exists()  # the first try, kept to read
        (pdf,) = anyio.run(converter.to_pdfs, documents[:1])
        assert pdf.startswith(b"%PDF")
    finally:
        converter.stop()


def test_a_start_removes_what_a_killed_service_left_behind(tmp_path: Path) -> None:
    (tmp_path / "exchange").mkdir()
    (tmp_path / "exchange" / "0123abcd.docx").write_bytes(b"PK\x03\x04 a document")
    (tmp_path / "profile-40000" / "user").mkdir(parents=True)
    (tmp_path / "tmp-40000").mkdir()
    (tmp_path / "tmp-40000" / "lu1234abcd.tmp").write_bytes(b"LibreOffice's scratch")
    converter = UnoserverPool(tmp_path, size=1, python=Settings().uno_python)
    converter.start()
    try:
        assert not (tmp_path / "exchange").exists()
        # only the running server's own profile and temporary files
        port = converter.stats()[0].port
        assert [p.name for p in tmp_path.glob("profile-*")] == [f"profile-{port}"]
        assert [p.name for p in tmp_path.glob("tmp-*")] == [f"tmp-{port}"]
    finally:
        converter.stop()
    # Stopped: LibreOffice's temporary files went with it.
    assert not list(tmp_path.glob("tmp-*"))


def field(paragraph: Paragraph, instruction: str) -> None:
    """A complex field (begin, instruction, separate, cached result, end) in a new run."""
    run = paragraph.add_run()._r
    for kind, text in (("begin", ""), ("", instruction), ("separate", ""), ("", "1"), ("end", "")):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == instruction:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {text} "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run.append(el)


def simple_field(paragraph: Paragraph, instruction: str) -> None:
    """A w:fldSimple field with a cached result."""
    el = OxmlElement("w:fldSimple")
    el.set(qn("w:instr"), f" {instruction} ")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    el.append(run)
    paragraph._p.append(el)


def letter(number: int, paragraphs: int, total: str = "") -> bytes:
    """A document of the shape templates have: a kop with a logo and its own text in the
    header, "Halaman X dari Y" in the footer (Y: ``total``, a NUMPAGES field, simple or
    complex), a numbered list, and body text of some length."""
    doc = docx.Document()
    section = doc.sections[0]
    logo = io.BytesIO()
    Image.new("RGB", (40, 40), (180, 20, 20)).save(logo, "PNG")
    kop = section.header.paragraphs[0]
    kop.add_run().add_picture(logo, width=Pt(20))
    kop.add_run(f" KOP SURAT NOMOR {number}")
    footer = section.footer.paragraphs[0]
    footer.add_run("Halaman ")
    field(footer, "PAGE")
    if total:
        footer.add_run(" dari ")
        (simple_field if total == "simple" else field)(footer, "NUMPAGES \\* MERGEFORMAT")
    doc.add_paragraph(f"Surat nomor {number}", style="Title")
    for item in range(3):
        doc.add_paragraph(f"Butir {item} surat {number}", style="List Number")
    for n in range(paragraphs):
        doc.add_paragraph(f"Paragraf {n} surat {number}. " + "Isi surat yang panjang. " * 30)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_headers_images_page_numbers_and_lists_restart_per_document(
    pool: UnoserverPool,
) -> None:
    letters = [letter(0, 0), letter(1, 8), letter(2, 14), letter(3, 14), letter(4, 2)]

    async def convert() -> tuple[list[bytes], list[bytes]]:
        return [await pool.to_pdf(d) for d in letters], await pool.to_pdfs(letters)

    calls = libreoffice_calls(pool)
    singles, merged = anyio.run(convert)
    assert libreoffice_calls(pool) - calls == 5 + 2, "5 single calls, 2 merged chunks"
    assert [page_count(pdf) for pdf in merged] == [page_count(pdf) for pdf in singles]
    assert page_count(singles[3]) == 3
    for single, split in zip(singles, merged, strict=True):
        assert pages_text(split) == pages_text(single)
    last_page = pages_text(merged[3])[-1]
    assert "KOP SURAT NOMOR 3" in last_page and "Halaman 3" in last_page
    assert "1. Butir 0 surat 4" in pages_text(merged[4])[0].replace("  ", " ")
    with pikepdf.open(io.BytesIO(merged[1])) as doc:
        images = [image for page in doc.pages for image in page.get_images()]
        assert images, "the logo in the header is missing"


@pytest.mark.parametrize("total", ["complex", "simple"])
def test_page_totals_count_each_document(pool: UnoserverPool, total: str) -> None:
    # NUMPAGES would count the whole merged file: each document's own total is written in
    # after a first merged conversion (so two LibreOffice calls per chunk).
    letters = [letter(n, paragraphs, total) for n, paragraphs in enumerate((0, 14, 6, 2))]

    async def convert() -> tuple[list[bytes], list[bytes]]:
        return [await pool.to_pdf(d) for d in letters], await pool.to_pdfs(letters)

    calls = libreoffice_calls(pool)
    singles, merged = anyio.run(convert)
    assert libreoffice_calls(pool) - calls == 4 + 2 * 2
    for single, split in zip(singles, merged, strict=True):
        assert pages_text(split) == pages_text(single)
    assert [page_count(pdf) for pdf in merged] == [1, 3, 2, 1]
    assert "Halaman 2 dari 3" in pages_text(merged[1])[1]
    assert "Halaman 1 dari 1" in pages_text(merged[3])[0]


def soffice_processes(directory: Path) -> list[int]:
    """Our soffice processes: their command line names a profile inside ``directory``."""
    pids = [
        pid
        for pid in processes_under(directory)
        if b"soffice" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert pids, "no soffice found for the pool"
    return pids
