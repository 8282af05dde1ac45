"""QR codes of verification URLs, the same symbols the ``qrcode`` package makes, made cheaply.

A document shows its verification URL twice (the footer on every page and each signature's
appearance), and ``qrcode`` spends most of a symbol's ~5 ms choosing the mask: it lays the data
out eight times and scores each layout in pure Python. :func:`qr_matrix` lays the data out once,
derives the eight candidates with integer bit operations (one int per row and per column) and
scores them with the same penalty rules, so it picks the mask ``qrcode`` picks; the matrices of
recent URLs are kept in a small cache.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import qrcode
from qrcode import util as qr_util

__all__ = ["QrMatrix", "qr_matrix", "qr_stream"]

# Error correction level M, as pyHanko's QR stamps use: 15% of the symbol may be damaged.
ERROR_CORRECTION: Final = qrcode.constants.ERROR_CORRECT_M

_CACHE_SIZE: Final = 1024
"""URLs whose matrix is kept: a bulk run prepares a batch of documents, then signs them."""

_RUN: Final = re.compile(r"0{5,}|1{5,}")
# Neither pattern overlaps itself, and qrcode counts a position once when either matches, so
# str.count of each (non-overlapping occurrences) counts what qrcode counts.
_FINDER_LIKE: Final = ("10111010000", "00001011101")


@dataclass(frozen=True)
class QrMatrix:
    """A QR symbol without its quiet zone: ``rows[r]`` has bit ``size - 1 - c`` set when the
    module in row ``r``, column ``c`` is dark."""

    size: int
    rows: tuple[int, ...]

    def is_dark(self, row: int, col: int) -> bool:
        return bool(self.rows[row] >> (self.size - 1 - col) & 1)


def qr_matrix(url: str) -> QrMatrix:
    """The QR symbol (level M, the smallest version that fits) encoding ``url``; the symbol
    ``qrcode.QRCode(error_correction=M).make()`` builds, mask included.

    :raises ValueError: if ``url`` is empty.
    :raises qrcode.exceptions.DataOverflowError: if ``url`` does not fit in a QR code.
    """
    if not url:
        raise ValueError("nothing to encode in a QR code")
    return _cached_matrix(url)


def qr_stream(url: str, *, border: int, box_size: int) -> bytes:
    """PDF drawing operators of ``url``'s symbol, as pyHanko's ``PdfStreamQRImage`` renders it:
    one ``box_size`` square per dark module, ``border`` modules from the origin, y upwards.

    Written here directly, byte for byte what ``PdfStreamQRImage`` writes (black fill and stroke,
    a ``cm`` that scales modules to ``box_size`` and flips y, one ``re`` per dark module in row
    order, one ``f``), a row's dark modules found a byte of the row at a time rather than with a
    Python call per module.
    """
    matrix = qr_matrix(url)
    size = matrix.size
    offset = round(border * box_size, 4)
    scale = round(box_size, 4)
    header = b"0 0 0 rg\n0 0 0 RG\n%s 0 0 %s %s %s cm\n" % tuple(
        str(v).encode("ascii") for v in (scale, -scale, offset, offset + round(size * box_size, 4))
    )
    chunks = _dark_columns(size)
    width = len(chunks)
    rows = []
    for row, bits in enumerate(matrix.rows):
        columns: list[bytes] = []
        for table, byte in zip(chunks, bits.to_bytes(width, "big"), strict=True):
            columns += table[byte]
        end = b"%d 1 1 re\n" % row
        if columns:
            rows.append(end.join(columns) + end)
    return header + b"".join(rows) + b"f"


@functools.lru_cache(maxsize=40)  # one per QR version
def _dark_columns(size: int) -> tuple[tuple[tuple[bytes, ...], ...], ...]:
    """For each byte of a row's bits (``int.to_bytes``, big-endian) and each value of it, the
    ``"<column> "`` text of the dark modules it holds."""
    width = (size + 7) // 8
    first = size - 8 * width  # column of the first byte's top bit (negative: padding)
    return tuple(
        tuple(
            tuple(
                b"%d " % (first + 8 * k + i)
                for i in range(8)
                if value >> (7 - i) & 1 and first + 8 * k + i >= 0
            )
            for value in range(256)
        )
        for k in range(width)
    )


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_matrix(url: str) -> QrMatrix:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    qr.add_data(url)
    try:
        qr.best_fit()
    except ValueError as exc:  # best_fit sets version 41, which QRCode.version refuses
        raise qrcode.exceptions.DataOverflowError(
            f"{len(url)} characters do not fit in a QR code"
        ) from exc
    version = qr.version
    layout = _layout(version)
    # One layout of the data with mask 0 (test mode: format information blank, as qrcode
    # scores it); undoing mask 0 on the data modules gives the unmasked data.
    qr.makeImpl(True, 0)
    masked_rows = _row_bits(qr.modules)
    data_rows = layout.data_rows
    unmasked_rows = _masked(masked_rows, layout.masks[0].rows, data_rows)
    fixed_rows = [m & ~d for m, d in zip(masked_rows, data_rows, strict=True)]
    unmasked_cols = _transpose(unmasked_rows)
    fixed_cols = _transpose(fixed_rows)

    best, best_penalty = 0, -1
    for mask, pattern in enumerate(layout.masks):
        rows = _masked(unmasked_rows, pattern.rows, data_rows, fixed_rows)
        cols = _masked(unmasked_cols, pattern.cols, layout.data_cols, fixed_cols)
        penalty = _penalty(rows, cols, layout.size)
        if best_penalty < 0 or penalty < best_penalty:  # the first of equals, as qrcode
            best, best_penalty = mask, penalty

    function_rows = _function_rows(version, qr.error_correction, best)
    rows = _masked(unmasked_rows, layout.masks[best].rows, data_rows, function_rows)
    return QrMatrix(size=layout.size, rows=tuple(rows))


@dataclass(frozen=True)
class _MaskBits:
    rows: tuple[int, ...]
    cols: tuple[int, ...]


@dataclass(frozen=True)
class _Layout:
    size: int
    data_rows: tuple[int, ...]
    """Bits set where data modules go (everything but finder, timing, alignment, format and
    version information)."""
    data_cols: tuple[int, ...]
    masks: tuple[_MaskBits, ...]
    """The eight mask patterns, as bits over the whole symbol."""


@functools.lru_cache(maxsize=40)  # one per QR version
def _layout(version: int) -> _Layout:
    blank = _blank(version)
    blank.setup_type_info(True, 0)
    if version >= 7:
        blank.setup_type_number(True)
    size = blank.modules_count
    data_rows = tuple(
        sum(1 << (size - 1 - c) for c, cell in enumerate(row) if cell is None)
        for row in blank.modules
    )
    masks = []
    for mask in range(8):
        flips = qr_util.mask_func(mask)
        rows = tuple(
            sum(1 << (size - 1 - c) for c in range(size) if flips(r, c)) for r in range(size)
        )
        masks.append(_MaskBits(rows=rows, cols=tuple(_transpose(rows))))
    return _Layout(
        size=size,
        data_rows=data_rows,
        data_cols=tuple(_transpose(data_rows)),
        masks=tuple(masks),
    )


@functools.lru_cache(maxsize=64)
def _function_rows(version: int, error_correction: int, mask: int) -> tuple[int, ...]:
    """The dark modules of every function pattern, format and version information included."""
    blank = _blank(version)
    blank.error_correction = error_correction
    blank.setup_type_info(False, mask)
    if version >= 7:
        blank.setup_type_number(False)
    return tuple(_row_bits(blank.modules))


def _blank(version: int) -> qrcode.QRCode:  # type: ignore[type-arg]
    """A symbol of ``version`` with its finder, alignment and timing patterns and nothing else,
    made the way ``QRCode.makeImpl`` starts."""
    blank: qrcode.QRCode = qrcode.QRCode(version=version)  # type: ignore[type-arg]
    size = blank.modules_count = version * 4 + 17
    blank.modules = [[None] * size for _ in range(size)]
    blank.setup_position_probe_pattern(0, 0)
    blank.setup_position_probe_pattern(size - 7, 0)
    blank.setup_position_probe_pattern(0, size - 7)
    blank.setup_position_adjust_pattern()
    blank.setup_timing_pattern()
    return blank


def _row_bits(modules: list[list[bool | None]]) -> list[int]:
    return [int("".join("1" if dark else "0" for dark in row), 2) for row in modules]


def _masked(
    data: Sequence[int],
    pattern: Sequence[int],
    data_modules: Sequence[int],
    fixed: Sequence[int] | None = None,
) -> list[int]:
    """``data`` with ``pattern`` applied to its data modules, over the ``fixed`` modules."""
    flipped = [(b ^ p) & d for b, p, d in zip(data, pattern, data_modules, strict=True)]
    if fixed is None:
        return flipped
    return [f | b for f, b in zip(fixed, flipped, strict=True)]


def _transpose(rows: Sequence[int]) -> list[int]:
    text = [format(bits, f"0{len(rows)}b") for bits in rows]
    return [int("".join(column), 2) for column in zip(*text, strict=True)]


def _penalty(rows: list[int], cols: list[int], size: int) -> int:
    """The mask penalty of ISO/IEC 18004 §7.8.3 as ``qrcode.util.lost_point`` scores it."""
    form = f"0{size}b"
    row_text = "2".join(format(bits, form) for bits in rows)
    col_text = "2".join(format(bits, form) for bits in cols)
    # N1: runs of five or more modules of one colour, in rows and columns.
    runs = sum(len(run) - 2 for text in (row_text, col_text) for run in _RUN.findall(text))
    # N2: 2x2 blocks of one colour.
    pairs = (1 << (size - 1)) - 1
    blocks = 0
    for upper, lower in zip(rows, rows[1:], strict=False):  # each row with the next
        same = ~(upper ^ lower)
        blocks += (same & (same >> 1) & ~(upper ^ (upper >> 1)) & pairs).bit_count()
    # N3: 1:1:3:1:1 finder-like patterns with four light modules on one side.
    finders = sum(text.count(pattern) for text in (row_text, col_text) for pattern in _FINDER_LIKE)
    # N4: how far the share of dark modules is from half, in steps of 5 %.
    dark = sum(bits.bit_count() for bits in rows)
    balance = int(abs(float(dark) / (size**2) * 100 - 50) / 5)
    return runs + 3 * blocks + 40 * finders + 10 * balance
