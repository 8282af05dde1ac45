"""Validation of the data a template is filled with: NIP, pangkat/golongan, dates, counts.

Single-value validators raise ``FieldInvalid`` (a ``ValueError``, so they also work inside
pydantic validators) with a message in Bahasa Indonesia. ``validate_data`` checks a whole
document's data against its manifest and reports every problem at once as ``DataInvalid``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from docgen.errors import DataInvalid, FieldProblem
from docgen.manifest import FieldSpec, TemplateManifest

__all__ = [
    "PANGKAT",
    "FieldInvalid",
    "pangkat_golongan",
    "validate_data",
    "validate_boolean",
    "validate_date",
    "validate_integer",
    "validate_ni_pppk",
    "validate_nik",
    "validate_nip",
    "validate_nomor_induk",
    "validate_pangkat",
    "validate_text",
]

PANGKAT: dict[str, str] = {
    "I/a": "Juru Muda",
    "I/b": "Juru Muda Tingkat I",
    "I/c": "Juru",
    "I/d": "Juru Tingkat I",
    "II/a": "Pengatur Muda",
    "II/b": "Pengatur Muda Tingkat I",
    "II/c": "Pengatur",
    "II/d": "Pengatur Tingkat I",
    "III/a": "Penata Muda",
    "III/b": "Penata Muda Tingkat I",
    "III/c": "Penata",
    "III/d": "Penata Tingkat I",
    "IV/a": "Pembina",
    "IV/b": "Pembina Tingkat I",
    "IV/c": "Pembina Utama Muda",
    "IV/d": "Pembina Utama Madya",
    "IV/e": "Pembina Utama",
}
_GOLONGAN_BY_NAME = {name.lower(): gol for gol, name in PANGKAT.items()}

MAX_TEXT_LENGTH = 2000
NIP_MIN_BIRTH_YEAR = 1940
# Youngest age at appointment we accept; CPNS must be 18, one year of slack for data entry.
NIP_MIN_AGE_AT_TMT = 17


class FieldInvalid(ValueError):
    """A single value is invalid; the message is meant for the user (Bahasa Indonesia)."""


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


def validate_boolean(value: object) -> bool:
    """``true``/``false``, or the words ``ya``/``tidak`` (and ``1``/``0``) as from a spreadsheet.

    Raises:
        FieldInvalid: anything else.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("ya", "true", "1", "y"):
            return True
        if word in ("tidak", "false", "0", "t", "n"):
            return False
    raise FieldInvalid("harus ya atau tidak (true/false)")


_ARABIC_TO_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_GOLONGAN_RE = re.compile(r"(?<![A-Za-z])(IV|III|II|I|[1-4])\s*/\s*([A-Ea-e])(?![A-Za-z])", re.I)
_TINGKAT_RE = re.compile(r"\btk\.?\s*(?=I\b)", re.I)


def validate_pangkat(value: str) -> str:
    """Normalize a pangkat/golongan to its golongan, e.g. ``III/a``.

    Accepts ``III/a``, ``iii/a``, ``3/a``, ``Penata Muda``, ``Penata Muda (III/a)``,
    ``Penata Muda, III/a``, ``Penata Muda Tk. I``.

    Raises:
        FieldInvalid: unknown golongan (e.g. ``III/e``) or pangkat name, or a name and golongan
            that do not belong together.
    """
    if not isinstance(value, str) or not value.strip():
        raise FieldInvalid("pangkat/golongan tidak dikenal")
    golongan: str | None = None
    rest = value
    match = _GOLONGAN_RE.search(value)
    if match:
        roman = match.group(1).upper()
        roman = _ARABIC_TO_ROMAN.get(roman, roman)
        golongan = f"{roman}/{match.group(2).lower()}"
        if golongan not in PANGKAT:
            raise FieldInvalid(f"pangkat/golongan tidak dikenal: {golongan}")
        rest = value[: match.start()] + value[match.end() :]
    name = re.sub(r"[(),\-/]", " ", rest)
    name = _TINGKAT_RE.sub("Tingkat ", name)
    name = " ".join(name.split()).lower()
    if not name:
        if golongan is None:
            raise FieldInvalid("pangkat/golongan tidak dikenal")
        return golongan
    by_name = _GOLONGAN_BY_NAME.get(name)
    if by_name is None:
        raise FieldInvalid(f"pangkat/golongan tidak dikenal: {value.strip()}")
    if golongan is not None and golongan != by_name:
        raise FieldInvalid(
            f"pangkat {PANGKAT[by_name]} adalah golongan {by_name}, bukan {golongan}"
        )
    return by_name


def pangkat_golongan(golongan: str) -> str:
    """``III/a`` -> ``Penata Muda (III/a)``; any form ``validate_pangkat`` accepts works.

    Raises:
        FieldInvalid: as ``validate_pangkat``.
    """
    gol = validate_pangkat(golongan)
    return f"{PANGKAT[gol]} ({gol})"


