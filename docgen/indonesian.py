"""Indonesian wording for official documents: dates, numbers in words, NIP, names with degrees.

Pure functions without I/O; they double as Jinja filters in the template layer
(see ``docgen.render``). Babel is deliberately not used: its ``full`` date pattern pads the day
("07 Juni"), which tata naskah dinas does not do.
"""

from __future__ import annotations

import re
from datetime import date

from signing.waktu import BULAN

__all__ = [
    "BULAN",
    "HARI",
    "bulan_romawi",
    "format_nip",
    "jumlah_terbilang",
    "mask_nip",
    "nama_gelar_kapital",
    "tanggal",
    "tanggal_pendek",
    "tanggal_terbilang",
    "terbilang",
]

# Index 0 is Monday, matching ``date.weekday()``.
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_ROMAWI = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

_SATUAN = (
    "nol",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
)
# Scale words from the largest down; "seribu" (not "satu ribu") is the one irregular form.
_SKALA = ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"), (10**3, "ribu"))
TERBILANG_MAX = 10**15 - 1


def tanggal(d: date) -> str:
    """Full date with day name: ``Kamis, 27 Juni 2024``."""
    return f"{HARI[d.weekday()]}, {tanggal_pendek(d)}"


def tanggal_pendek(d: date) -> str:
    """Date without day name, day not zero-padded: ``27 Juni 2024``."""
    return f"{d.day} {BULAN[d.month - 1]} {d.year}"


def tanggal_terbilang(d: date) -> str:
    """Date in words, as in the opening of a berita acara or MoU.

    ``hari Kamis tanggal dua puluh tujuh bulan Juni tahun dua ribu dua puluh empat``.
    """
    return (
        f"hari {HARI[d.weekday()]} tanggal {terbilang(d.day)} "
        f"bulan {BULAN[d.month - 1]} tahun {terbilang(d.year)}"
    )


def _ratusan(n: int) -> list[str]:
    """Words for 1..999."""
    words: list[str] = []
    ratus, sisa = divmod(n, 100)
    if ratus == 1:
        words.append("seratus")
    elif ratus > 1:
        words += [_SATUAN[ratus], "ratus"]
    if sisa == 0:
        return words
    if sisa < 12:
        words.append(_SATUAN[sisa])
    elif sisa < 20:
        words += [_SATUAN[sisa - 10], "belas"]
    else:
        puluh, satu = divmod(sisa, 10)
        words += [_SATUAN[puluh], "puluh"]
        if satu:
            words.append(_SATUAN[satu])
    return words


def terbilang(n: int) -> str:
    """A whole number in Indonesian words: 11 ``sebelas``, 1000 ``seribu``, -5 ``minus lima``.

    Raises:
        TypeError: ``n`` is not an ``int`` (``bool`` included).
        ValueError: ``|n|`` is larger than 999 triliun.
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"terbilang expects an int, got {type(n).__name__}")
    if n < 0:
        return f"minus {terbilang(-n)}"
    if n > TERBILANG_MAX:
        raise ValueError(f"terbilang supports numbers up to {TERBILANG_MAX}")
    if n == 0:
        return "nol"
    words: list[str] = []
    for skala, nama in _SKALA:
        bagian, n = divmod(n, skala)
        if bagian == 1 and skala == 1000:
            words.append("seribu")
        elif bagian:
            words += [*_ratusan(bagian), nama]
    words += _ratusan(n)
    return " ".join(words)


def _angka(n: int) -> str:
    """Digits grouped the Indonesian way: 1.000.000."""
    return f"{n:,}".replace(",", ".")


def jumlah_terbilang(n: int, satuan: str = "") -> str:
    """A count with its words in brackets: ``40 (empat puluh) orang``."""
    text = f"{_angka(n)} ({terbilang(n)})"
    return f"{text} {satuan}" if satuan else text


def bulan_romawi(month: int) -> str:
    """Month 1..12 as a Roman numeral (I..XII), as used in document numbers.

    Raises:
        ValueError: ``month`` is not in 1..12.
    """
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"bulan harus 1 sampai 12, bukan {month!r}")
    return _ROMAWI[month - 1]


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


# A leading token that ends with a period is a front title (Drs., dr., Ir., H., Prof.) or an
# initial; either way its spelling is kept (an initial is already upper case).
_FRONT_TITLE = re.compile(r"[^\s.]+\.(?:[^\s.]+\.)*")


def nama_gelar_kapital(nama: str) -> str:
    """Upper-case the name part only: ``Drs. Budi Santoso, M.Si.`` -> ``Drs. BUDI SANTOSO, M.Si.``.

    Front titles (leading tokens ending in a period) and everything after the first comma (the
    academic degrees) keep their own spelling.
    """
    inti, koma, gelar_belakang = nama.strip().partition(",")
    tokens = inti.split()
    depan: list[str] = []
    while tokens and len(tokens) > 1 and _FRONT_TITLE.fullmatch(tokens[0]):
        depan.append(tokens.pop(0))
    result = " ".join([*depan, *(t.upper() for t in tokens)])
    return f"{result}{koma}{gelar_belakang}"
