"""locate_anchors on the real templates as LibreOffice converts them, checked against poppler's
pdftotext -bbox (the backend it replaced); from several threads at once; on rotated and cropped
pages, text outside the BMP, and damaged or encrypted PDFs."""

from __future__ import annotations

import io
import random
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from docx import Document
from docx.enum.text import WD_BREAK
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph

from docgen.pipeline.render import render_docx
from docgen.templating.catalogue import load_template
from docgen.templating.validation import signing_roles, validate_data
from signing.errors import AnchorNotFound, InvalidPdf
from signing.prepare.anchors import AnchorPosition, anchor_marker, locate_anchors
from tests.conftest import pakta_data
from tests.pdftools import soffice_convert
from tests.test_templates_content import ba_data, mou_data

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TOLERANCE = 0.5  # pt
NOMOR = "800.1.3.3/17/438.1.1.3/2024"


@dataclass(frozen=True)
class Converted:
    pdf: bytes
    roles: list[str]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Converted]:
    """The three templates filled with valid data, converted by LibreOffice; the berita acara
    with enough participants to run over several pages."""
    workdir = tmp_path_factory.mktemp("anchors")
    data = {
        "pakta-integritas": pakta_data(),
        "nota-kesepahaman": mou_data(),
        "berita-acara-pelantikan": ba_data(40),
    }
    roles = {}
    for template_id, values in data.items():
        template = load_template(TEMPLATES / template_id)
        clean = validate_data(template.manifest, values)
        docx = render_docx(template, clean, nomor=NOMOR)
        (workdir / f"{template_id}.docx").write_bytes(docx)
        roles[template_id] = [role.name for role in signing_roles(template.manifest, clean)]
    soffice_convert(workdir, [workdir / f"{t}.docx" for t in data])
    return {t: Converted((workdir / f"{t}.pdf").read_bytes(), roles[t]) for t in data}


_PAGE_OR_WORD = re.compile(
    r'<page width="([\d.]+)" height="([\d.]+)">'
    r'|<word xMin="([\d.]+)" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>'
)


def pdftotext_anchors(pdf: bytes, roles: list[str], workdir: Path) -> dict[str, AnchorPosition]:
    """Where pdftotext -bbox puts each role's marker, as a word of its own: the word box's
    lower-left corner, turned into PDF user space (the page's crop box starts at the origin in
    LibreOffice's output)."""
    path = workdir / "reference.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    wanted = {anchor_marker(role): role for role in roles}
    found: dict[str, AnchorPosition] = {}
    page, width, height = -1, 0.0, 0.0
    for m in _PAGE_OR_WORD.finditer(out):
        if m[1]:
            page, width, height = page + 1, float(m[1]), float(m[2])
        elif m[5] in wanted and wanted[m[5]] not in found:
            found[wanted[m[5]]] = AnchorPosition(
                page=page,
                x=float(m[3]),
                y=height - float(m[4]),
                page_width=width,
                page_height=height,
            )
    assert set(found) == set(roles), f"pdftotext sees no word {set(wanted) - set(found)}"
    return found


def assert_same_place(actual: AnchorPosition, expected: AnchorPosition) -> None:
    assert actual.page == expected.page
    assert (actual.x, actual.y) == pytest.approx((expected.x, expected.y), abs=TOLERANCE)
    assert (actual.page_width, actual.page_height) == pytest.approx(
        (expected.page_width, expected.page_height), abs=TOLERANCE
    )


# --- the real templates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template_id", ["pakta-integritas", "nota-kesepahaman", "berita-acara-pelantikan"]
)
def test_anchors_where_pdftotext_sees_the_markers(
    converted: dict[str, Converted], template_id: str, tmp_path: Path
) -> None:
    doc = converted[template_id]
    expected = pdftotext_anchors(doc.pdf, doc.roles, tmp_path)

    anchors = locate_anchors(doc.pdf, doc.roles)

    assert set(anchors) == set(doc.roles)
    for role in doc.roles:
        assert_same_place(anchors[role], expected[role])


def test_templates_put_signatures_on_several_pages(converted: dict[str, Converted]) -> None:
    """The comparison above covers markers beyond the first page, and documents whose roles sign
    on different pages from the last one."""
    mou = converted["nota-kesepahaman"]
    ba = converted["berita-acara-pelantikan"]
    assert {a.page for a in locate_anchors(mou.pdf, mou.roles).values()} == {2}
    assert len(pikepdf.open(io.BytesIO(ba.pdf)).pages) > 1
    assert {a.page for a in locate_anchors(ba.pdf, ba.roles).values()} == {0}


def test_each_role_of_a_document_on_its_own(converted: dict[str, Converted]) -> None:
    """Asking for fewer roles, or in another order, finds each at the same place."""
    for doc in converted.values():
        together = locate_anchors(doc.pdf, doc.roles)
        for role in reversed(doc.roles):
            assert locate_anchors(doc.pdf, [role]) == {role: together[role]}


