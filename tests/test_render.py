import hashlib
import html
import importlib.metadata
import inspect
import io
import pickle
import re
import subprocess
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import docx
import docx.opc.oxml
import docx.oxml.parser
import pytest
from docx.opc.coreprops import CoreProperties
from docx.opc.parts.coreprops import CorePropertiesPart
from docx.shared import Cm
from docxtpl import DocxTemplate
from jinja2.exceptions import SecurityError, UndefinedError

import signing.fast
from docgen.errors import DataInvalid, TemplateInvalid
from docgen.pipeline.fast.render import _compile
from docgen.pipeline.render import (
    RENDERER_CACHE_SIZE,
    TemplateRenderer,
    _RendererCache,
    jinja_environment,
    render_docx,
    renderer_for,
    ttd_markup,
)
from docgen.templating.catalogue import load_template, load_templates
from docgen.templating.kop import Kop
from docgen.templating.manifest import Template
from docgen.templating.validation import validate_data
from tests.conftest import pakta_data
from tests.test_templates_content import ba_data, mou_data
from tests.test_unit_profiles import png as png_image

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NOMOR = "800.1.12/15/BKPSDM/VI/2024"
MARKER = "#TTD:pembuat_pernyataan#"


@pytest.fixture(scope="module")
def pakta() -> Template:
    return load_templates(TEMPLATES)["pakta-integritas"]


def sample(**overrides):
    data = {
        "nama": "Drs. Budi Santoso, M.Si.",
        "nip": "198609262015051001",
        "pangkat": "III/a",
        "jabatan": "Kepala Seksi Kurikulum dan Penilaian Sekolah Dasar",
        "unit_kerja": "Bidang Pembinaan Sekolah Dasar",
        "instansi": "Dinas Pendidikan dan Kebudayaan",
        "tempat": "Sidoarjo",
        "tanggal": "2024-06-27",
    }
    data.update(overrides)
    return data


