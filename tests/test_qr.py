"""signing/fast/qr.py against the qrcode package, built here on its own: the same symbol, module for
module (mask included), for verification URLs of realistic shape, for data around every version's
capacity, for URLs that qrcode splits into segments of denser modes; drawn as pyHanko draws
qrcode's symbols. And its two paths (signing.fast's, and qrcode's with ``signing.fast.use(False)``)
through the public functions: the same symbols, drawings and errors."""

from __future__ import annotations

import base64
import contextlib
import importlib.metadata
import inspect
import random
import secrets
from collections.abc import Callable

import pytest
import qrcode
import qrcode.exceptions
from pyhanko.pdf_utils.qr import PdfStreamQRImage
from qrcode import base as qr_base
from qrcode import util as qr_util

import signing.fast.qr
from signing.fast.qr import _layout, _penalty, qr_drawing, qr_matrix
from tests.conftest import library_paths_taken

_M = qrcode.constants.ERROR_CORRECT_M


def _qrcode_symbol(url: str, border: int = 0) -> qrcode.QRCode:  # type: ignore[type-arg]
    """The symbol as the qrcode package makes it on its own (mask chosen by trying all eight)."""
    qr: qrcode.QRCode = qrcode.QRCode(error_correction=_M, border=border)  # type: ignore[type-arg]
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def _assert_same_symbol(url: str) -> qrcode.QRCode:  # type: ignore[type-arg]
    """``qr_matrix(url)`` on the path the switch is on is the symbol qrcode makes."""
    expected = _qrcode_symbol(url)
    matrix = qr_matrix(url)
    assert matrix.size == expected.modules_count, url
    modules = [[matrix.is_dark(r, c) for c in range(matrix.size)] for r in range(matrix.size)]
    assert modules == expected.modules, url
    return expected


def _byte_capacity(version: int) -> int:
    """Bytes of one byte-mode segment that fit a ``version`` symbol at level M: the data bits
    less the mode indicator and the character count (8 bits below version 10, 16 from it)."""
    count_bits = 8 if version < 10 else 16
    return (qr_util.BIT_LIMIT_TABLE[_M][version] - 4 - count_bits) // 8


# Collected parameters are drawn from a seeded generator: every process that collects the
# suite (pytest-xdist runs two) must see the same test ids. Codes made while a test runs stay
# from `secrets`.
_DRAW = random.Random(20261207)


def _urlsafe(nbytes: int) -> str:
    """What ``secrets.token_urlsafe(nbytes)`` gives, from the seeded generator."""
    return base64.urlsafe_b64encode(_DRAW.randbytes(nbytes)).rstrip(b"=").decode()


def _token(length: int) -> str:
    """URL-safe characters with no run of 20 that qrcode would give a denser segment."""
    text = _urlsafe(length)[:length]
    return "".join(c if i % 16 else "x" for i, c in enumerate(text))


@pytest.mark.parametrize(
    "url",
    [
        *(f"https://docgen.example.go.id/v/{_urlsafe(18)}" for _ in range(40)),
        "https://docgen.example.go.id/v/" + _urlsafe(90),  # version 7+: version bits
        "HTTPS://DOCGEN.EXAMPLE.GO.ID/V/12345",  # alphanumeric mode
        "https://ttd.example.go.id/v/" + "0123456789" * 3,  # a numeric segment
        "x",
    ],
)
def test_qr_matrix_is_the_symbol_qrcode_makes(url: str) -> None:
    _assert_same_symbol(url)
    # and drawn as pyHanko's QR stamps draw qrcode's symbols
    symbol = _qrcode_symbol(url, border=4)
    drawn = symbol.make_image(image_factory=PdfStreamQRImage)
    side = (symbol.modules_count + 8) * 10
    assert qr_drawing(url, border=4, box_size=10) == (drawn.render_command_stream(), side)


def test_verification_urls_are_the_symbols_qrcode_makes() -> None:
    prefixes = [
        "http://127.0.0.1:8000/v/",
        "https://docgen.example.go.id/v/",
        "http://localhost:8000/v/",
        "https://tte.kemendagri.go.id/dokumen/v/",
    ]
    versions = set()
    for n in range(400):
        url = prefixes[n % len(prefixes)] + secrets.token_urlsafe(12 + n % 24)
        versions.add(_assert_same_symbol(url).version)
    assert versions == {3, 4, 5, 6}


@pytest.mark.parametrize("version", range(1, 41))
def test_data_around_each_version_capacity(version: int) -> None:
    capacity = _byte_capacity(version)
    for length in (capacity - 1, capacity):
        assert _assert_same_symbol(_token(length)).version == version
    if version < 40:  # one byte more takes the next version
        assert _assert_same_symbol(_token(capacity + 1)).version == version + 1