def test_missing_role_among_found_ones(converted: dict[str, Converted]) -> None:
    ba = converted["berita-acara-pelantikan"]
    with pytest.raises(AnchorNotFound) as err:
        locate_anchors(ba.pdf, [*ba.roles, "pihak_kedua"])
    assert err.value.marker == "#TTD:pihak_kedua#"


# --- threads -------------------------------------------------------------------------------------


def test_many_threads_at_once(converted: dict[str, Converted]) -> None:
    """Eight threads, started together, each locating anchors in all three documents and failing
    on a broken one, over and over: every call gives the single-threaded answer. PDFium is not
    thread-safe, so without serialisation this corrupts results or crashes the process."""
    docs = list(converted.values())
    expected = [locate_anchors(d.pdf, d.roles) for d in docs]
    broken = docs[0].pdf[: len(docs[0].pdf) // 3]
    threads = 8
    start = threading.Barrier(threads)
    results: list[list[dict[str, AnchorPosition]]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            start.wait()
            for round_ in range(15):
                for i, d in enumerate(docs):
                    results[slot].append(locate_anchors(d.pdf, d.roles))
                    if (slot + round_ + i) % 4 == 0:
                        with pytest.raises((InvalidPdf, AnchorNotFound)):
                            locate_anchors(broken, d.roles)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)

    assert not any(w.is_alive() for w in workers)
    assert errors == []
    for slot in results:
        assert slot == expected * 15


# --- page geometry and text ----------------------------------------------------------------------


def _edited(pdf: bytes, edit: Callable[[pikepdf.Pdf], None]) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        edit(doc)
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def test_rotated_page_keeps_user_space(converted: dict[str, Converted]) -> None:
    """The signature field's /Rect is in user space, which /Rotate does not change (pdftotext's
    coordinates would have turned with the page)."""
    pakta = converted["pakta-integritas"]
    upright = locate_anchors(pakta.pdf, pakta.roles)

    def rotate(doc: pikepdf.Pdf) -> None:
        doc.pages[0].Rotate = 90

    assert locate_anchors(_edited(pakta.pdf, rotate), pakta.roles) == upright


def test_crop_box_gives_page_size_not_position(converted: dict[str, Converted]) -> None:
    pakta = converted["pakta-integritas"]
    (role,) = pakta.roles
    full = locate_anchors(pakta.pdf, [role])[role]

    def crop(doc: pikepdf.Pdf) -> None:
        doc.pages[0].CropBox = [10, 20, 500, 800]

    cropped = locate_anchors(_edited(pakta.pdf, crop), [role])[role]
    assert (cropped.page, cropped.x, cropped.y) == (full.page, full.x, full.y)
    assert (cropped.page_width, cropped.page_height) == pytest.approx((490, 780))


def test_marker_after_text_outside_the_bmp(tmp_path: Path) -> None:
    """Mathematical letters and emoji take two UTF-16 units in PDFium's text but one character
    in Python's; the marker after them is still found where pdftotext sees it."""
    doc = Document()
    paragraph = doc.add_paragraph(
        "Tanda tangan \U0001f600\U0001f600 \U0001d401\U0001d414\U0001d403 "
    )
    run = paragraph.add_run(anchor_marker("saksi"))
    run.font.size = Pt(2)
    run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    doc.save(str(tmp_path / "wide.docx"))
    soffice_convert(tmp_path, [tmp_path / "wide.docx"])
    pdf = (tmp_path / "wide.pdf").read_bytes()

    anchor = locate_anchors(pdf, ["saksi"])["saksi"]

    assert_same_place(anchor, pdftotext_anchors(pdf, ["saksi"], tmp_path)["saksi"])


# --- markers across pages, split and glued -------------------------------------------------------


def _hidden(paragraph: Paragraph, text: str) -> None:
    """A run as ttd() renders one: white, 2 pt."""
    run = paragraph.add_run(text)
    run.font.size = Pt(2)
    run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)