def document_text(docx_bytes: bytes) -> str:
    document = docx.Document(io.BytesIO(docx_bytes))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def with_body(template: Template, *paragraphs: str) -> Template:
    """The pakta manifest with a one-off DOCX holding the given paragraphs."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return replace(template, docx_bytes=out.getvalue(), sha256="test")


# The kop of a regional OPD: its government above its name, its address below.
DISDIK_KOP = Kop(
    lines=("Pemerintah Kabupaten Sidoarjo",),
    name=("Dinas Pendidikan dan Kebudayaan",),
    address="Jalan Pahlawan Nomor 4, Sidoarjo 61213, Telepon (031) 8941234",
)


def test_pakta_renders_with_indonesian_formatting(pakta, either_path):
    out = render_docx(pakta, sample(), nomor=NOMOR, kop=DISDIK_KOP)
    text = document_text(out)
    assert "PEMERINTAH KABUPATEN SIDOARJO" in text  # the unit's kop line, upper-cased
    assert "DINAS PENDIDIKAN DAN KEBUDAYAAN" in text
    assert "Jalan Pahlawan Nomor 4" in text
    assert "PAKTA INTEGRITAS" in text
    assert f"Nomor: {NOMOR}" in text
    assert "NIP | : | 19860926 201505 1 001" in text
    assert "Pangkat/Golongan | : | Penata Muda (III/a)" in text
    assert "Unit Kerja | : | Bidang Pembinaan Sekolah Dasar" in text
    assert "Sidoarjo, 27 Juni 2024" in text
    assert "Drs. BUDI SANTOSO, M.Si." in text
    assert "NIP. 19860926 201505 1 001" in text
    assert "Peraturan Pemerintah Nomor 94 Tahun 2021" in text
    assert text.count(MARKER) == 1
    assert "{{" not in text and "{%" not in text


def test_signature_marker_is_white_and_tiny(pakta, either_path):
    document = docx.Document(io.BytesIO(render_docx(pakta, sample(), nomor=NOMOR)))
    [run] = [r for p in document.paragraphs for r in p.runs if MARKER in r.text]
    assert run.text == MARKER
    assert str(run.font.color.rgb) == "FFFFFF"
    assert run.font.size.pt == 2


def test_optional_parts_disappear_when_empty(pakta, either_path):
    data = sample()
    del data["unit_kerja"]
    text = document_text(render_docx(pakta, data, nomor=NOMOR, kop=Kop(name=("BAWASLU",))))
    assert "Unit Kerja" not in text
    assert "Jalan" not in text
    assert "Jabatan | : | Kepala Seksi" in text


def test_a_kop_holds_only_what_the_unit_gives(pakta, either_path):
    """No line of another region: a vertical agency's kop is its name in two lines, nothing
    above it; a unit without a profile shows no kop line at all but its name."""
    bawaslu = Kop(name=("Badan Pengawas Pemilihan Umum", "Kabupaten Cirebon"))
    document = docx.Document(io.BytesIO(render_docx(pakta, sample(), nomor=NOMOR, kop=bawaslu)))
    kop = [p.text for p in document.tables[0].cell(0, 1).paragraphs]
    assert kop == ["BADAN PENGAWAS PEMILIHAN UMUM", "KABUPATEN CIREBON"]
    assert "PEMERINTAH" not in document_text(render_docx(pakta, sample(), nomor=NOMOR))


def test_the_emblem_stands_left_of_the_kop_lines(pakta, either_path):
    emblem = png_image(300, 400)
    out = render_docx(pakta, sample(), nomor=NOMOR, kop=replace(DISDIK_KOP, emblem_png=emblem))
    document = docx.Document(io.BytesIO(out))
    left, lines = document.tables[0].rows[0].cells
    [picture] = left._tc.xpath(".//pic:pic")
    [blip] = picture.xpath(".//a:blip/@r:embed")
    assert document.part.related_parts[blip].blob == emblem
    extent = left._tc.xpath(".//wp:extent")[0]
    # 300 x 400 px fitted into 2.5 cm: 2.5 cm high, 1.875 cm wide
    assert (int(extent.get("cy")), int(extent.get("cx"))) == (Cm(2.5), Cm(1.875))
    assert [p.text for p in lines.paragraphs][:2] == [
        "PEMERINTAH KABUPATEN SIDOARJO",
        "DINAS PENDIDIKAN DAN KEBUDAYAAN",
    ]
    assert not lines._tc.xpath(".//pic:pic")


def test_both_paths_place_the_emblem_alike(pakta):
    kop = replace(DISDIK_KOP, emblem_png=png_image(120, 120))
    fast = render_docx(pakta, sample(), nomor=NOMOR, kop=kop)
    signing.fast.use(False)
    try:
        library = render_docx(pakta, sample(), nomor=NOMOR, kop=kop)
    finally:
        signing.fast.use(True)
    assert_same_package(fast, library)


def test_page_is_a4_with_room_for_the_footer(pakta, either_path):
    section = docx.Document(io.BytesIO(render_docx(pakta, sample(), nomor=NOMOR))).sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    assert section.bottom_margin.cm >= 3.0


def test_user_text_is_escaped(pakta, either_path):
    nasty = 'Kepala <script>alert("x")</script> & </w:t></w:r> Seksi'
    out = render_docx(pakta, sample(jabatan=nasty, nama="Budi & <Ani>"), nomor="1/<2>&3")
    text = document_text(out)  # the package still opens and parses
    assert f"Jabatan | : | {nasty}" in text
    assert "Nomor: 1/<2>&3" in text
    assert "BUDI & <ANI>" in text
    xml = zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml").decode()
    assert "&lt;script&gt;" in xml and "<script>" not in xml


def test_render_validates_the_data(pakta, either_path):
    with pytest.raises(DataInvalid) as info:
        render_docx(pakta, sample(nip="1986", pangkat="III/e"), nomor=NOMOR)
    assert [p.field for p in info.value.problems] == ["nip", "pangkat"]


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ nama.__class__ }}",
        "{{ ttd.__globals__ }}",
        "{{ tanggal.__class__.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_python_internals(pakta, expression, either_path):
    evil = with_body(pakta, expression, "{{ ttd('pembuat_pernyataan') }}")
    with pytest.raises(TemplateInvalid) as info:
        render_docx(evil, sample(), nomor=NOMOR)
    assert isinstance(info.value.__cause__, SecurityError)


def test_template_faults_are_template_invalid(pakta, either_path):
    typo = with_body(pakta, "{{ namaa }}", "{{ ttd('pembuat_pernyataan') }}")
    with pytest.raises(TemplateInvalid) as info:
        render_docx(typo, sample(), nomor=NOMOR)
    assert isinstance(info.value.__cause__, UndefinedError)

    with pytest.raises(TemplateInvalid, match="saksi"):
        render_docx(with_body(pakta, "{{ ttd('saksi') }}"), sample(), nomor=NOMOR)

    with pytest.raises(TemplateInvalid, match="#TTD:pembuat_pernyataan#"):
        render_docx(with_body(pakta, "{{ nama }}"), sample(), nomor=NOMOR)

    with pytest.raises(TemplateInvalid):  # filter on the wrong kind of value
        render_docx(
            with_body(pakta, "{{ nama|tanggal }}{{ ttd('pembuat_pernyataan') }}"),
            sample(),
            nomor=NOMOR,
        )


def test_filters_available_to_templates(pakta, either_path):
    template = with_body(
        pakta,
        "{{ tanggal|tanggal }}",
        "{{ tanggal|tanggal_terbilang }}",
        "{{ 2024|terbilang }}",
        "{{ 40|jumlah_terbilang('orang') }}",
        "{{ tanggal.month|bulan_romawi }}",
        "{{ pangkat|pangkat }}",
        "{{ ttd('pembuat_pernyataan') }}",
    )
    text = document_text(render_docx(template, sample(), nomor=NOMOR))
    assert text.splitlines()[:6] == [
        "Kamis, 27 Juni 2024",
        "hari Kamis tanggal dua puluh tujuh bulan Juni tahun dua ribu dua puluh empat",
        "dua ribu dua puluh empat",
        "40 (empat puluh) orang",
        "VI",
        "Penata Muda (III/a)",
    ]


def test_compiled_template_is_reused(pakta):
    render_docx(pakta, sample(), nomor=NOMOR)
    before = _compile.cache_info()
    for i in range(5):
        render_docx(pakta, sample(tanggal=date(2024, 7, i + 1)), nomor=f"{i}")
    after = _compile.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits


# --- loading


def _write_template(tmp_path: Path, manifest: str, *paragraphs: str) -> Path:
    folder = tmp_path / "uji"
    folder.mkdir()
    (folder / "manifest.toml").write_text(manifest, encoding="utf-8")
    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = docx.shared.Mm(210), docx.shared.Mm(297)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(folder / "template.docx")
    return folder


MANIFEST = """
id = "uji"
version = 1
title = "Uji"
document_type = "uji"
date_field = "tanggal"
[numbering]
pattern = "{kode}/{urut}/{tahun}"
kode = "000"
unit = "X"
[[fields]]
name = "tanggal"
type = "date"
label = "Tanggal"
[[roles]]
name = "penanda"
label = "Penanda"
order = 1
"""


def test_load_template(tmp_path):
    template = load_template(_write_template(tmp_path, MANIFEST, "{{ ttd('penanda') }}"))
    assert template.manifest.roles_in_order[0].name == "penanda"
    assert len(template.sha256) == 64
    assert load_template(TEMPLATES / "pakta-integritas").manifest.roles[0].signer_nip_field == "nip"


@pytest.mark.parametrize(
    ("manifest", "paragraphs", "message"),
    [
        (MANIFEST, ["{{ tanggal"], "sintaks"),
        (MANIFEST, ["{{ tanggal }}"], "ttd"),
        (MANIFEST.replace('date_field = "tanggal"', 'date_field = "tgl"'), [], "tgl"),
        (MANIFEST.replace("{urut}", "{nomor}"), [], "tempat isian tidak dikenal"),
        (MANIFEST.replace('name = "tanggal"', 'name = "nomor"'), [], "reserved|nomor"),
        (MANIFEST.replace('id = "uji"', 'id = "lain"'), [], "folder"),
        (MANIFEST + "\npaper = 'F4'", [], "tidak valid"),  # TOML key after a table
        ("id = ", [], "dibaca"),
    ],
)
def test_bad_templates_are_refused(tmp_path, manifest, paragraphs, message):
    folder = _write_template(tmp_path, manifest, *paragraphs)
    with pytest.raises(TemplateInvalid, match=message):
        load_template(folder)


def test_paper_size_must_match(tmp_path):
    folder = _write_template(
        tmp_path,
        MANIFEST.replace('date_field = "tanggal"', 'date_field = "tanggal"\npaper = "F4"'),
        "{{ ttd('penanda') }}",
    )
    with pytest.raises(TemplateInvalid, match="F4"):
        load_template(folder)


def test_pakta_pdf_is_one_page_with_findable_marker(pakta, tmp_path):
    (tmp_path / "pakta.docx").write_bytes(render_docx(pakta, sample(), nomor=NOMOR))
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/profile",  # private profile: no clashes
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "pakta.docx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pdf = tmp_path / "pakta.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert MARKER in text
    assert "19860926 201505 1 001" in text


# --- TemplateRenderer: the document docxtpl gives, with the template read once

PAKTA_FOOTNOTES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:id="1"><w:p><w:r><w:t>Catatan untuk {{ nama|kapital }}, '
    "nomor {{ nomor }}</w:t></w:r></w:p></w:footnote></w:footnotes>"
)
FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
FOOTNOTES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"


def docxtpl_render(template: Template, data, nomor: str) -> bytes:
    """What render_docx gave before TemplateRenderer: docxtpl end to end, nothing cached."""
    clean = validate_data(template.manifest, data)
    doc = DocxTemplate(io.BytesIO(template.docx_bytes))
    context = {**clean, "nomor": nomor, "ttd": ttd_markup, "kop": Kop().context("")}
    doc.render(context, jinja_env=jinja_environment())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def package_parts(docx_bytes: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as archive:
        assert archive.testzip() is None  # every CRC right
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def assert_same_package(rendered: bytes, reference: bytes) -> dict[str, bytes]:
    """Same part names, and every part byte for byte the same; returns the parts by name."""
    got, expected = dict(package_parts(rendered)), dict(package_parts(reference))
    assert sorted(got) == sorted(expected)
    for name, content in expected.items():
        assert got[name] == content, name
    return got


def with_parts(template: Template, docx_bytes: bytes) -> Template:
    return replace(template, docx_bytes=docx_bytes, sha256=hashlib.sha256(docx_bytes).hexdigest())


def rewrite_zip(docx_bytes: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The package with ``change(parts)`` applied to its {name: bytes}."""
    parts = dict(package_parts(docx_bytes))
    change(parts)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def add_footnotes(parts: dict[str, bytes]) -> None:
    parts["word/footnotes.xml"] = PAKTA_FOOTNOTES.encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        f'<Override PartName="/word/footnotes.xml" ContentType="{FOOTNOTES_TYPE}"/>'
        "</Types>".encode(),
    )
    parts["word/_rels/document.xml.rels"] = parts["word/_rels/document.xml.rels"].replace(
        b"</Relationships>",
        f'<Relationship Id="rIdCatatan" Type="{FOOTNOTES_REL}" Target="footnotes.xml"/>'
        "</Relationships>".encode(),
    )