@pytest.mark.parametrize(
    "url",
    [
        # runs of 20 or more digits or capitals get a segment of their own
        "https://docgen.example.go.id/v/" + "1234567890" * 2,
        "https://docgen.example.go.id/v/12345678901234567890abc",
        "12345678901234567890/v/abc",
        "https://docgen.example.go.id/V/ABCDEFGHIJKLMNOPQRST",
        "HTTPS://DOCGEN.EXAMPLE.GO.ID/v/abc",
        "https://docgen.example.go.id/v/" + "AB12" * 30 + "xyz" + "9" * 45,
        "https://docgen.example.go.id/v/" + _token(300) + "4" * 20,  # version 10+: longer counts
        "https://docgen.example.go.id/v/" + _token(1000) + "Q" * 21 + _token(400),  # 27+
        # data this short that is all digits or capitals (or that and a last newline) too
        "12345",
        "HTTP://A.GO.ID/V/1",
        "123\n",
        "ABC\n",
        # and runs one short of that stay in the byte segment
        "https://docgen.example.go.id/v/" + "1234567890123456789",
        "https://docgen.example.go.id/V/ABCDEFGHIJKLMNOPQRS",
        "https://docgen.example.go.id/v/" + "1" * 19 + "x" + "A" * 19,
        "1234567890123456789x",
        # bytes of UTF-8, as qrcode encodes text
        "https://docgen.example.go.id/v/surat-keterangan-ñandú-ü",
        "https://docgen.example.go.id/v/" + "é" * 1100,
    ],
)
def test_urls_in_several_segments_are_the_symbols_qrcode_makes(url: str) -> None:
    _assert_same_symbol(url)


@pytest.mark.parametrize(
    "url",
    [
        *(f"https://docgen.example.go.id/v/{_urlsafe(18)}" for _ in range(20)),
        *(_token(_byte_capacity(version)) for version in (1, 2, 7, 10, 14, 27, 40)),
    ],
)
def test_each_mask_scores_what_qrcode_scores(url: str) -> None:
    """All eight penalties, not only the winner's: a rule miscounted by a constant would still
    pick qrcode's mask."""
    qr: qrcode.QRCode = qrcode.QRCode(error_correction=_M)  # type: ignore[type-arg]
    qr.add_data(url)
    layout = _layout(qr.best_fit())
    for mask in range(8):
        qr.makeImpl(True, mask)  # as best_mask_pattern scores it
        rows = ["".join("01"[bool(dark)] for dark in row) for row in qr.modules]
        lines = [*rows, *("".join(column) for column in zip(*rows, strict=True))]
        # the layout _Layout describes: each line followed by a guard bit
        dark = int("".join(line + "0" for line in lines), 2)
        assert _penalty(dark, layout) == qr_util.lost_point(qr.modules), (url, mask)


def counted_encodings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call of qrcode's encoder from now on in the test, recorded."""
    encoded: list[object] = []
    create_data = qr_util.create_data

    def counted(*args: object) -> object:
        encoded.append(args)
        return create_data(*args)

    monkeypatch.setattr(qr_util, "create_data", counted)
    return encoded


