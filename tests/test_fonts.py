"""The embedded font's subsets: kept and reused for equal glyph sets, byte for byte what a fresh
subset would be, made equal on purpose with ``always_embed``, and never short of a glyph the text
shows (checked in the font program itself, and through the ToUnicode map readers copy text by).
And the fast engine beside pyHanko's (``signing.fast.use(False)``): the same text operators,
widths, ToUnicode map and outlines."""

from __future__ import annotations

import io
import itertools
import re
import string
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing.fast import fonts
from signing.fast.fonts import (
    LIBERATION_SANS,
    SUBSETS_KEPT,
    EmbeddedFontEngine,
    EmbeddedFontFactory,
    SubsetParts,
)
from signing.prepare.stamp import URL_SAFE_CHARACTERS
from tests.conftest import library_paths_taken

WAKTU = "27 Juni 2024 14:05 WIB"
OTHER_WAKTU = "18 Juni 2024 09:36 WIB"  # the same but for its digits


@pytest.fixture(autouse=True)
def no_kept_subsets() -> Iterator[None]:
    """Each test starts (and leaves) with no subsets and no shaped texts kept, whatever ran
    before it."""
    fonts._compressed_subset.cache_clear()
    fonts._shaped_line.cache_clear()
    yield
    fonts._compressed_subset.cache_clear()
    fonts._shaped_line.cache_clear()


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
    buffer = fonts._shaped(font.program, text)
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


# -- the fast engine beside pyHanko's (signing.fast.use(False)) -------------------------------

TEXTS = [
    "Ditandatangani secara elektronik oleh",
    "Drs. BUDI SANTOSO, M.Si.",
    "Kepala Seksi Kurikulum dan Penilaian Sekolah Dasar",
    WAKTU,
    "Élodie Ñuñez Çakır — “ffi” fi AV To (a) \\ 100%",  # composites, ligatures, kerning
    "https://docgen.example.go.id/v/Q2hlY2tDb2RlMTIzNDU2Nzg5MDEy",
]


def shown_and_embedded(font_size: float) -> tuple[list[object], tuple[object, ...]]:
    """What a fresh engine of ``font_size`` shows for :data:`TEXTS` (each text's shape), and
    the subset it embeds (program, widths, ToUnicode map)."""
    font = EmbeddedFontFactory(LIBERATION_SANS, font_size).create_font_engine(PdfFileWriter())
    assert isinstance(font, EmbeddedFontEngine)
    shapes: list[object] = [font.shape(text) for text in TEXTS]
    parts = font.subset_parts()
    return shapes, (parts.font_file, parts.widths, parts.to_unicode)


def test_a_text_shaped_again_shows_and_embeds_what_it_did_afresh() -> None:
    """An appearance's lines come back signature after signature: shaped once, then each new
    engine that shows one gets the same operators and embeds the same glyphs and text (the
    ToUnicode map of ligatures and composites included), at its own font size."""
    first = shown_and_embedded(10)
    assert fonts._shaped_line.cache_info().misses == len(TEXTS)
    again = shown_and_embedded(10)
    assert fonts._shaped_line.cache_info().hits == len(TEXTS)
    smaller = shown_and_embedded(7)  # the operators move the cursor by the size's advance
    assert fonts._shaped_line.cache_info().misses == 2 * len(TEXTS)
    fonts._shaped_line.cache_clear()
    fonts._compressed_subset.cache_clear()
    assert again == first == shown_and_embedded(10)
    assert smaller == shown_and_embedded(7) != first


def test_kept_widths_are_written_as_pyhanko_writes_them() -> None:
    """/W is made and written once per subset and shared by the writers it goes into: the bytes
    pyHanko's array writes for the same numbers, read back as the subset's widths from each
    document it is written into."""
    for _ in range(2):
        writer = PdfFileWriter()
        font = EmbeddedFontFactory(LIBERATION_SANS, 10).create_font_engine(writer)
        assert isinstance(font, EmbeddedFontEngine)
        font.shape(TEXTS[4])
        writer.root["/Font"] = font.as_resource()  # reachable from the catalog, to read it back
        out = io.BytesIO()
        writer.write(out)
        read = PdfFileReader(io.BytesIO(out.getvalue())).root["/Font"]["/DescendantFonts"][0]
        widths = font.subset_parts().widths
        assert [tuple(v) if isinstance(v, list) else v for v in read["/W"]] == list(widths)
    kept = fonts._widths_array(widths)
    assert fonts._widths_array.cache_info().hits >= 1
    mine, pyhankos = io.BytesIO(), io.BytesIO()
    kept.write_to_stream(mine)
    generic.ArrayObject.write_to_stream(generic.ArrayObject(kept), pyhankos)
    assert mine.getvalue() == pyhankos.getvalue()


