import io
import subprocess
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import docx
import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from docgen.errors import DataInvalid, TemplateInvalid
from docgen.manifest import Template, load_template, load_templates
from docgen.render import _compile, render_docx

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
        "alamat_instansi": "Jalan Pahlawan Nomor 4, Sidoarjo 61213, Telepon (031) 8941234",
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


def test_pakta_renders_with_indonesian_formatting(pakta):
    out = render_docx(pakta, sample(), nomor=NOMOR)
    text = document_text(out)
    assert "PEMERINTAH KABUPATEN SIDOARJO" in text  # manifest default, upper-cased
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


def test_signature_marker_is_white_and_tiny(pakta):
    document = docx.Document(io.BytesIO(render_docx(pakta, sample(), nomor=NOMOR)))
    [run] = [r for p in document.paragraphs for r in p.runs if MARKER in r.text]
    assert run.text == MARKER
    assert str(run.font.color.rgb) == "FFFFFF"
    assert run.font.size.pt == 2


def test_optional_parts_disappear_when_empty(pakta):
    data = sample()
    del data["unit_kerja"], data["alamat_instansi"]
    text = document_text(render_docx(pakta, data, nomor=NOMOR))
    assert "Unit Kerja" not in text
    assert "Jalan" not in text
    assert "Jabatan | : | Kepala Seksi" in text


def test_page_is_a4_with_room_for_the_footer(pakta):
    section = docx.Document(io.BytesIO(render_docx(pakta, sample(), nomor=NOMOR))).sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    assert section.bottom_margin.cm >= 3.0


def test_user_text_is_escaped(pakta):
    nasty = 'Kepala <script>alert("x")</script> & </w:t></w:r> Seksi'
    out = render_docx(pakta, sample(jabatan=nasty, nama="Budi & <Ani>"), nomor="1/<2>&3")
    text = document_text(out)  # the package still opens and parses
    assert f"Jabatan | : | {nasty}" in text
    assert "Nomor: 1/<2>&3" in text
    assert "BUDI & <ANI>" in text
    xml = zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml").decode()
    assert "&lt;script&gt;" in xml and "<script>" not in xml


def test_render_validates_the_data(pakta):
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
def test_sandbox_blocks_python_internals(pakta, expression):
    evil = with_body(pakta, expression, "{{ ttd('pembuat_pernyataan') }}")
    with pytest.raises(TemplateInvalid) as info:
        render_docx(evil, sample(), nomor=NOMOR)
    assert isinstance(info.value.__cause__, SecurityError)


def test_template_faults_are_template_invalid(pakta):
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


def test_filters_available_to_templates(pakta):
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
        (MANIFEST.replace("{urut}", "{nomor}"), [], "placeholder"),
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
