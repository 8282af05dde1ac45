"""Reading staff lists (CSV, XLSX) into template rows, with every problem at its row and column."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font

from docgen.batches.staff_list import (
    MAX_ROWS,
    MAX_SHEET_ROWS,
    StaffListInvalid,
    read_item_list,
    read_staff_list,
)
from docgen.indonesia import angka
from docgen.templating.catalogue import load_template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAKTA = load_template(TEMPLATES / "pakta-integritas").manifest
BERITA_ACARA = load_template(TEMPLATES / "berita-acara-pelantikan").manifest

HEADER = "nama,nip,pangkat,jabatan,instansi,tempat,tanggal"
ROW = "Budi Santoso,198609262015051001,III/a,Kepala Seksi,Dinas Pendidikan,Sidoarjo,2024-06-27"


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_csv_rows_become_template_data_with_spreadsheet_row_numbers() -> None:
    content = f"{HEADER}\n{ROW}\n\n,,,,,,\n{ROW.replace('Budi', 'Siti')}\n".encode()
    staff = read_staff_list("daftar.csv", content, PAKTA)
    assert [r.row for r in staff.rows] == [2, 5]  # empty rows skipped, numbering kept
    assert staff.rows[0].data["nip"] == "198609262015051001"
    assert staff.rows[1].data["nama"] == "Siti Santoso"
    assert staff.problems == []


def test_excel_style_csv_semicolons_labels_as_headers_and_indonesian_dates() -> None:
    content = (
        "Nama;NIP;Pangkat/Golongan;Jabatan;Instansi;Tempat penandatanganan;Tanggal\n"
        "Dédé Kurniasih;19860926 201505 2 001;Penata Muda (III/a);Staf;Dinas;Sidoarjo;7/6/2024\n"
    ).encode("cp1252")
    staff = read_staff_list("daftar.csv", content, PAKTA)
    data = staff.rows[0].data
    assert data["nama"] == "Dédé Kurniasih"
    assert data["tanggal"] == "2024-06-07"
    assert staff.rows[0].column_of("nip") == "NIP"


def test_header_problems_refuse_the_whole_file() -> None:
    content = b"nama,nip,nomor_hp,nama\nBudi,198609262015051001,0812,Budi\n"
    with pytest.raises(StaffListInvalid) as raised:
        read_staff_list("daftar.csv", content, PAKTA)
    found = {(p.row, p.column, p.message.split(" (")[0]) for p in raised.value.problems}
    assert (1, "nomor_hp", "kolom tidak dikenal pada templat ini") in found
    assert (1, "nama", "kolom ganda") in found
    missing = {p.column for p in raised.value.problems if "wajib" in p.message}
    assert missing == {"pangkat", "jabatan", "instansi", "tempat", "tanggal"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "berkas kosong"),
        (HEADER.encode() + b"\n", "tidak ada baris data"),
        (b"nama\x00,nip\n", "bukan berkas CSV"),
        (b"PK\x03\x04 not really a zip", "bukan berkas XLSX"),
    ],
)
def test_unreadable_files_are_refused_in_words(content: bytes, message: str) -> None:
    with pytest.raises(StaffListInvalid) as raised:
        read_staff_list("daftar.csv", content, PAKTA)
    assert message in raised.value.detail


def test_too_many_rows_is_refused() -> None:
    content = "\n".join([HEADER] + [ROW] * (MAX_ROWS + 1)).encode()
    with pytest.raises(StaffListInvalid) as raised:
        read_staff_list("daftar.csv", content, PAKTA)
    assert raised.value.problems[0].row == MAX_ROWS + 2


def test_xlsx_dates_and_a_nip_that_excel_stored_as_a_number() -> None:
    from datetime import datetime

    content = xlsx(
        [
            HEADER.split(","),
            ["Budi", "198609262015051001", "III/a", "Staf", "Dinas", "Sidoarjo",
             datetime(2024, 6, 27)],
            ["Siti", 198609262015051001, "III/a", "Staf", "Dinas", "Sidoarjo", "2024-06-27"],
        ]
    )  # fmt: skip
    staff = read_staff_list("daftar.xlsx", content, PAKTA)
    assert staff.rows[0].data["tanggal"] == "2024-06-27"
    assert staff.rows[0].data["nip"] == "198609262015051001"
    [problem] = staff.problems
    assert (problem.row, problem.column) == (3, "nip")
    assert "Teks" in problem.message  # the operator is told how to fix it


def test_list_of_people_from_dotted_columns_one_per_row() -> None:
    content = (
        b"peserta.nama,Peserta.NIP,peserta.pangkat,peserta.jabatan\n"
        b"Rina Kartika,198609262015052001,III/b,Lurah\n"
    )
    with pytest.raises(StaffListInvalid):  # the berita acara needs more columns than these
        read_staff_list("daftar.csv", content, BERITA_ACARA)
    header = ",".join(
        f.name for f in BERITA_ACARA.fields if f.type != "list" and f.required and not f.default
    )
    values = ",".join("x" for _ in header.split(","))
    content = (
        f"{header},peserta.nama,Peserta.NIP,peserta.pangkat,peserta.jabatan\n"
        f"{values},Rina Kartika,198609262015052001,III/b,Lurah\n"
    ).encode()
    staff = read_staff_list("daftar.csv", content, BERITA_ACARA)
    assert staff.rows[0].data["peserta"] == [
        {
            "nama": "Rina Kartika",
            "nip": "198609262015052001",
            "pangkat": "III/b",
            "jabatan": "Lurah",
        }
    ]
    assert staff.rows[0].column_of("peserta[1].nip") == "Peserta.NIP"


# One list field from a file: one item per row ---------------------------------------------------

PESERTA = BERITA_ACARA.field("peserta")


def test_a_list_field_takes_item_names_labels_or_bulks_dotted_names() -> None:
    assert PESERTA is not None
    content = (
        b"Nama;nip;Pejabat yang dilantik.Pangkat/Golongan;peserta.jabatan\n"
        b"Rina Kartika;19860926 201505 2 001;III/b;Lurah\n"
        b";;;\n"
        b"Budi Santoso;198609262015051001;Penata (III/c);Camat\n"
    )
    staff = read_item_list("peserta.csv", content, PESERTA)
    assert [row.row for row in staff.rows] == [2, 4]
    assert staff.rows[0].data == {
        "nama": "Rina Kartika",
        "nip": "19860926 201505 2 001",  # as in the cell: checking it is validate_item's part
        "pangkat": "III/b",
        "jabatan": "Lurah",
    }
    assert staff.rows[1].column_of("pangkat") == "Pejabat yang dilantik.Pangkat/Golongan"


def test_a_list_field_refuses_a_header_that_does_not_fit_and_rows_past_max_items() -> None:
    assert PESERTA is not None
    with pytest.raises(StaffListInvalid) as raised:
        read_item_list("peserta.csv", b"nama,nomor_hp\nRina,0812\n", PESERTA)
    found = {(p.row, p.column): p.message for p in raised.value.problems}
    assert found[(1, "nomor_hp")] == "kolom tidak dikenal pada templat ini"
    assert found[(1, "nip")] == "kolom wajib (NIP) tidak ada"
    assert (
        found[(1, "-")]
        == "kolom yang dikenal untuk Pejabat yang dilantik: nama, nip, pangkat, jabatan"
    )
    row = "Rina,198609262015052001,III/b,Lurah"
    content = "\n".join(["nama,nip,pangkat,jabatan"] + [row] * (PESERTA.max_items + 1)).encode()
    with pytest.raises(StaffListInvalid) as raised:
        read_item_list("peserta.csv", content, PESERTA)
    [problem] = raised.value.problems
    assert (problem.row, problem.column) == (PESERTA.max_items + 2, "-")
    assert problem.message == "terlalu banyak baris (maksimal 200 untuk Pejabat yang dilantik)"
    # A manifest allowing more items than bulk reads rows gets bulk's bound all the same.
    endless = PESERTA.model_copy(update={"max_items": 10 * MAX_ROWS})
    content = "\n".join(["nama,nip,pangkat,jabatan"] + [row] * (MAX_ROWS + 1)).encode()
    with pytest.raises(StaffListInvalid) as raised:
        read_item_list("peserta.csv", content, endless)
    assert raised.value.problems[0].row == MAX_ROWS + 2
    nama = BERITA_ACARA.field("nama_saksi_1")
    assert nama is not None
    with pytest.raises(StaffListInvalid):
        read_item_list("peserta.csv", content, nama)


def test_a_list_of_text_takes_one_column_named_as_the_list() -> None:
    mou = load_template(TEMPLATES / "nota-kesepahaman").manifest
    scope = mou.field("ruang_lingkup")
    assert scope is not None
    staff = read_item_list("lingkup.csv", b"Ruang lingkup\nsatu\ndua\n", scope)
    assert [row.data for row in staff.rows] == [{"ruang_lingkup": "satu"}, {"ruang_lingkup": "dua"}]


# Sheets reaching far --------------------------------------------------------------------------


def far_cell_xlsx(cell: str = "A1048576") -> bytes:
    """A few KB: the header, one row, and one value far away (by default in the last row)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(ROW.split(","))
    sheet[cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_xml_changed(content: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The XLSX with its first sheet's XML changed."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as changed,
    ):
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            changed.writestr(member, data)
    return out.getvalue()


def dimension(ref: str | None) -> Callable[[bytes], bytes]:
    """A change of the sheet XML: its <dimension> says ``ref``, or is gone (None)."""
    element = b"" if ref is None else f'<dimension ref="{ref}"/>'.encode()

    def change(xml: bytes) -> bytes:
        changed, found = re.subn(rb"<dimension [^>]*/>", element, xml)
        assert found == 1
        return changed

    return change


LIMIT = f"paling banyak {angka(MAX_SHEET_ROWS)} baris (judul dan {angka(MAX_ROWS)} baris data)"


@pytest.mark.parametrize(
    ("change", "reach"),
    [
        (None, "sampai baris 1.048.576"),  # as openpyxl wrote it: <dimension ref="A1:G1048576">
        (dimension("A1:G2"), f"lebih dari {angka(MAX_SHEET_ROWS)} baris"),  # a lying dimension
        (dimension(None), f"lebih dari {angka(MAX_SHEET_ROWS)} baris"),  # none at all
    ],
    ids=["dimension", "lying-dimension", "no-dimension"],
)
def test_a_sheet_reaching_the_last_row_is_refused_unread(
    change: Callable[[bytes], bytes] | None, reach: str
) -> None:
    content = far_cell_xlsx()
    if change is not None:
        content = sheet_xml_changed(content, change)
    with pytest.raises(StaffListInvalid) as raised:
        read_staff_list("daftar.xlsx", content, PAKTA)
    assert raised.value.detail.startswith(f"Daftar terlalu besar: lembar kerja {reach}; {LIMIT}")
    [problem] = raised.value.problems
    assert problem.row > MAX_SHEET_ROWS and "hapus baris dan kolom kosong" in problem.message


def test_a_sheet_reaching_the_last_column_is_refused_unread() -> None:
    with pytest.raises(StaffListInvalid) as raised:
        read_staff_list("daftar.xlsx", far_cell_xlsx("XFD2"), PAKTA)
    assert raised.value.detail.startswith(
        "Daftar terlalu besar: lembar kerja sampai kolom XFD (kolom ke-16.384)"
    )
    assert raised.value.problems[0].column == "XFD"


def test_empty_rows_at_the_end_of_a_sheet_are_skipped() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(ROW.split(","))
    for row in range(3, 41):  # formatted but empty, or blank: in the sheet's XML all the same
        sheet.cell(row, 1).font = Font(bold=True)
        sheet.cell(row, 2, "  ")
    out = io.BytesIO()
    book.save(out)
    staff = read_staff_list("daftar.xlsx", out.getvalue(), PAKTA)
    assert [r.row for r in staff.rows] == [2]


def test_a_sheet_of_the_header_and_max_rows_rows_is_read_whole() -> None:
    content = xlsx([HEADER.split(","), *[["Budi"]] * MAX_ROWS])
    staff = read_staff_list("daftar.xlsx", content, PAKTA)
    assert len(staff.rows) == MAX_ROWS and staff.rows[-1].row == MAX_SHEET_ROWS
