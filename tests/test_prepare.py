"""The prepare half of signing/: anchors found in real LibreOffice output, the verification mark on
every page (checked by rendering with poppler and decoding with zxing-cpp), empty signature fields
that pyHanko can sign into and poppler's pdfsig can read."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import secrets
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.shared import Cm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from docgen.documents.service import new_verify_code
from signing.errors import AnchorNotFound, InvalidPdf
from signing.fast.qr import qr_matrix
from signing.prepare.anchors import AnchorPosition, anchor_marker, locate_anchors
from signing.prepare.stamp import (
    URL_SAFE_CHARACTERS,
    FooterStyle,
    SignatureBox,
    prepare_pdf,
    signature_box_at,
)
from tests.pdftools import soffice_convert

ROLE = "pembuat_pernyataan"
VERIFY_URL = "https://docgen.example.go.id/v/Q7KXW3M2ZP4N8R6T5YH9CJ2DVAE4"
FOOTER = (
    "Dokumen ini telah ditandatangani secara elektronik menggunakan sertifikat elektronik. "
    f"Keaslian dokumen dapat diverifikasi melalui pindai kode QR atau {VERIFY_URL}."
)
MARGIN = 2.5  # cm, all four sides of the test documents
MARGIN_PT = MARGIN * 72 / 2.54


# --- documents made with python-docx and converted by real LibreOffice -------------------------


def _new_document() -> DocxDocument:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Cm(MARGIN))
    return doc


def _marker_run(paragraph: Paragraph, text: str, size: float = 2) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)


def _pakta_docx(path: Path) -> None:
    """Body text over two pages, then the signature block with its marker on page 2."""
    doc = _new_document()
    doc.add_heading("PAKTA INTEGRITAS", 1)
    for i in range(1, 25):
        doc.add_paragraph(
            f"{i}. Saya berjanji menjaga netralitas ASN sebelum, selama, dan sesudah pelaksanaan "
            f"pemilihan umum; butir pernyataan nomor {i}."
        )
    doc.add_paragraph("Jakarta, 27 Juni 2024")
    doc.add_paragraph("Yang membuat pernyataan,")
    _marker_run(doc.add_paragraph(), anchor_marker(ROLE))
    for _ in range(4):
        doc.add_paragraph("")
    doc.add_paragraph("BUDI SANTOSO, S.Kom.")
    doc.add_paragraph("NIP. 19860926 201505 1 001")
    doc.save(str(path))


def _mou_docx(path: Path) -> None:
    """Awkward markers: split over runs of different sizes, glued to visible text, and two
    markers side by side in a two-column signature table."""
    doc = _new_document()
    doc.add_paragraph("NOTA KESEPAHAMAN ANTARA KECAMATAN X DENGAN PANWASLU KECAMATAN X")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "PIHAK PERTAMA,"
    table.cell(0, 1).text = "PIHAK KEDUA,"
    left = table.cell(1, 0).paragraphs[0]
    _marker_run(left, "#TTD:", 2)
    _marker_run(left, "pihak_", 3)
    _marker_run(left, "pertama#", 1.5)
    _marker_run(table.cell(1, 1).paragraphs[0], anchor_marker("pihak_kedua"))
    glued = doc.add_paragraph("Mengetahui, Camat")
    _marker_run(glued, anchor_marker("mengetahui"))
    # same size as the text, so pdftotext makes one word of "Saksi:#TTD:saksi#"
    doc.add_paragraph().add_run("Saksi:" + anchor_marker("saksi"))
    doc.save(str(path))


def _mixed_docx(path: Path) -> None:
    """An F4 portrait page followed by an A4 landscape page."""
    doc = _new_document()
    doc.sections[0].page_width, doc.sections[0].page_height = Cm(21.5), Cm(33)
    doc.add_paragraph("Lampiran I")
    landscape = doc.add_section(WD_SECTION.NEW_PAGE)
    landscape.orientation = WD_ORIENT.LANDSCAPE
    landscape.page_width, landscape.page_height = Cm(29.7), Cm(21)
    doc.add_paragraph("Lampiran II: daftar nama yang dilantik")
    doc.save(str(path))


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    workdir = tmp_path_factory.mktemp("prepare")
    sources = {"pakta": _pakta_docx, "mou": _mou_docx, "mixed": _mixed_docx}
    for name, make in sources.items():
        make(workdir / f"{name}.docx")
    soffice_convert(workdir, [workdir / f"{name}.docx" for name in sources])
    return {name: (workdir / f"{name}.pdf").read_bytes() for name in sources}


@pytest.fixture(scope="module")
def pakta_box(pdfs: dict[str, bytes]) -> SignatureBox:
    return signature_box_at(locate_anchors(pdfs["pakta"], [ROLE])[ROLE], ROLE)


@pytest.fixture(scope="module")
def prepared(pdfs: dict[str, bytes], pakta_box: SignatureBox) -> bytes:
    return prepare_pdf(pdfs["pakta"], verify_url=VERIFY_URL, footer_text=FOOTER, fields=[pakta_box])


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, capture_output=True, timeout=60)


def _page_count(pdf: bytes) -> int:
    reader = PdfFileReader(io.BytesIO(pdf))
    return int(reader.root["/Pages"]["/Count"])


def _page_text(pdf: Path, page: int) -> str:
    """pdftotext of one page (0-based), whitespace collapsed."""
    out = _run(["pdftotext", "-f", str(page + 1), "-l", str(page + 1), str(pdf), "-"]).stdout
    return " ".join(out.decode().split())


def _word_box(pdf: bytes, tmp_path: Path, word: str) -> tuple[int, float, float]:
    """(page, xMin, yMax) of a visible word, straight from pdftotext -bbox, top-left origin."""
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    html = _run(["pdftotext", "-bbox", str(path), "-"]).stdout.decode()
    for page, body in enumerate(html.split("<page ")[1:]):
        m = re.search(rf'xMin="([\d.]+)" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">{word}<', body)
        if m:
            return page, float(m[1]), float(m[2])
    raise AssertionError(f"{word!r} not in the PDF")


# --- anchors -------------------------------------------------------------------------------------


def test_anchor_marker() -> None:
    assert anchor_marker("pihak_pertama") == "#TTD:pihak_pertama#"
    for bad in ("", "pihak pertama", "a#b"):
        with pytest.raises(ValueError):
            anchor_marker(bad)


def test_locate_anchor_on_second_page(pdfs: dict[str, bytes], tmp_path: Path) -> None:
    pdf = pdfs["pakta"]
    assert _page_count(pdf) == 2

    anchor = locate_anchors(pdf, [ROLE])[ROLE]

    assert anchor.page == 1
    assert anchor.page_width == pytest.approx(595.3, abs=0.5)  # A4
    assert anchor.page_height == pytest.approx(841.9, abs=0.5)
    # at the left margin of the text, between "Yang membuat pernyataan," and the name below it
    assert anchor.x == pytest.approx(MARGIN_PT, abs=1.5)
    page_above, _, above_bottom = _word_box(pdf, tmp_path, "pernyataan,")
    page_below, _, below_bottom = _word_box(pdf, tmp_path, "BUDI")
    assert page_above == page_below == 1
    assert anchor.page_height - below_bottom < anchor.y < anchor.page_height - above_bottom
    assert MARGIN_PT < anchor.y < anchor.page_height - MARGIN_PT


def test_locate_split_glued_and_side_by_side_markers(pdfs: dict[str, bytes]) -> None:
    roles = ["pihak_pertama", "pihak_kedua", "mengetahui"]
    anchors = locate_anchors(pdfs["mou"], roles)

    assert set(anchors) == set(roles)
    first, second, glued = (anchors[r] for r in roles)
    assert first.page == second.page == glued.page == 0
    # a two-column table: same row, the second party's marker in the right half of the text area
    assert first.y == pytest.approx(second.y, abs=2)
    assert first.x == pytest.approx(MARGIN_PT, abs=6)
    assert second.x > first.page_width / 2 - 10
    # glued to "Mengetahui, Camat": the marker starts after that text, not at the margin
    assert glued.x > MARGIN_PT + 40
    assert glued.y < first.y


def test_locate_marker_inside_a_word(pdfs: dict[str, bytes], tmp_path: Path) -> None:
    anchor = locate_anchors(pdfs["mou"], ["saksi"])["saksi"]

    page, word_start, word_bottom = _word_box(pdfs["mou"], tmp_path, "Saksi:#TTD:saksi#")
    assert anchor.page == page == 0
    assert anchor.y == pytest.approx(anchor.page_height - word_bottom)
    # "Saksi:" is 6 of the word's 17 characters
    assert anchor.x > word_start + 20
    assert anchor.x < word_start + 45


def test_missing_role_raises_anchor_not_found(pdfs: dict[str, bytes]) -> None:
    with pytest.raises(AnchorNotFound) as err:
        locate_anchors(pdfs["pakta"], [ROLE, "mengetahui"])
    assert err.value.marker == "#TTD:mengetahui#"


@pytest.mark.parametrize("garbage", [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF\n"])
def test_locate_anchors_rejects_unreadable_pdf(garbage: bytes) -> None:
    with pytest.raises(InvalidPdf):
        locate_anchors(garbage, [ROLE])


def test_signature_box_hangs_below_the_marker_and_stays_on_the_page() -> None:
    anchor = AnchorPosition(page=1, x=71.0, y=446.5, page_width=595.3, page_height=841.9)
    box = signature_box_at(anchor, ROLE)
    assert box == SignatureBox(ROLE, 1, (71.0, 376.5, 271.0, 446.5))

    corner = AnchorPosition(page=0, x=500.0, y=30.0, page_width=595.3, page_height=841.9)
    x1, y1, x2, y2 = signature_box_at(corner, "saksi", width=200, height=70).box
    assert (x1, y1, x2, y2) == pytest.approx((395.3, 0.0, 595.3, 70.0))


# --- prepare_pdf ---------------------------------------------------------------------------------


def test_qr_code_of_verify_url_on_every_page_inside_bottom_margin(
    prepared: bytes, tmp_path: Path
) -> None:
    pdf = tmp_path / "prepared.pdf"
    pdf.write_bytes(prepared)
    _run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")])
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 2

    for png in pngs:
        image = Image.open(png)
        codes = zxingcpp.read_barcodes(image)
        assert [c.text for c in codes] == [VERIFY_URL], png.name
        pos = codes[0].position
        top = min(p.y for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right))
        left = min(p.x for p in (pos.top_left, pos.bottom_left))
        px_per_cm = 150 / 2.54
        # entirely below the body text (the 2.5 cm bottom margin), aligned with the left margin
        assert image.height - top < MARGIN * px_per_cm
        assert left == pytest.approx(MARGIN * px_per_cm, abs=3)
        size_cm = (codes[0].position.bottom_right.x - left) / px_per_cm
        assert 1.6 < size_cm < 2.1


def _qr_texts_per_page(pdf: bytes, workdir: Path) -> list[list[str]]:
    path = workdir / "render.pdf"
    path.write_bytes(pdf)
    _run(["pdftoppm", "-r", "150", "-png", str(path), str(workdir / "render")])
    pngs = sorted(workdir.glob("render-*.png"))
    return [[c.text for c in zxingcpp.read_barcodes(Image.open(png))] for png in pngs]


def test_mark_on_pages_of_different_sizes(pdfs: dict[str, bytes], tmp_path: Path) -> None:
    prepared = prepare_pdf(pdfs["mixed"], verify_url=VERIFY_URL, footer_text=FOOTER, fields=[])

    assert _qr_texts_per_page(prepared, tmp_path) == [[VERIFY_URL], [VERIFY_URL]]
    path = tmp_path / "mixed.pdf"
    path.write_bytes(prepared)
    for page in range(2):
        assert FOOTER in _page_text(path, page)


def test_qr_cache_keeps_each_url_to_its_own_symbol(pdfs: dict[str, bytes], tmp_path: Path) -> None:
    urls = [f"https://docgen.example.go.id/v/{secrets.token_urlsafe(18)}" for _ in range(3)]
    first = [qr_matrix(url) for url in urls]
    # asked again, interleaved: each URL gets its own symbol back, not the last one made
    assert [qr_matrix(url) for url in reversed(urls)] == list(reversed(first))
    assert len(set(first)) == 3

    for run, url in enumerate((urls[0], urls[1], urls[0])):
        prepared = prepare_pdf(pdfs["pakta"], verify_url=url, footer_text=FOOTER, fields=[])
        workdir = tmp_path / f"run{run}"
        workdir.mkdir()
        assert _qr_texts_per_page(prepared, workdir) == [[url], [url]]


@pytest.mark.parametrize("font_file", [None, Path("/nonexistent/font.ttf")])
def test_standard_font_fallback(
    pdfs: dict[str, bytes], tmp_path: Path, font_file: Path | None
) -> None:
    style = FooterStyle(font_file=font_file)
    prepared = prepare_pdf(
        pdfs["pakta"], verify_url=VERIFY_URL, footer_text=FOOTER, fields=[], style=style
    )

    assert _qr_texts_per_page(prepared, tmp_path) == [[VERIFY_URL], [VERIFY_URL]]
    path = tmp_path / "courier.pdf"
    path.write_bytes(prepared)
    assert FOOTER in _page_text(path, 1)
    assert "Courier" in _run(["pdffonts", str(path)]).stdout.decode()


def test_footer_text_on_every_page(prepared: bytes, tmp_path: Path) -> None:
    pdf = tmp_path / "prepared.pdf"
    pdf.write_bytes(prepared)
    for page in range(2):
        assert FOOTER in _page_text(pdf, page)


def test_footer_font_is_embedded_liberation_sans(prepared: bytes, tmp_path: Path) -> None:
    pdf = tmp_path / "prepared.pdf"
    pdf.write_bytes(prepared)
    fonts = _run(["pdffonts", str(pdf)]).stdout.decode()
    line = next(ln for ln in fonts.splitlines() if "LiberationSans" in ln)
    emb, sub, uni = line.split()[-5:-2]
    assert (emb, sub, uni) == ("yes", "yes", "yes")


def _footer_font_program(pdf: bytes) -> bytes:
    """The TrueType program embedded for the verification footer's text."""
    reader = PdfFileReader(io.BytesIO(pdf))
    _, resources = reader.find_page_for_modification(0)
    xobjects = resources.get_object()["/XObject"]
    (form,) = (xobjects[name] for name in xobjects if name.startswith("/DocgenVerif"))
    font = form["/Resources"]["/Font"]["/F1"]
    descriptor = font["/DescendantFonts"][0]["/FontDescriptor"]
    return bytes(descriptor["/FontFile2"].data)


