"""Indonesian month names and WIB times, as signature appearances show them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["BULAN", "WIB", "format_waktu_wib"]

BULAN: Final = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip

# Western Indonesia Time has been UTC+7 without daylight saving since 1964; a fixed offset avoids
# depending on the tz database being installed.
WIB: Final = timezone(timedelta(hours=7), "WIB")


def format_waktu_wib(moment: datetime) -> str:
    """Format a time as Indonesians write it in WIB, e.g. ``27 Juni 2024 14:05 WIB``.

    Raises:
        ValueError: ``moment`` is naive (has no time zone).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("signing time must be timezone-aware")
    local = moment.astimezone(WIB)
    return f"{local.day} {BULAN[local.month - 1]} {local.year} {local:%H:%M} WIB"
