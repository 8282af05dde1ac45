"""Indonesian month names and times in Indonesia's three zones (WIB, WITA, WIT), as signature
appearances and pages show them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Final

__all__ = ["BULAN", "WIB", "Zona", "format_waktu", "format_waktu_wib"]

BULAN: Final = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


class Zona(StrEnum):
    """Indonesia's time zones (Keppres 41/1987), each a fixed offset from UTC: none has
    daylight saving, and a fixed offset avoids depending on the tz database being installed.

    The value is the abbreviation written after a time (``14:05 WITA``).
    """

    WIB = "WIB"  # Waktu Indonesia Barat, UTC+7
    WITA = "WITA"  # Waktu Indonesia Tengah, UTC+8
    WIT = "WIT"  # Waktu Indonesia Timur, UTC+9

    @property
    def tzinfo(self) -> timezone:
        """The zone as a fixed-offset ``tzinfo``, named by its abbreviation."""
        return _TZINFO[self]


_TZINFO: Final = {
    zona: timezone(timedelta(hours=hours), zona.value)
    for zona, hours in ((Zona.WIB, 7), (Zona.WITA, 8), (Zona.WIT, 9))
}

WIB: Final = Zona.WIB.tzinfo


def format_waktu(moment: datetime, zona: Zona = Zona.WIB) -> str:
    """Format a time as Indonesians write it in ``zona``, e.g. ``27 Juni 2024 15:05 WITA``
    for 07:05 UTC.

    Raises:
        ValueError: ``moment`` is naive (has no time zone).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("signing time must be timezone-aware")
    local = moment.astimezone(zona.tzinfo)
    return f"{local.day} {BULAN[local.month - 1]} {local.year} {local:%H:%M} {zona.value}"


def format_waktu_wib(moment: datetime) -> str:
    """:func:`format_waktu` in WIB, e.g. ``27 Juni 2024 14:05 WIB``, for times that belong to
    no unit.

    Raises:
        ValueError: ``moment`` is naive (has no time zone).
    """
    return format_waktu(moment, Zona.WIB)