def _outlined(program: bytes) -> set[str]:
    """The characters whose glyph has an outline in ``program`` (space has none anyway)."""
    font = TTFont(io.BytesIO(program))
    glyf = font["glyf"]
    return {chr(code) for code, name in font.getBestCmap().items() if glyf[name].numberOfContours}


def test_footer_font_program_is_a_valid_truetype_subset(prepared: bytes) -> None:
    program = _footer_font_program(prepared)
    font = TTFont(io.BytesIO(program), checkChecksums=2)  # raises on a wrong table checksum
    font.ensureDecompiled()
    padded = program + bytes(-len(program) % 4)
    assert sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF == 0xB1B0AFBA
    assert font["head"].unitsPerEm == 1000
    assert "GSUB" not in font and "GPOS" not in font
    # the footer's glyphs and those every footer embeds have their outlines, no others (the soft
    # hyphen has the hyphen's glyph)
    assert _outlined(program) == (set(FOOTER) | set(URL_SAFE_CHARACTERS) | {"\xad"}) - {" "}
    # FreeType (through Pillow) draws from it
    image = Image.new("L", (300, 40))
    ImageDraw.Draw(image).text(
        (0, 0), "Dokumen", font=ImageFont.truetype(io.BytesIO(program), 24), fill=255
    )
    assert image.getbbox() is not None


