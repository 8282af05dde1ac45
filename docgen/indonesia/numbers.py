"""Numbers in words ("terbilang"): 11 sebelas, 1000 seribu, 40 (empat puluh) orang."""

from __future__ import annotations

__all__ = ["TERBILANG_MAX", "jumlah_terbilang", "terbilang"]

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
