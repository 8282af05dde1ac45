"""Indonesian facts for official documents: dates and numbers in words, NIP, NI PPPK, NIK,
pangkat/golongan, names with degrees. Pure functions, no I/O; they double as Jinja filters."""

from docgen.indonesia.dates import (
    BULAN,
    HARI,
    bulan_romawi,
    tanggal,
    tanggal_pendek,
    tanggal_terbilang,
)
from docgen.indonesia.identifiers import (
    format_nip,
    mask_nip,
    validate_ni_pppk,
    validate_nik,
    validate_nip,
    validate_nomor_induk,
)
from docgen.indonesia.names import nama_gelar_kapital
from docgen.indonesia.numbers import angka, jumlah_terbilang, terbilang
from docgen.indonesia.pangkat import PANGKAT, pangkat_golongan, validate_pangkat

__all__ = [
    "BULAN",
    "HARI",
    "PANGKAT",
    "angka",
    "bulan_romawi",
    "format_nip",
    "jumlah_terbilang",
    "mask_nip",
    "nama_gelar_kapital",
    "pangkat_golongan",
    "tanggal",
    "tanggal_pendek",
    "tanggal_terbilang",
    "terbilang",
    "validate_ni_pppk",
    "validate_nik",
    "validate_nip",
    "validate_nomor_induk",
    "validate_pangkat",
]
