"""Dates as Indonesian official documents write them: day names, months, dates in words, and
the Roman month numbers of document numbers.

Babel is deliberately not used: its ``full`` date pattern pads the day ("07 Juni"), which tata
naskah dinas does not do.
"""

from __future__ import annotations

from datetime import date

from docgen.indonesia.numbers import terbilang
from signing.waktu import BULAN

__all__ = ["BULAN", "HARI", "bulan_romawi", "tanggal", "tanggal_pendek", "tanggal_terbilang"]

# Index 0 is Monday, matching ``date.weekday()``.
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_ROMAWI = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


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


def bulan_romawi(month: int) -> str:
    """Month 1..12 as a Roman numeral (I..XII), as used in document numbers.

    Raises:
        ValueError: ``month`` is not in 1..12.
    """
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"bulan harus 1 sampai 12, bukan {month!r}")
    return _ROMAWI[month - 1]