def written(make_engine: Callable[[PdfFileWriter], FontEngine]) -> tuple[list[object], Font]:
    """What an engine writes for :data:`TEXTS`: each text's shape, and the embedded font."""
    writer = PdfFileWriter()
    font = make_engine(writer)
    shapes: list[object] = [font.shape(text) for text in TEXTS]
    font.prepare_write()
    return shapes, Font.of(font.as_resource().get_object())


@dataclass(frozen=True)
class Font:
    """An embedded Type 0 font as a reader sees it."""

    widths: dict[int, int]
    """/W: the width of each glyph id."""
    to_unicode: dict[int, str]
    """The ToUnicode CMap: the text of each glyph id."""
    outlined: set[str]
    """The characters whose glyph has an outline in the font program."""

    @classmethod
    def of(cls, type0: generic.DictionaryObject) -> Font:
        cid_font = type0["/DescendantFonts"][0]
        widths: dict[int, int] = {}
        entries = list(cid_font["/W"])
        for first, run in zip(entries[::2], entries[1::2], strict=True):
            widths.update((first + k, int(width)) for k, width in enumerate(run))
        cmap = type0["/ToUnicode"].data.decode("ascii")
        to_unicode = {}
        for start, end, texts in re.findall(r"<(\w{4})> <(\w{4})> \[([^\]]*)\]", cmap):
            targets = re.findall(r"<(\w+)>", texts)
            assert len(targets) == int(end, 16) - int(start, 16) + 1
            to_unicode.update((int(start, 16) + k, t) for k, t in enumerate(targets))
        for gid, text in re.findall(r"^<(\w{4})> <(\w+)>$", cmap, re.MULTILINE):
            to_unicode[int(gid, 16)] = text
        program = cid_font["/FontDescriptor"]["/FontFile2"].data
        font = TTFont(io.BytesIO(program), checkChecksums=2)
        glyf = font["glyf"]
        return cls(
            widths=widths,
            to_unicode={
                gid: bytes.fromhex(text).decode("utf-16-be") for gid, text in to_unicode.items()
            },
            outlined={
                chr(code)
                for code, name in font.getBestCmap().items()
                if glyf[name].numberOfContours
            },
        )


def test_both_paths_write_the_same_text_widths_and_mapping() -> None:
    factory = EmbeddedFontFactory(LIBERATION_SANS, 10)
    fast_shapes, fast_font = written(factory.create_font_engine)
    with library_paths_taken():
        library_shapes, library_font = written(factory.create_font_engine)
        assert isinstance(factory.create_font_engine(PdfFileWriter()), GlyphAccumulator)
    assert isinstance(factory.create_font_engine(PdfFileWriter()), EmbeddedFontEngine)
    # the same glyphs, positions, kerning and marked content, byte for byte
    assert fast_shapes == library_shapes
    assert fast_font == library_font
    assert set("".join(TEXTS)) - {" "} <= fast_font.outlined
    # widths in thousandths of an em: the normalized font's units, on both paths
    assert fast_font.widths[fonts.font_program(LIBERATION_SANS).glyph_of[ord("M")]] == 833


def test_both_paths_embed_the_text_whatever_the_fast_path_adds() -> None:
    """``always_embed`` is the fast path's: pyHanko's engine embeds what the text shows, which
    the fast path embeds too, with the same widths and text."""
    factory = EmbeddedFontFactory(LIBERATION_SANS, 10, always_embed=URL_SAFE_CHARACTERS)
    fast_shapes, fast_font = written(factory.create_font_engine)
    with library_paths_taken():
        library_shapes, library_font = written(factory.create_font_engine)
    assert fast_shapes == library_shapes
    assert library_font.widths.items() <= fast_font.widths.items()
    assert library_font.to_unicode.items() <= fast_font.to_unicode.items()
    assert library_font.outlined | set(URL_SAFE_CHARACTERS) <= fast_font.outlined