def drop_core_properties(parts: dict[str, bytes]) -> None:
    del parts["docProps/core.xml"]
    parts["_rels/.rels"] = re.sub(
        rb"<Relationship [^>]*core-properties[^>]*/>", b"", parts["_rels/.rels"]
    )
    parts["[Content_Types].xml"] = re.sub(
        rb'<Override PartName="/docProps/core.xml"[^>]*/>', b"", parts["[Content_Types].xml"]
    )


@pytest.fixture(scope="module")
def rich(pakta: Template) -> Template:
    """The pakta with every kind of part docxtpl renders: headers and footers (one with a
    picture) in two sections, in the body a picture, ``{%tr %}`` and ``{%tc %}`` loops and a
    listing (line break and tab), Jinja in the core properties, and footnotes."""
    document = docx.Document(io.BytesIO(pakta.docx_bytes))
    picture = zipfile.ZipFile(io.BytesIO(pakta.docx_bytes)).read("docProps/thumbnail.jpeg")
    header = document.sections[0].header.paragraphs[0]
    header.text = "Nomor {{ nomor }} "
    header.add_run().add_picture(io.BytesIO(picture), width=docx.shared.Mm(8))
    document.sections[0].footer.paragraphs[0].text = "{{ nama|kapital }}, {{ tanggal|tanggal }}"
    document.add_picture(io.BytesIO(picture), width=docx.shared.Mm(20))
    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).text = "{%tr for baris in ['satu', 'dua', 'tiga'] %}"
    table.cell(1, 0).text = "{{ loop.index }}. {{ baris }}"
    table.cell(1, 1).text = "{{ jabatan }}"
    table.cell(2, 0).text = "{%tr endfor %}"
    columns = document.add_table(rows=1, cols=3)  # {%tc %}: fix_tables widens the grid
    columns.cell(0, 0).text = "{%tc for kolom in ['a', 'b', 'c', 'd'] %}"
    columns.cell(0, 1).text = "{{ kolom }}"
    columns.cell(0, 2).text = "{%tc endfor %}"
    document.add_paragraph("{{ 'baris satu\\nbaris dua\\ttab' }}")  # a listing
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "Lampiran pakta {{ nip|nip }}"
    document.core_properties.title = "Pakta Integritas {{ nama }}"
    document.core_properties.subject = "{{ nomor }}"
    document.core_properties.comments = "{{ tanggal|tanggal }}"
    out = io.BytesIO()
    document.save(out)
    return with_parts(pakta, rewrite_zip(out.getvalue(), add_footnotes))


