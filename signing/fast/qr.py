"""QR codes of verification URLs, the same symbols the ``qrcode`` package makes, made cheaply.

A document shows its verification URL twice (the footer on every page and each signature's
appearance), and bulk work makes its symbols in every worker process. ``qrcode`` takes ~5 ms a
symbol in pure Python: bit by bit buffers, Reed-Solomon division on lists, the data laid out and
scored eight times to choose the mask. :func:`qr_matrix` makes the same symbol in ~0.1 ms:

- A URL that ``qrcode`` puts in one byte-mode segment (its own ``optimal_data_chunks`` says) is
  encoded here: header, bytes, terminator, pad codewords, then each block's error correction by
  long division with a table of the generator polynomial's multiples, the remainder one integer.
  Other URLs (a run of 20 digits or capitals, which get a denser segment, or too long for any
  version) get their codewords from ``qrcode``.
- The codeword bits go to their modules with one precomputed permutation per version, into one
  integer that holds every row and every column of the symbol (:class:`_Layout`).
- Each of the eight masks is one XOR on that integer, scored with shifts and popcounts by the
  penalty rules ``qrcode`` applies, so the same mask wins.

Per version tables are built on first use from ``qrcode``'s own drawing code and tables; the
matrices of recent URLs are kept in a small cache. :func:`qr_drawing` writes the PDF operators
pyHanko's ``PdfStreamQRImage`` writes for a symbol, from the matrix's rows a byte at a time.

With ``signing.fast.use(False)`` both functions take the library path instead: ``qrcode`` makes
the symbol (and ``PdfStreamQRImage`` draws it) as pyHanko's QR stamps do, at every call.

Measured share of the bulk time (``bench/fast_stamping.py``: CPU time, ``time.process_time``,
the minimum over 300 calls, each on a URL not seen before, shaped as verification URLs are):
a symbol and its drawing take ~0.2 ms here and ~6.1 ms with ``qrcode``. A bulk document has
four: its footer's (~5.9 ms saved per document, 13 % of the ~45 ms of CPU the whole bulk run
takes per document) and those of its three signature appearances, which
:mod:`signing.fast.appearance` draws with this module (~18 ms more, 40 %).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import qrcode
from pyhanko.pdf_utils.qr import PdfStreamQRImage
from qrcode import base as qr_base
from qrcode import util as qr_util

from signing import fast

__all__ = ["QrMatrix", "qr_drawing", "qr_matrix"]

# Error correction level M, as pyHanko's QR stamps use: 15% of the symbol may be damaged.
ERROR_CORRECTION: Final = qrcode.constants.ERROR_CORRECT_M

_CACHE_SIZE: Final = 1024
"""URLs whose matrix is kept: a bulk run prepares a batch of documents, then signs them."""

_OPTIMIZE: Final = 20
"""``QRCode.add_data``'s default: a run of this many characters that a denser mode than bytes
can encode gets a segment of its own."""

_PADDING: Final = bytes((qr_util.PAD0, qr_util.PAD1))


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
    if not fast.enabled():
        symbol = _qrcode_symbol(url)
        return QrMatrix(
            size=symbol.modules_count,
            rows=tuple(int("".join("01"[bool(dark)] for dark in row), 2) for row in symbol.modules),
        )
    return _cached_matrix(url)


def qr_drawing(url: str, *, border: int, box_size: int) -> tuple[bytes, int]:
    """PDF drawing operators of ``url``'s symbol as pyHanko's ``PdfStreamQRImage`` renders it
    (one ``box_size`` square per dark module, ``border`` modules from the origin, y upwards),
    and the side of the square that symbol and border fill: what pyHanko's QR stamp puts in its
    QR form.

    The fast path writes them directly, byte for byte what ``PdfStreamQRImage`` writes (black
    fill and stroke, a ``cm`` that scales modules to ``box_size`` and flips y, one ``re`` per dark
    module in row order, one ``f``), a row's dark modules found a byte of the row at a time rather
    than with a Python call per module.

    :raises ValueError: if ``url`` is empty, ``border`` is negative or ``box_size`` is not
        positive.
    :raises qrcode.exceptions.DataOverflowError: if ``url`` does not fit in a QR code.
    """
    if not url:
        raise ValueError("nothing to encode in a QR code")
    if border < 0 or box_size <= 0:
        raise ValueError(
            f"a QR drawing needs border >= 0 and box_size > 0, not {border} and {box_size}"
        )
    if not fast.enabled():
        symbol = _qrcode_symbol(url, border=border, box_size=box_size)
        operators = symbol.make_image(image_factory=PdfStreamQRImage).render_command_stream()
        return operators, (symbol.modules_count + 2 * border) * box_size

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
    return header + b"".join(rows) + b"f", (size + 2 * border) * box_size


def _qrcode_symbol(url: str, *, border: int = 4, box_size: int = 10) -> qrcode.QRCode:  # type: ignore[type-arg]
    """The library path: the symbol as pyHanko's QR stamp has ``qrcode`` make it."""
    symbol: qrcode.QRCode = qrcode.QRCode(  # type: ignore[type-arg]
        error_correction=ERROR_CORRECTION, border=border, box_size=box_size
    )
    symbol.add_data(url)
    try:
        symbol.make()
    except ValueError as exc:  # best_fit sets version 41, which QRCode.version refuses
        raise qrcode.exceptions.DataOverflowError(
            f"{len(url)} characters do not fit in a QR code"
        ) from exc
    return symbol


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
    version, codewords = _codewords(url)
    layout = _layout(version)
    bits = format(int.from_bytes(codewords, "big"), f"0{8 * len(codewords)}b")
    # Padded with "0": the remainder bits after the last codeword, and what non-data positions
    # (function patterns, guard bits) read.
    data = int("".join(layout.place(bits.ljust(layout.data_modules + 1, "0"))), 2)

    best, best_penalty = 0, -1
    for mask, pattern in enumerate(layout.patterns):
        penalty = _penalty(layout.fixed ^ pattern ^ data, layout)
        if best_penalty < 0 or penalty < best_penalty:  # the first of equals, as qrcode
            best, best_penalty = mask, penalty

    size, stride = layout.size, layout.stride
    row_lines = (data ^ layout.patterns[best]) >> size * stride
    whole_row = (1 << size) - 1
    rows = tuple(
        function | (row_lines >> (size - 1 - r) * stride + 1) & whole_row  # + 1: its guard
        for r, function in enumerate(_function_rows(version, best))
    )
    return QrMatrix(size=layout.size, rows=rows)