def test_each_footer_embeds_the_glyphs_of_its_own_text(
    pdfs: dict[str, bytes], tmp_path: Path
) -> None:
    texts = ["Bupati Sidoarjo", "ŽÉ QXYZ 789 — façade"]  # É, Ž and ç are composite glyphs
    for text in [*texts, texts[0]]:
        prepared = prepare_pdf(pdfs["pakta"], verify_url=VERIFY_URL, footer_text=text, fields=[])
        path = tmp_path / "footer.pdf"
        path.write_bytes(prepared)
        assert text in _page_text(path, 0)
        outlined = _outlined(_footer_font_program(prepared))
        assert set(text) - {" "} <= outlined
        other = texts[1] if text == texts[0] else texts[0]
        assert not (set(other) - set(text) - set(URL_SAFE_CHARACTERS)) & outlined


def test_footers_for_different_codes_embed_one_font_subset(
    pdfs: dict[str, bytes], tmp_path: Path
) -> None:
    # Verification codes differ from document to document; the footer's font subset does not
    # (it has every character a code can hold), so it is compressed once for all documents.
    programs = []
    for _ in range(2):
        code = new_verify_code()
        assert set(code) <= set(URL_SAFE_CHARACTERS)
        url = f"https://docgen.example.go.id/v/{code}"
        text = f"Keaslian dokumen dapat diverifikasi melalui {url}"
        prepared = prepare_pdf(pdfs["pakta"], verify_url=url, footer_text=text, fields=[])
        path = tmp_path / "footer.pdf"
        path.write_bytes(prepared)
        assert text in _page_text(path, 0)
        programs.append(_footer_font_program(prepared))
    assert programs[0] == programs[1]