def test_rich_template_has_every_rendered_part(rich):
    """The reference itself renders headers, footers, footnotes, pictures, core properties and
    row loops: the comparisons below cover them."""
    parts = dict(package_parts(docxtpl_render(rich, sample(), nomor=NOMOR)))
    headers = [parts[n].decode() for n in sorted(parts) if n.startswith("word/header")]
    # the pakta's page number header (its text now "Nomor ..."), its empty first-page header,
    # and the second section's
    assert len(headers) == 3
    assert any(f"Nomor {NOMOR}" in header for header in headers)
    assert any("Lampiran pakta 19860926 201505 1 001" in header for header in headers)
    footer = next(parts[n].decode() for n in parts if n.startswith("word/footer"))
    assert "Drs. BUDI SANTOSO, M.Si., Kamis, 27 Juni 2024" in footer
    assert (
        f"Catatan untuk Drs. BUDI SANTOSO, M.Si., nomor {NOMOR}"
        in parts["word/footnotes.xml"].decode()
    )
    assert [n for n in parts if n.startswith("word/media/")]
    assert f"<dc:subject>{NOMOR}</dc:subject>" in parts["docProps/core.xml"].decode()
    body = parts["word/document.xml"].decode()
    assert "1. satu" in body and "3. tiga" in body and "{%" not in body and MARKER in body
    assert "baris satu</w:t><w:br/>" in body and "<w:tab/>" in body
    columns = next(t for t in re.findall(r"<w:tbl>.*?</w:tbl>", body) if ">d</w:t>" in t)
    assert columns.count("<w:gridCol ") == 4  # fix_tables widened the grid of 3


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("pakta-integritas", pakta_data()),
        ("pakta-integritas", sample(unit_kerja="", jabatan="A & <B>")),
        ("nota-kesepahaman", mou_data()),
        ("nota-kesepahaman", mou_data(emeterai=True, nomor_pihak_kedua="")),
        ("berita-acara-pelantikan", ba_data(1)),
        ("berita-acara-pelantikan", ba_data(12)),  # the {%tr %} rows move to an annex
    ],
)
def test_renderer_gives_the_docxtpl_document(name, data):
    template = load_templates(TEMPLATES)[name]
    renderer = TemplateRenderer(template)
    for nomor in (NOMOR, "1/<2>&3"):  # the same renderer, again
        parts = assert_same_package(
            renderer.render(data, nomor=nomor), docxtpl_render(template, data, nomor)
        )
        assert html.escape(nomor, quote=False).encode() in parts["word/document.xml"]
    assert_same_package(
        render_docx(template, data, nomor=NOMOR), renderer.render(data, nomor=NOMOR)
    )


