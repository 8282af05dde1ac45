"""Identifiers of people in Indonesian administration: NIP (PNS), NI PPPK and NIK.

Validators return the digits without spaces and raise ``FieldInvalid`` with a message in Bahasa
Indonesia; ``format_nip`` groups a NIP for print and ``mask_nip`` hides it for public pages.
"""

from __future__ import annotations

import re
from datetime import date

from docgen.errors import FieldInvalid

__all__ = [
    "NIK_PROVINCES",
    "format_nip",
    "mask_nip",
    "validate_ni_pppk",
    "validate_nik",
    "validate_nip",
    "validate_nomor_induk",
]

NIP_MIN_BIRTH_YEAR = 1940
# Youngest age at appointment we accept; CPNS must be 18, one year of slack for data entry.
NIP_MIN_AGE_AT_TMT = 17


def validate_nip(value: object) -> str:
    """Check a PNS NIP and return its 18 digits without spaces.

    Layout: birth date YYYYMMDD, TMT CPNS YYYYMM, gender (1 male, 2 female), 3-digit sequence.

    Raises:
        FieldInvalid: wrong length or characters, impossible birth date or TMT, TMT less than
            17 years after birth, gender digit not 1 or 2.
    """
    nip = _digits(value, 18, "NIP")
    lahir = _birth_date(nip, "NIP")
    today = date.today()
    tmt_tahun, tmt_bulan = int(nip[8:12]), int(nip[12:14])
    if not 1 <= tmt_bulan <= 12:
        raise FieldInvalid("bulan TMT CPNS pada NIP (digit 13-14) tidak valid")
    tmt = tmt_tahun * 12 + tmt_bulan
    if tmt < (lahir.year + NIP_MIN_AGE_AT_TMT) * 12 + lahir.month:
        raise FieldInvalid(
            f"TMT CPNS pada NIP (digit 9-14) kurang dari {NIP_MIN_AGE_AT_TMT} tahun "
            "setelah tanggal lahir"
        )
    # A NIP is issued shortly before its TMT at most.
    if tmt > (today.year + 1) * 12 + today.month:
        raise FieldInvalid("TMT CPNS pada NIP (digit 9-14) berada di masa depan")
    if nip[14] not in "12":
        raise FieldInvalid("digit jenis kelamin pada NIP (digit 15) harus 1 atau 2")
    return nip


# PPPK were first appointed under PP 49/2018, in 2019.
NI_PPPK_FIRST_YEAR = 2019
# Kode wilayah provinsi (Kemendagri), including the Papua provinces formed in 2022.
NIK_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53}
    | {61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96, 97}
)


def _digits(value: object, length: int, what: str) -> str:
    if not isinstance(value, str):
        raise FieldInvalid(f"{what} harus berupa teks {length} digit")
    digits = re.sub(r"\s+", "", value)
    if len(digits) != length or not digits.isascii() or not digits.isdigit():
        raise FieldInvalid(f"{what} harus {length} digit")
    return digits


def _birth_date(digits: str, what: str) -> date:
    try:
        lahir = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise FieldInvalid(f"tanggal lahir pada {what} (digit 1-8) tidak valid") from None
    if not NIP_MIN_BIRTH_YEAR <= lahir.year <= date.today().year:
        raise FieldInvalid(f"tahun lahir pada {what} (digit 1-4) tidak masuk akal")
    return lahir


def validate_ni_pppk(value: object) -> str:
    """Check a NI PPPK (Nomor Induk PPPK) and return its 18 digits without spaces.

    Layout: birth date YYYYMMDD, year of appointment YYYY, a two-digit type code (not a month,
    so not checked), gender (1 male, 2 female), 3-digit sequence.

    Raises:
        FieldInvalid: wrong length or characters, impossible birth date, appointment year before
            2019, in the future or before age 17, gender digit not 1 or 2, sequence 000.
    """
    nomor = _digits(value, 18, "NI PPPK")
    lahir = _birth_date(nomor, "NI PPPK")
    tahun = int(nomor[8:12])
    if not NI_PPPK_FIRST_YEAR <= tahun <= date.today().year + 1:
        raise FieldInvalid(
            f"tahun pengangkatan pada NI PPPK (digit 9-12) harus antara {NI_PPPK_FIRST_YEAR} "
            "dan tahun ini"
        )
    if tahun < lahir.year + NIP_MIN_AGE_AT_TMT:
        raise FieldInvalid(
            f"tahun pengangkatan pada NI PPPK (digit 9-12) kurang dari {NIP_MIN_AGE_AT_TMT} "
            "tahun setelah tahun lahir"
        )
    if nomor[14] not in "12":
        raise FieldInvalid("digit jenis kelamin pada NI PPPK (digit 15) harus 1 atau 2")
    if nomor[15:] == "000":
        raise FieldInvalid("nomor urut pada NI PPPK (digit 16-18) tidak boleh 000")
    return nomor


def validate_nomor_induk(value: object) -> str:
    """A NIP or, failing that, a NI PPPK (both 18 digits); returns the digits.

    Raises:
        FieldInvalid: neither; the message explains why it is not a NIP.
    """
    try:
        return validate_nip(value)
    except FieldInvalid as not_nip:
        try:
            return validate_ni_pppk(value)
        except FieldInvalid:
            raise not_nip from None


def validate_nik(value: object) -> str:
    """Check a NIK (Nomor Induk Kependudukan) and return its 16 digits without spaces.

    Layout: province, regency, district (2 digits each), birth day (plus 40 for women), month,
    two-digit year, 4-digit sequence. ``3515144508680002``: a woman born 5 August 1968.

    Raises:
        FieldInvalid: wrong length or characters, unknown province, regency or district 00,
            impossible birth date, sequence 0000.
    """
    nik = _digits(value, 16, "NIK")
    if int(nik[0:2]) not in NIK_PROVINCES:
        raise FieldInvalid("kode provinsi pada NIK (digit 1-2) tidak dikenal")
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise FieldInvalid("kode kabupaten/kota atau kecamatan pada NIK (digit 3-6) tidak valid")
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40  # women
    today = date.today()
    # Two-digit year: the latest century that does not put the birth date in the future.
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        lahir = date(year, month, day)
    except ValueError:
        raise FieldInvalid("tanggal lahir pada NIK (digit 7-12) tidak valid") from None
    if lahir > today:
        raise FieldInvalid("tanggal lahir pada NIK (digit 7-12) berada di masa depan")
    if nik[12:] == "0000":
        raise FieldInvalid("nomor urut pada NIK (digit 13-16) tidak boleh 0000")
    return nik


def _nip_digits(nip: str) -> str:
    digits = re.sub(r"\s+", "", str(nip))
    if len(digits) != 18 or not digits.isascii() or not digits.isdigit():
        raise ValueError("NIP harus 18 digit")
    return digits


def format_nip(nip: str) -> str:
    """Group an 18-digit NIP: ``19860926 201505 1 001``.

    Raises:
        ValueError: not 18 digits (spaces are ignored).
    """
    d = _nip_digits(nip)
    return f"{d[:8]} {d[8:14]} {d[14]} {d[15:]}"


def mask_nip(nip: str) -> str:
    """Hide all but the last four digits, for public pages: ``**************1001``."""
    digits = re.sub(r"\s+", "", str(nip))
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]
