"""Reading staff lists (CSV, XLSX) into template rows, with every problem at its row and column."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from docgen.batches.staff_list import MAX_ROWS, StaffListInvalid, read_staff_list
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
