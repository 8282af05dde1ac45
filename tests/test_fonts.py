"""The embedded font's subsets: kept and reused for equal glyph sets, byte for byte what a fresh
subset would be, made equal on purpose with ``always_embed``, and never short of a glyph the text
shows (checked in the font program itself, and through the ToUnicode map readers copy text by)."""

from __future__ import annotations

import io
import itertools
import re
import string
import zlib
from collections.abc import Iterator

import pytest
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing.fast import fonts
from signing.fast.fonts import (
    LIBERATION_SANS,
    SUBSETS_KEPT,
    EmbeddedFontEngine,
    EmbeddedFontFactory,
    SubsetParts,
)

WAKTU = "27 Juni 2024 14:05 WIB"
OTHER_WAKTU = "18 Juni 2024 09:36 WIB"  # the same but for its digits


@pytest.fixture(autouse=True)
def no_kept_subsets() -> Iterator[None]:
    """Each test starts (and leaves) with no subsets kept, whatever ran before it."""
    fonts._compressed_subset.cache_clear()
    yield
    fonts._compressed_subset.cache_clear()


def engine(always_embed: str = "") -> EmbeddedFontEngine:
    """A fresh engine on its own writer, as each footer and each appearance gets one."""
    factory = EmbeddedFontFactory(LIBERATION_SANS, 10, always_embed=always_embed)
    made = factory.create_font_engine(PdfFileWriter())
    assert isinstance(made, EmbeddedFontEngine)
    return made


def shaped(text: str, always_embed: str = "") -> SubsetParts:
    font = engine(always_embed)
    font.shape(text)
    return font.subset_parts()


def fresh(parts: SubsetParts, text: str, always_embed: str = "") -> None:
    """``parts`` are what an engine that shaped ``text`` makes with nothing kept."""
    fonts._compressed_subset.cache_clear()
    made = shaped(text, always_embed)
    assert fonts._compressed_subset.cache_info().misses == 1
    assert (parts.font_file, parts.widths, parts.to_unicode) == (
        made.font_file,
        made.widths,
        made.to_unicode,
    )


def outlined(parts: SubsetParts) -> set[str]:
    """The characters whose glyph has an outline in the subset's program (a valid TrueType file:
    fontTools checks every table's checksum)."""
    font = TTFont(io.BytesIO(zlib.decompress(parts.font_file)), checkChecksums=2)
    glyf = font["glyf"]
    return {chr(code) for code, name in font.getBestCmap().items() if glyf[name].numberOfContours}


def to_unicode(parts: SubsetParts) -> dict[int, str]:
    """The ToUnicode CMap: the text of each glyph id."""
    cmap = zlib.decompress(parts.to_unicode).decode("ascii")
    return {
        int(gid, 16): bytes.fromhex(text).decode("utf-16-be")
        for gid, text in re.findall(r"<([0-9a-f]{4})> <([0-9a-f]+)>", cmap)
    }


def shown(text: str) -> dict[int, str]:
    """The glyph ids ``text`` is shaped into, and the character each shows (one each here)."""
    font = engine()
    buffer = font._shaped(text)
    return {info.codepoint: text[info.cluster] for info in buffer.glyph_infos}


def test_a_kept_subset_is_the_one_made_afresh() -> None:
    first = shaped(WAKTU)
    again = shaped(WAKTU)
    info = fonts._compressed_subset.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert again.font_file is first.font_file  # kept, not made again
    assert re.fullmatch(r"[A-Z]{6}\+LiberationSans", again.name)
    fresh(again, WAKTU)


def test_texts_that_differ_in_always_embedded_characters_share_one_subset() -> None:
    first = shaped(WAKTU, string.digits)
    other = shaped(OTHER_WAKTU, string.digits)
    assert fonts._compressed_subset.cache_info().hits == 1
    assert other.font_file is first.font_file
    assert set(string.digits) <= outlined(other)
    fresh(other, OTHER_WAKTU, string.digits)
    # without: each embeds its own digits only
    assert shaped(WAKTU).font_file != shaped(OTHER_WAKTU).font_file


def test_text_outside_the_always_embedded_characters_is_embedded_and_mapped() -> None:
    text = "Élodie Ñuñez Çakır — 27 Juni 2024"  # É, Ñ, ñ and Ç are composite glyphs
    parts = shaped(text, string.digits)
    assert set(text) - {" "} <= outlined(parts)
    # every glyph the text shows maps back to its character, as without always_embed
    assert shown(text).items() <= to_unicode(parts).items()
    assert shown(text).items() <= to_unicode(shaped(text)).items()
    # and the digits the text does not show are there too, for the next text
    assert to_unicode(parts)[fonts.font_program(LIBERATION_SANS).glyph_of[ord("9")]] == "9"


def test_always_embedded_characters_the_font_lacks_are_skipped() -> None:
    parts = shaped("Dokumen", "ab\u4e00")  # a CJK ideograph: not in the (Latin) font
    assert "\u4e00" not in to_unicode(parts).values()
    assert 0 not in to_unicode(parts)  # .notdef shows nothing
    assert {"a", "b"} <= outlined(parts)


def test_kept_subsets_are_bounded() -> None:
    pairs = itertools.combinations(string.ascii_lowercase, 2)  # each a glyph set of its own
    texts = ["".join(pair) for pair in itertools.islice(pairs, SUBSETS_KEPT + 5)]
    parts = {text: shaped(text) for text in texts}
    info = fonts._compressed_subset.cache_info()
    assert info.maxsize == SUBSETS_KEPT
    assert info.currsize == SUBSETS_KEPT and info.misses == len(texts)
    # the oldest were dropped: made again, the same bytes
    assert shaped(texts[0]).font_file == parts[texts[0]].font_file
    assert fonts._compressed_subset.cache_info().misses == len(texts) + 1