def test_footer_characters_outside_the_url_alphabet_are_embedded(
    pdfs: dict[str, bytes], tmp_path: Path
) -> None:
    url = (
        "https://docgen.example.go.id/verifikasi/dokumen?kode=Q7KXW3M2ZP4N8R6T5YH9CJ2D"
        "&bahasa=id&nama=%C3%89lodie~%C3%91u%C3%B1ez#ringkasan"
    )
    text = f"Ditandatangani oleh Élodie Ñuñez (Çakır) — verifikasi: {url}"
    for _ in range(2):  # made, then kept
        prepared = prepare_pdf(pdfs["pakta"], verify_url=url, footer_text=text, fields=[])
        path = tmp_path / "footer.pdf"
        path.write_bytes(prepared)
        # the URL is longer than a line: broken between characters
        assert "".join(text.split()) in "".join(_page_text(path, 0).split())
        assert set(text) - {" "} <= _outlined(_footer_font_program(prepared))


def test_footer_in_another_font(pdfs: dict[str, bytes], tmp_path: Path) -> None:
    style = FooterStyle(font_file=Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    for prepared, name in [
        (prepare_pdf(pdfs["pakta"], verify_url=VERIFY_URL, footer_text=FOOTER, fields=[]), ""),
        (
            prepare_pdf(
                pdfs["pakta"], verify_url=VERIFY_URL, footer_text=FOOTER, fields=[], style=style
            ),
            "DejaVuSans",
        ),
    ]:
        path = tmp_path / "font.pdf"
        path.write_bytes(prepared)
        fonts = _run(["pdffonts", str(path)]).stdout.decode()
        footer_font = next(ln for ln in fonts.splitlines() if "Identity-H" in ln)
        assert (name or "LiberationSans") in footer_font
        assert FOOTER in _page_text(path, 1)


def test_empty_signature_field_where_requested(prepared: bytes, pakta_box: SignatureBox) -> None:
    reader = PdfFileReader(io.BytesIO(prepared))
    assert reader.xrefs.total_revisions == 1  # a clean file, not an update on LibreOffice's

    fields = list(enumerate_sig_fields(reader))
    assert [(name, value) for name, value, _ in fields] == [(ROLE, None)]
    widget = fields[0][2].get_object()
    assert [float(v) for v in widget["/Rect"]] == pytest.approx(list(pakta_box.box), abs=0.01)
    page_ref, _ = reader.find_page_for_modification(pakta_box.page)
    annots = page_ref.get_object()["/Annots"]
    assert fields[0][2].reference in [a.reference for a in annots.iterate()]


def test_prepared_pdf_signs_into_the_field(prepared: bytes, tmp_path: Path) -> None:
    cert, signer = _throwaway_signer(tmp_path)
    meta = signers.PdfSignatureMetadata(field_name=ROLE)
    out = io.BytesIO()
    asyncio.run(
        signers.async_sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(prepared)),
            meta,
            signer=signer,
            existing_fields_only=True,
            output=out,
        )
    )
    signed = out.getvalue()
    assert signed.startswith(prepared)  # an incremental update on top of the prepared file

    reader = PdfFileReader(io.BytesIO(signed))
    (embedded,) = reader.embedded_signatures
    assert embedded.field_name == ROLE
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[cert]))
    assert status.intact and status.valid and status.trusted

    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    report = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    assert f"Signature Field Name: {ROLE}" in report
    assert "Signature Validation: Signature is Valid." in report
    assert "Signer Certificate Common Name: Penguji Dokumen" in report