def _codewords(url: str) -> tuple[int, bytes]:
    """The version of ``url``'s symbol and its codewords, data and error correction interleaved,
    as ``qrcode`` makes them."""
    segments = list(qr_util.optimal_data_chunks(url, minimum=_OPTIMIZE))
    if len(segments) == 1 and segments[0].mode == qr_util.MODE_8BIT_BYTE:
        data: bytes = segments[0].data
        version = bisect.bisect_left(_byte_capacities(), len(data)) + 1
        if version <= 40:
            return version, _byte_mode_codewords(data, version)
    # Several segments (a run of digits or capitals qrcode encodes in a denser mode), or too
    # long for any version.
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION)
    qr.add_data(url)
    try:
        version = qr.best_fit()
    except ValueError as exc:  # best_fit sets version 41, which QRCode.version refuses
        raise qrcode.exceptions.DataOverflowError(
            f"{len(url)} characters do not fit in a QR code"
        ) from exc
    return version, bytes(qr_util.create_data(version, ERROR_CORRECTION, qr.data_list))


@functools.cache
def _byte_capacities() -> tuple[int, ...]:
    """Bytes one byte-mode segment can hold at level M, versions 1 to 40."""
    return tuple(
        (
            qr_util.BIT_LIMIT_TABLE[ERROR_CORRECTION][version]
            - 4
            - qr_util.length_in_bits(qr_util.MODE_8BIT_BYTE, version)
        )
        // 8
        for version in range(1, 41)
    )