def test_renderer_gives_the_docxtpl_document_of_every_part(rich):
    renderer = TemplateRenderer(rich)
    assert_same_package(
        renderer.render(sample(), nomor=NOMOR), docxtpl_render(rich, sample(), nomor=NOMOR)
    )


def test_template_without_core_properties(rich):
    """python-docx adds its default core part with the time of the render."""
    bare = with_parts(rich, rewrite_zip(rich.docx_bytes, drop_core_properties))
    rendered = TemplateRenderer(bare).render(sample(), nomor=NOMOR)
    reference = docxtpl_render(bare, sample(), nomor=NOMOR)

    def core(docx_bytes: bytes) -> bytes:
        xml = zipfile.ZipFile(io.BytesIO(docx_bytes)).read("docProps/core.xml")
        return re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b"", xml)

    assert core(rendered) == core(reference)
    assert b"<dc:title>Word Document</dc:title>" in core(rendered)
    fixed = rewrite_zip(rendered, lambda parts: parts.update({"docProps/core.xml": core(rendered)}))
    expected = rewrite_zip(
        reference, lambda parts: parts.update({"docProps/core.xml": core(reference)})
    )
    assert_same_package(fixed, expected)


def test_header_shared_by_two_sections_goes_through_docxtpl(rich):
    """One header part behind two relationships: docxtpl writes it twice, under one name. The
    renderer leaves such a template to docxtpl, so the package is docxtpl's, in its order."""

    def share_header(parts: dict[str, bytes]) -> None:
        rels = parts["word/_rels/document.xml.rels"].decode()
        targets = re.findall(r'Id="(rId\w+)" Type="[^"]*/header" Target="([^"]+)"', rels)
        assert len(targets) >= 2
        (_, first), (second_id, second) = sorted(targets, key=lambda t: t[1])[:2]
        parts["word/_rels/document.xml.rels"] = rels.replace(
            f'Target="{second}"', f'Target="{first}"'
        ).encode()
        del parts[f"word/{second}"]
        assert second_id.encode() in parts["word/document.xml"]

    shared = with_parts(rich, rewrite_zip(rich.docx_bytes, share_header))
    with pytest.warns(UserWarning, match="Duplicate name"):
        reference = docxtpl_render(shared, sample(), nomor=NOMOR)
        rendered = TemplateRenderer(shared).render(sample(), nomor=NOMOR)
    assert package_parts(rendered) == package_parts(reference)