# Characters XML 1.0 cannot carry; they would corrupt the DOCX.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def validate_text(value: object) -> str:
    """Trimmed text without control characters.

    Raises:
        FieldInvalid: not a string, too long, or contains control characters.
    """
    if not isinstance(value, str):
        raise FieldInvalid("harus berupa teks")
    text = value.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise FieldInvalid(f"terlalu panjang (maksimal {MAX_TEXT_LENGTH} karakter)")
    if _XML_INVALID.search(text):
        raise FieldInvalid("mengandung karakter kontrol yang tidak diperbolehkan")
    return text


def validate_date(value: object) -> date:
    """A ``date`` or an ISO ``YYYY-MM-DD`` string.

    Raises:
        FieldInvalid: anything else, or an impossible date.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise FieldInvalid(f"tanggal {value.strip()} tidak ada") from None
    raise FieldInvalid("tanggal harus berformat TTTT-BB-HH, misalnya 2024-06-27")


def validate_integer(value: object) -> int:
    """An ``int`` or a string of digits.

    Raises:
        FieldInvalid: anything else (``bool`` and ``float`` included).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value.strip()):
        return int(value.strip())
    raise FieldInvalid("harus berupa bilangan bulat")


# What a missing optional field is in the template's context; others are None.
_EMPTY: dict[str, object] = {"list": [], "boolean": False}


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _validate_value(
    spec: FieldSpec, value: object, path: str, problems: list[FieldProblem]
) -> object:
    try:
        if spec.type == "text":
            text = validate_text(value)
            if spec.choices is not None and text not in spec.choices:
                raise FieldInvalid(f"harus salah satu dari: {', '.join(spec.choices)}")
            return text
        if spec.type == "nip":
            return validate_nip(value)
        if spec.type == "ni_pppk":
            return validate_ni_pppk(value)
        if spec.type == "nik":
            return validate_nik(value)
        if spec.type == "boolean":
            return validate_boolean(value)
        if spec.type == "pangkat":
            return validate_pangkat(value)  # type: ignore[arg-type]
        if spec.type == "date":
            return validate_date(value)
        if spec.type == "integer":
            return validate_integer(value)
    except FieldInvalid as exc:
        problems.append(FieldProblem(field=path, message=str(exc)))
        return None
    return _validate_list(spec, value, path, problems)


def _validate_list(
    spec: FieldSpec, value: object, path: str, problems: list[FieldProblem]
) -> object:
    if not isinstance(value, list | tuple):
        problems.append(FieldProblem(field=path, message="harus berupa daftar"))
        return None
    if len(value) > spec.max_items:
        problems.append(FieldProblem(path, f"terlalu banyak isian (maksimal {spec.max_items})"))
        return None
    items: list[object] = []
    for i, item in enumerate(value, start=1):
        item_path = f"{path}[{i}]"
        if spec.item_fields is None:
            try:
                items.append(validate_text(item))
            except FieldInvalid as exc:
                problems.append(FieldProblem(item_path, str(exc)))
        elif not isinstance(item, Mapping):
            problems.append(FieldProblem(item_path, "harus berupa objek"))
        else:
            items.append(_validate_record(spec.item_fields, item, f"{item_path}.", problems))
    return items


def _validate_record(
    specs: list[FieldSpec], data: Mapping[str, object], prefix: str, problems: list[FieldProblem]
) -> dict[str, object]:
    clean: dict[str, object] = {}
    known = {spec.name for spec in specs}
    for key in data:
        if key not in known:
            problems.append(FieldProblem(f"{prefix}{key}", "isian tidak dikenal pada templat ini"))
    for spec in specs:
        path = f"{prefix}{spec.name}"
        value = data.get(spec.name)
        if _is_empty(value) and spec.default is not None:
            value = spec.default
        if _is_empty(value):
            if spec.required:
                problems.append(FieldProblem(path, "wajib diisi"))
            clean[spec.name] = _EMPTY.get(spec.type)
            continue
        clean[spec.name] = _validate_value(spec, value, path, problems)
    return clean


def validate_data(manifest: TemplateManifest, data: Mapping[str, object]) -> dict[str, object]:
    """Check ``data`` against the manifest's fields and return it cleaned and typed.

    Text is trimmed, NIP reduced to 18 digits, pangkat to its golongan (``III/a``), dates become
    ``datetime.date``, integers ``int``. Missing optional fields are present as ``None`` (lists
    as ``[]``) so templates can test them. Problems inside list records are reported as
    ``peserta[2].nip``.

    Raises:
        DataInvalid: listing every problem found (missing, malformed, unknown keys).
    """
    if not isinstance(data, Mapping):
        raise DataInvalid([FieldProblem("data", "harus berupa objek")])
    problems: list[FieldProblem] = []
    clean = _validate_record(manifest.fields, data, "", problems)
    if problems:
        raise DataInvalid(problems)
    return clean
