"""Pangkat/golongan of civil servants: the closed list of 17, and their usual spellings."""

from __future__ import annotations

import re

from docgen.errors import FieldInvalid

__all__ = ["PANGKAT", "pangkat_golongan", "validate_pangkat"]

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