def test_renderer_is_safe_to_share_between_threads(rich):
    renderer = TemplateRenderer(rich)
    rows = [sample(nama=f"Budi Santoso {i}", tanggal=date(2024, 6, 1 + i)) for i in range(24)]
    alone = [renderer.render(row, nomor=f"{i}/2024") for i, row in enumerate(rows)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda i: renderer.render(rows[i], nomor=f"{i}/2024"), range(24)))
    for i, (one, other) in enumerate(zip(alone, together, strict=True)):
        parts = assert_same_package(other, one)
        assert f"Budi Santoso {i}".upper().encode() in parts["word/footer1.xml"]


def test_renderer_goes_to_worker_processes(rich):
    renderer = TemplateRenderer(rich)
    with ProcessPoolExecutor(max_workers=1) as pool:
        in_worker = pool.submit(renderer.render, sample(), nomor=NOMOR).result(timeout=120)
    assert_same_package(in_worker, docxtpl_render(rich, sample(), nomor=NOMOR))
    assert pickle.loads(pickle.dumps(rich)) == rich  # a worker may build its own from this


def test_renderer_for_reuses_renderers_within_its_bound(pakta):
    renderer = renderer_for(pakta)
    assert renderer_for(pakta) is renderer
    assert renderer_for(replace(pakta, directory=None)) is renderer  # same manifest and DOCX

    # Same id, version and sha256 but another DOCX: never the cached renderer's document.
    other = replace(
        pakta, docx_bytes=with_body(pakta, "{{ ttd('pembuat_pernyataan') }}").docx_bytes
    )
    assert renderer_for(other) is not renderer
    assert "PAKTA INTEGRITAS" not in document_text(render_docx(other, sample(), nomor=NOMOR))
    assert "PAKTA INTEGRITAS" in document_text(render_docx(pakta, sample(), nomor=NOMOR))

    first = renderer_for(replace(pakta, sha256="0"))
    for i in range(1, RENDERER_CACHE_SIZE + 1):
        renderer_for(replace(pakta, sha256=str(i)))
    assert renderer_for(replace(pakta, sha256="0")) is not first  # dropped, read again