def _throwaway_signer(tmp_path: Path) -> tuple[object, signers.SimpleSigner]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Penguji Dokumen")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(key_file), str(cert_file))
    assert signer is not None
    return signer.signing_cert, signer


@pytest.mark.parametrize(
    "garbage", [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF\n", b"%PDF-1.4\n1 0 obj\n<<"]
)
def test_prepare_rejects_unreadable_pdf(garbage: bytes) -> None:
    with pytest.raises(InvalidPdf):
        prepare_pdf(garbage, verify_url=VERIFY_URL, footer_text=FOOTER, fields=[])


def test_prepare_rejects_a_pdf_with_a_damaged_page(pdfs: dict[str, bytes]) -> None:
    """A page object that cannot be parsed (its cross-reference entry still right): refused,
    not left out of the prepared file."""
    pdf = pdfs["pakta"]
    box = re.search(rb"/Type\s*/Page\b.*?(/MediaBox\s*\[[^\]]*\])", pdf, re.S)
    assert box is not None
    start, end = box.span(1)
    damaged = pdf[:start] + b")))(((".ljust(end - start) + pdf[end:]
    assert len(damaged) == len(pdf)
    with pytest.raises(InvalidPdf):
        prepare_pdf(damaged, verify_url=VERIFY_URL, footer_text=FOOTER, fields=[])


def test_prepare_rejects_a_signed_pdf(prepared: bytes, tmp_path: Path) -> None:
    _, signer = _throwaway_signer(tmp_path)
    out = io.BytesIO()
    asyncio.run(
        signers.async_sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(prepared)),
            signers.PdfSignatureMetadata(field_name=ROLE),
            signer=signer,
            output=out,
        )
    )
    with pytest.raises(InvalidPdf, match="already signed"):
        prepare_pdf(out.getvalue(), verify_url=VERIFY_URL, footer_text=FOOTER, fields=[])


def test_prepare_refuses_a_field_the_pdf_already_has(
    prepared: bytes, pakta_box: SignatureBox
) -> None:
    with pytest.raises(ValueError, match="already has a form field"):
        prepare_pdf(prepared, verify_url=VERIFY_URL, footer_text=FOOTER, fields=[pakta_box])


@pytest.mark.parametrize(
    "fields",
    [
        lambda box: [box, box],  # the same field twice
        lambda box: [SignatureBox("saksi", 2, box.box)],  # page 3 of a 2-page document
    ],
)
def test_prepare_rejects_impossible_fields(
    pdfs: dict[str, bytes],
    pakta_box: SignatureBox,
    fields: Callable[[SignatureBox], list[SignatureBox]],
) -> None:
    with pytest.raises(ValueError):
        prepare_pdf(
            pdfs["pakta"], verify_url=VERIFY_URL, footer_text=FOOTER, fields=fields(pakta_box)
        )