@pytest.fixture(scope="module")
def three_pages(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Page 0: no marker, but "#" in bold, italic and plain text and a near miss
    (#TTD:saksi_1#). Page 1: saksi's marker; pihak_kedua's in three runs of different
    formatting; pihak_pertama's broken by a line break. Page 2: saksi's marker again, and
    mengetahui's glued to visible words on both sides."""
    doc = Document()
    first = doc.add_paragraph()
    first.add_run("Nomor urut #1 dan ")
    first.add_run("#2").bold = True
    first.add_run(" serta ")
    first.add_run("#3").italic = True
    _hidden(first, anchor_marker("saksi_1"))
    first.add_run().add_break(WD_BREAK.PAGE)

    second = doc.add_paragraph("Saksi ")
    _hidden(second, anchor_marker("saksi"))
    second.add_run(" Pihak kedua ")
    _hidden(second, "#TTD:pi")
    split = second.add_run("hak_ke")
    split.font.size = Pt(2)
    split.bold = True
    _hidden(second, "dua#")
    second.add_run(" Pihak pertama ")
    _hidden(second, "#TTD:")
    second.add_run().add_break(WD_BREAK.LINE)
    _hidden(second, "pihak_pertama#")
    second.add_run().add_break(WD_BREAK.PAGE)

    third = doc.add_paragraph("Saksi lagi ")
    _hidden(third, anchor_marker("saksi"))
    doc.add_paragraph(f"Mengetahui,{anchor_marker('mengetahui')}Kepala Dinas")

    workdir = tmp_path_factory.mktemp("pages")
    doc.save(str(workdir / "pages.docx"))
    soffice_convert(workdir, [workdir / "pages.docx"])
    pdf = (workdir / "pages.pdf").read_bytes()
    with pikepdf.open(io.BytesIO(pdf)) as converted:
        assert len(converted.pages) == 3
    return pdf


def test_first_occurrence_wins_across_pages(three_pages: bytes, tmp_path: Path) -> None:
    """saksi's marker is on pages 1 and 2, after a page whose text has "#" in three fonts: the
    one on page 1 wins, where pdftotext first sees it."""
    anchor = locate_anchors(three_pages, ["saksi"])["saksi"]

    assert anchor.page == 1
    assert_same_place(anchor, pdftotext_anchors(three_pages, ["saksi"], tmp_path)["saksi"])


def test_marker_split_over_runs_and_lines(three_pages: bytes, tmp_path: Path) -> None:
    path = tmp_path / "pages.pdf"
    path.write_bytes(three_pages)
    page_1 = subprocess.run(
        ["pdftotext", "-f", "2", "-l", "2", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    lines = [line.strip() for line in page_1.splitlines()]
    assert any(line.endswith("#TTD:") for line in lines)  # the line break splits the marker
    assert "pihak_pertama#" in lines

    anchors = locate_anchors(three_pages, ["pihak_pertama", "pihak_kedua"])

    # three runs on one line are one word for pdftotext too
    expected = pdftotext_anchors(three_pages, ["pihak_kedua"], tmp_path)["pihak_kedua"]
    assert_same_place(anchors["pihak_kedua"], expected)
    # the marker starts before the line break: on the first line, with saksi's marker
    saksi = locate_anchors(three_pages, ["saksi"])["saksi"]
    assert anchors["pihak_pertama"].page == 1
    assert anchors["pihak_pertama"].y == pytest.approx(saksi.y, abs=TOLERANCE)


def test_marker_glued_to_words_on_a_later_page(three_pages: bytes) -> None:
    """Only on the last page, between visible words without spaces; the near miss
    #TTD:saksi_1# on page 0 is saksi_1's marker, not saksi's."""
    anchors = locate_anchors(three_pages, ["mengetahui", "saksi_1"])

    assert anchors["mengetahui"].page == 2
    assert anchors["saksi_1"].page == 0
    with pytest.raises(AnchorNotFound):
        locate_anchors(three_pages, ["pihak_ketiga"])


# --- untrusted bytes -----------------------------------------------------------------------------


def test_encrypted_pdf_is_invalid(converted: dict[str, Converted]) -> None:
    pakta = converted["pakta-integritas"]
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pakta.pdf)) as doc:
        doc.save(out, encryption=pikepdf.Encryption(user="rahasia", owner="rahasia"))
    with pytest.raises(InvalidPdf, match="PDFium cannot read"):
        locate_anchors(out.getvalue(), pakta.roles)


def test_pdf_without_pages_is_invalid() -> None:
    out = io.BytesIO()
    pikepdf.new().save(out)
    with pytest.raises(InvalidPdf, match="no pages"):
        locate_anchors(out.getvalue(), ["saksi"])


def test_damaged_pdfs_fail_cleanly(converted: dict[str, Converted]) -> None:
    """Truncated and byte-flipped copies of a real document: each is found, repaired, or refused
    with InvalidPdf or AnchorNotFound; no other exception, no crash."""
    rng = random.Random(20240627)
    pdf = converted["berita-acara-pelantikan"].pdf
    roles = converted["berita-acara-pelantikan"].roles
    damaged = [pdf[:cut] for cut in (10, 500, len(pdf) // 2, len(pdf) - 200)]
    for _ in range(60):
        copy = bytearray(pdf)
        for _ in range(rng.choice((1, 8, 64))):
            copy[rng.randrange(len(copy))] = rng.randrange(256)
        damaged.append(bytes(copy))
    outcomes = set()
    for candidate in damaged:
        try:
            locate_anchors(candidate, roles)
            outcomes.add("found")
        except (InvalidPdf, AnchorNotFound) as exc:
            outcomes.add(type(exc).__name__)
    assert "InvalidPdf" in outcomes