def test_renderer_cache_bounds_the_bytes_held(pakta):
    one = TemplateRenderer(pakta).held_bytes
    assert one > len(pakta.docx_bytes)
    cache = _RendererCache(size=10, budget=int(one * 2.5))
    first = cache.get(replace(pakta, sha256="0"))
    second = cache.get(replace(pakta, sha256="1"))
    assert cache.get(replace(pakta, sha256="0")) is first  # two fit
    third = cache.get(replace(pakta, sha256="2"))  # three do not: the least recently used goes
    assert cache.get(replace(pakta, sha256="2")) is third
    assert cache.get(replace(pakta, sha256="0")) is first
    assert cache.get(replace(pakta, sha256="1")) is not second
    alone = _RendererCache(size=10, budget=1)  # the newest stays, whatever its size
    assert alone.get(pakta) is alone.get(pakta)


# --- the switch: docxtpl end to end, or the template read once; the same document either way


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("pakta-integritas", pakta_data()),
        ("nota-kesepahaman", mou_data(emeterai=True)),
        ("berita-acara-pelantikan", ba_data(12)),
    ],
)
def test_switch_takes_docxtpl_end_to_end_for_the_same_document(name, data):
    template = load_templates(TEMPLATES)[name]
    fast = render_docx(template, data, nomor=NOMOR)
    renderer = TemplateRenderer(template)
    compiled = _compile.cache_info()
    signing.fast.use(False)
    try:
        library = render_docx(template, data, nomor=NOMOR)
        library_by_renderer = renderer.render(data, nomor=NOMOR)
    finally:
        signing.fast.use(True)
    # The fast path compiles and runs its sources through _compile; docxtpl compiles its own.
    assert _compile.cache_info() == compiled, "the library path went through the fast one"
    reference = docxtpl_render(template, data, NOMOR)
    assert_same_package(library, reference)
    assert_same_package(library_by_renderer, reference)
    assert_same_package(fast, library)
    renderer.render(data, nomor=NOMOR)  # switched on again: the fast path
    assert _compile.cache_info().hits > compiled.hits