def test_urls_in_one_byte_segment_are_encoded_without_qrcode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cheap way is the one taken: only URLs qrcode splits into segments go through its
    encoder."""
    encoded = counted_encodings(monkeypatch)
    qr_matrix(f"https://docgen.example.go.id/v/{secrets.token_urlsafe(18)}")
    qr_matrix(f"https://docgen.example.go.id/v/{_token(2000)}")
    assert encoded == []
    qr_matrix(f"https://docgen.example.go.id/v/{'1234567890' * 2}/{secrets.token_urlsafe(8)}")
    assert len(encoded) == 1


@pytest.mark.parametrize(
    "paths", [contextlib.nullcontext, library_paths_taken], ids=["fast", "library"]
)
def test_nothing_or_too_much_to_encode_raises(
    paths: Callable[[], contextlib.AbstractContextManager[None]],
) -> None:
    with paths():
        for make in (qr_matrix, lambda url: qr_drawing(url, border=4, box_size=10)):
            with pytest.raises(ValueError):
                make("")
            with pytest.raises(qrcode.exceptions.DataOverflowError):
                make(_token(_byte_capacity(40) + 1))
            with pytest.raises(qrcode.exceptions.DataOverflowError):
                make("https://docgen.example.go.id/v/" + "7" * 6000)  # numeric, still too long
        with pytest.raises(ValueError):
            qr_drawing("https://docgen.example.go.id/v/x", border=-1, box_size=10)
        with pytest.raises(ValueError):
            qr_drawing("https://docgen.example.go.id/v/x", border=4, box_size=0)


# Verification URLs as docgen makes them, and URLs around what the fast path does itself: every
# version's capacity, segments of denser modes qrcode encodes, UTF-8.
BOTH_PATHS_URLS = [
    *(f"https://docgen.example.go.id/v/{_urlsafe(12 + n)}" for n in range(24)),
    *(_token(_byte_capacity(version)) for version in (1, 2, 7, 10, 14, 27, 40)),
    "https://docgen.example.go.id/v/" + "1234567890" * 2,
    "HTTPS://DOCGEN.EXAMPLE.GO.ID/V/12345",
    "https://docgen.example.go.id/v/surat-keterangan-ñandú-ü",
    "x",
]


def test_both_paths_make_the_same_symbols_and_drawings(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = counted_encodings(monkeypatch)

    def made() -> list[tuple[object, ...]]:
        return [
            (
                qr_matrix(url),
                qr_drawing(url, border=4, box_size=10),  # as in signature appearances
                qr_drawing(url, border=0, box_size=1),  # as in the footer
            )
            for url in BOTH_PATHS_URLS
        ]

    signing.fast.qr._cached_matrix.cache_clear()
    fast = made()
    fast_encoded = len(encoded)
    assert fast_encoded < len(BOTH_PATHS_URLS)  # qrcode only for the URLs it splits
    with library_paths_taken():
        library = made()
    assert signing.fast.qr._cached_matrix.cache_info().currsize == len(BOTH_PATHS_URLS)
    # qrcode made every symbol of the library path, three per URL
    assert len(encoded) - fast_encoded == 3 * len(BOTH_PATHS_URLS)
    for url, fast_symbol, library_symbol in zip(BOTH_PATHS_URLS, fast, library, strict=True):
        assert fast_symbol == library_symbol, url


QRCODE = f"qrcode {importlib.metadata.version('qrcode')}"

# What signing/fast/qr.py builds its symbols from beyond qrcode's documented QRCode API: helpers
# and tables of qrcode.util and qrcode.base, and the steps QRCode.makeImpl draws a symbol with.
QRCODE_INTERNALS = {
    qr_util: {
        "optimal_data_chunks": ["data", "minimum"],
        "length_in_bits": ["mode", "version"],
        "create_data": ["version", "error_correction", "data_list"],
        "mask_func": ["pattern"],
    },
    qr_base: {"gexp": ["n"], "glog": ["n"], "rs_blocks": ["version", "error_correction"]},
    qrcode.QRCode: {
        "best_fit": ["self", "start"],
        "setup_position_probe_pattern": ["self", "row", "col"],
        "setup_position_adjust_pattern": ["self"],
        "setup_timing_pattern": ["self"],
        "setup_type_info": ["self", "test", "mask_pattern"],
        "setup_type_number": ["self", "test"],
    },
}


def test_qrcode_still_has_what_the_fast_path_builds_on() -> None:
    for owner, functions in QRCODE_INTERNALS.items():
        for name, parameters in functions.items():
            function = getattr(owner, name, None)
            where = f"{owner.__name__}.{name}"
            assert callable(function), f"{QRCODE}: {where} is gone; signing/fast/qr.py uses it"
            assert list(inspect.signature(function).parameters) == parameters, (
                f"{QRCODE}: {where}{inspect.signature(function)} is not what signing/fast/qr.py "
                f"calls ({', '.join(parameters)})"
            )
    tables = (qr_util.BIT_LIMIT_TABLE[_M][1], qr_util.PAD0, qr_util.PAD1, qr_util.MODE_8BIT_BYTE)
    assert tables == (128, 0xEC, 0x11, 4), f"{QRCODE}: other tables than signing/fast/qr.py's"
    (block,) = qr_base.rs_blocks(1, _M)
    assert (block.data_count, block.total_count) == (16, 26), (
        f"{QRCODE}: Reed-Solomon blocks described otherwise than signing/fast/qr.py reads them"
    )
    (segment,) = qr_util.optimal_data_chunks("https://x/v/a", minimum=20)
    assert (segment.mode, segment.data) == (qr_util.MODE_8BIT_BYTE, b"https://x/v/a"), (
        f"{QRCODE}: data segments described otherwise than signing/fast/qr.py reads them"
    )
    symbol = qrcode.QRCode(version=1, error_correction=_M)
    symbol.add_data("x")
    symbol.make(fit=False)
    assert (symbol.modules_count, len(symbol.modules), len(symbol.data_list)) == (21, 21, 1), (
        f"{QRCODE}: QRCode keeps its symbol otherwise than signing/fast/qr.py reads it"
    )