def _byte_mode_codewords(data: bytes, version: int) -> bytes:
    """``data`` as one byte-mode segment of a ``version`` symbol, as ``qr_util.create_data``
    writes it: mode, length, the bytes, a 4-bit terminator (a byte segment ends 4 bits short of
    a byte boundary, and at least 4 bits short of the capacity), pad codewords, then each block's
    error correction, interleaved."""
    blocks = _blocks(version)
    length_bits = qr_util.length_in_bits(qr_util.MODE_8BIT_BYTE, version)
    header = qr_util.MODE_8BIT_BYTE << length_bits | len(data)
    segment = (header << 8 * len(data) | int.from_bytes(data, "big")) << 4
    stream = segment.to_bytes((length_bits + 8 * len(data) + 8) // 8, "big")
    padding = blocks.data_count - len(stream)
    stream += (_PADDING * (padding // 2 + 1))[:padding]
    corrections = []
    start = 0
    for count, ec_count in blocks.counts:
        corrections.append(_error_correction(stream[start : start + count], ec_count))
        start += count
    return bytes(blocks.interleave(stream + b"".join(corrections)))


def _error_correction(block: bytes, ec_count: int) -> bytes:
    """The Reed-Solomon remainder of ``block``: long division by the generator polynomial, the
    remainder held as one integer of ``ec_count`` bytes."""
    multiples = _generator_multiples(ec_count)
    top = 8 * (ec_count - 1)
    below_top = (1 << top) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder & below_top) << 8) ^ multiples[(remainder >> top) ^ byte]
    return remainder.to_bytes(ec_count, "big")


@functools.lru_cache(maxsize=8)  # level M uses 8 lengths, 10 to 30
def _generator_multiples(ec_count: int) -> tuple[int, ...]:
    """For each GF(256) value, the generator polynomial of ``ec_count`` error correction
    codewords times it, leading term left out, as an integer of ``ec_count`` bytes."""

    def times(a: int, b: int) -> int:
        return 0 if a == 0 or b == 0 else qr_base.gexp(qr_base.glog(a) + qr_base.glog(b))

    generator = [1]  # coefficients, highest power first: (x - a^0)(x - a^1)...
    for i in range(ec_count):
        root = qr_base.gexp(i)
        generator = [
            a ^ times(b, root) for a, b in zip([*generator, 0], [0, *generator], strict=True)
        ]
    return tuple(
        int.from_bytes(bytes(times(value, c) for c in generator[1:]), "big") for value in range(256)
    )


@dataclass(frozen=True)
class _Blocks:
    counts: tuple[tuple[int, int], ...]
    """Each block's data and error correction codeword counts."""
    data_count: int
    interleave: Callable[[bytes], tuple[int, ...]]
    """From all data blocks then all error correction blocks, to the order in the symbol."""


@functools.lru_cache(maxsize=40)  # one per QR version
def _blocks(version: int) -> _Blocks:
    counts = tuple(
        (block.data_count, block.total_count - block.data_count)
        for block in qr_base.rs_blocks(version, ERROR_CORRECTION)
    )
    ranges: list[range] = []  # each block's codewords, data blocks then error correction blocks
    for part in (0, 1):
        for block in counts:
            start = ranges[-1].stop if ranges else 0
            ranges.append(range(start, start + block[part]))
    data_ranges, ec_ranges = ranges[: len(counts)], ranges[len(counts) :]
    # The first codeword of each block, then the second..., as qr_util.create_bytes orders them.
    order = [
        i
        for part in (data_ranges, ec_ranges)
        for nth in itertools.zip_longest(*part)
        for i in nth
        if i is not None
    ]
    return _Blocks(
        counts=counts,
        data_count=sum(count for count, _ in counts),
        interleave=operator.itemgetter(*order),
    )


@dataclass(frozen=True)
class _Layout:
    """A version's symbol as the bits of one integer, "lines": the rows, top first, then the
    columns, left first, each line followed by a guard bit that is neither dark nor light, so that
    no run or pattern a penalty rule looks for reaches from one line into the next. Bit
    ``(2 * size - 1 - j) * stride + size - k`` is module ``k`` of line ``j``."""

    size: int
    stride: int
    """Bits per line, its guard included."""
    data_modules: int
    place: Callable[[str], tuple[str, ...]]
    """From the data modules' bits in placement order (``"0"``/``"1"``, a ``"0"`` after them),
    the characters of the lines."""
    modules: int
    """Every module of every line."""
    fixed: int
    """The function patterns as qrcode scores masks: format and version information, and the
    dark module beside them, light."""
    patterns: tuple[int, ...]
    """The eight mask patterns, on data modules only."""


@functools.lru_cache(maxsize=40)  # one per QR version
def _layout(version: int) -> _Layout:
    blank = _blank(version)
    blank.setup_type_info(True, 0)
    if version >= 7:
        blank.setup_type_number(True)
    size = blank.modules_count
    cells: list[list[bool | None]] = blank.modules

    # The data modules in the order QRCode.map_data fills them: two columns at a time from the
    # right, up then down, stepping over the vertical timing pattern.
    order: dict[tuple[int, int], int] = {}
    upward = True
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        for r in range(size - 1, -1, -1) if upward else range(size):
            for c in (right, right - 1):
                if cells[r][c] is None:
                    order[r, c] = len(order)
        upward = not upward
    data_modules = len(order)

    lines = [[(r, c) for c in range(size)] for r in range(size)]
    lines += [[(r, c) for r in range(size)] for c in range(size)]

    def as_bits(dark: Callable[[int, int], bool]) -> int:
        rows = ["".join("01"[dark(r, c)] for c in range(size)) for r in range(size)]
        columns = ("".join(column) for column in zip(*rows, strict=True))
        return int("".join(line + "0" for line in (*rows, *columns)), 2)

    def pattern(mask: int) -> int:
        flips = qr_util.mask_func(mask)
        return as_bits(lambda r, c: (r, c) in order and flips(r, c))

    place = [
        i for line in lines for i in (*(order.get(c, data_modules) for c in line), data_modules)
    ]
    return _Layout(
        size=size,
        stride=size + 1,
        data_modules=data_modules,
        place=operator.itemgetter(*place),
        modules=as_bits(lambda r, c: True),
        fixed=as_bits(lambda r, c: bool(cells[r][c])),
        patterns=tuple(pattern(mask) for mask in range(8)),
    )


@functools.lru_cache(maxsize=64)
def _function_rows(version: int, mask: int) -> tuple[int, ...]:
    """The dark modules of every function pattern, format and version information included."""
    blank = _blank(version)
    blank.error_correction = ERROR_CORRECTION
    blank.setup_type_info(False, mask)
    if version >= 7:
        blank.setup_type_number(False)
    return tuple(int("".join("01"[bool(dark)] for dark in row), 2) for row in blank.modules)


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


def _penalty(dark: int, layout: _Layout) -> int:
    """The mask penalty of ISO/IEC 18004 §7.8.3 as ``qrcode.util.lost_point`` scores it, of the
    symbol whose dark modules are ``dark`` (lines, as :class:`_Layout` lays them out)."""
    light = layout.modules ^ dark
    stride = layout.stride
    half = layout.size * stride
    rows = ((1 << half) - 1) << half  # the rows' lines: each module once
    runs = blocks = 0
    for bits in (dark, light):
        pairs = bits & bits >> 1
        # N1: runs of five or more in a line. A run of n >= 5 starts n - 4 fives and scores
        # n - 2: one per five, two per run (a run's fives are contiguous, runs' fives are not).
        fives = pairs & pairs >> 2 & bits >> 4
        runs += fives.bit_count() + 2 * (fives & ~(fives >> 1)).bit_count()
        # N2: 2x2 blocks of one colour, in the rows' lines only (the columns hold each block
        # again): a pair of modules with the same pair above it.
        blocks += (pairs & pairs >> stride & rows).bit_count()
    # N3: 1:1:3:1:1 dark:light:dark:light:dark with four light modules on either side, counted
    # once per position, as qrcode counts it.
    core = dark & light >> 1 & dark >> 2 & dark >> 3 & dark >> 4 & light >> 5 & dark >> 6
    light_pairs = light & light >> 1
    quiet = light_pairs & light_pairs >> 2
    finders = (core & quiet >> 7).bit_count() + (quiet & core >> 4).bit_count()
    # N4: how far the share of dark modules is from half, in steps of 5 %.
    share = float((dark & rows).bit_count()) / (layout.size**2)
    balance = int(abs(share * 100 - 50) / 5)
    return runs + 3 * blocks + 40 * finders + 10 * balance