def test_switch_takes_docxtpl_for_every_part(rich, library_path):
    compiled = _compile.cache_info()
    library = TemplateRenderer(rich).render(sample(), nomor=NOMOR)
    assert _compile.cache_info() == compiled
    assert_same_package(library, docxtpl_render(rich, sample(), nomor=NOMOR))


# What docgen/pipeline/fast/render.py takes from docxtpl: methods called unbound with stand-in
# objects as ``self`` (their parameters, and the instance attributes the stand-in provides),
# and methods called on a DocxTemplate while preparing a template.
DOCXTPL_UNBOUND = {
    "patch_xml": (["self", "src_xml"], set()),
    "resolve_listing": (["self", "xml"], set()),
    "fix_tables": (["self", "xml"], set()),
    "fix_docpr_ids": (["self", "tree"], {"docx_ids_index"}),
}
DOCXTPL_CALLED = {
    "init_docx": ["self", "reload"],
    "get_headers_footers": ["self", "uri"],
    "get_part_xml": ["self", "part"],
    "get_xml": ["self"],
}


def test_docxtpl_still_has_what_the_fast_path_calls():
    """docxtpl is pinned to 0.20.x for docgen/pipeline/fast/render.py. The steps of
    DocxTemplate.render it repeats are checked by comparing documents (above); this names what
    an upgrade removed or changed."""
    version = f"docxtpl {importlib.metadata.version('docxtpl')}"
    for name, (parameters, state) in DOCXTPL_UNBOUND.items():
        method = getattr(DocxTemplate, name, None)
        assert callable(method), f"{version}: DocxTemplate.{name} is gone; the fast render calls it"
        assert list(inspect.signature(method).parameters) == parameters, (
            f"{version}: DocxTemplate.{name}{inspect.signature(method)} changed its parameters; "
            f"the fast render calls it unbound as {name}({', '.join(parameters)})"
        )
        used = set(re.findall(r"\bself\.(\w+)", inspect.getsource(method)))
        assert used == state, (
            f"{version}: DocxTemplate.{name} now uses self.{sorted(used - state)}; the stand-in "
            f"the fast render passes as self has only {sorted(state)}"
        )
    for name, parameters in DOCXTPL_CALLED.items():
        method = getattr(DocxTemplate, name, None)
        assert callable(method), f"{version}: DocxTemplate.{name} is gone; the fast render calls it"
        assert list(inspect.signature(method).parameters) == parameters, (
            f"{version}: DocxTemplate.{name}{inspect.signature(method)} changed its parameters"
        )
    assert DocxTemplate.HEADER_URI.endswith("/header"), f"{version}: HEADER_URI changed"
    assert DocxTemplate.FOOTER_URI.endswith("/footer"), f"{version}: FOOTER_URI changed"


def test_python_docx_still_has_what_the_fast_path_calls():
    """python-docx is pinned to 1.2.x: the fast render writes parts with its internals."""
    version = f"python-docx {importlib.metadata.version('python-docx')}"
    expected = {
        docx.opc.oxml.serialize_part_xml: ["part_elm"],
        docx.oxml.parser.parse_xml: ["xml"],
        CorePropertiesPart.default: ["package"],
        CoreProperties: ["element"],
    }
    for function, parameters in expected.items():
        assert list(inspect.signature(function).parameters) == parameters, (
            f"{version}: {function.__qualname__}{inspect.signature(function)} changed its "
            "parameters; docgen/pipeline/fast/render.py calls it"
        )
    # The default core part a render makes for a template that has none (package unused).
    core = CorePropertiesPart.default(None)  # type: ignore[arg-type]
    assert core.core_properties.title == "Word Document", f"{version}: default core part changed"
