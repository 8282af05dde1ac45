"""The TrueType font embedded in verification footers and signature appearances."""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path
from typing import Final

from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory
from pyhanko.pdf_utils.writer import BasePdfFileWriter

__all__ = ["LIBERATION_SANS", "EmbeddedFontFactory", "normalized_font"]

# Debian's fonts-liberation: metric-compatible with Arial, free to embed.
LIBERATION_SANS: Final = Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")

# Latin scripts (Indonesian, names with diacritics), general punctuation, euro and trade mark.
_LATIN: Final = [*range(0x20, 0x250), *range(0x2000, 0x2070), 0x20AC, 0x2122]


@functools.cache
def normalized_font(font_file: Path) -> bytes:
    """The font cut down to Latin text and rescaled to 1000 units per em, once per process.

    pyHanko writes glyph widths and positions in the font's own units, while PDF CIDFonts measure
    glyph space in thousandths of an em: a TrueType font with 2048 units per em (Liberation Sans,
    Arial, DejaVu) comes out with every glyph spaced twice too wide. Rescaling fixes that; cutting
    the font down first makes the rescaling cheap (~0.1 s) and every later subsetting faster.
    Hinting is dropped: rescaled TrueType instructions are unreliable and print does not need them.

    Raises OSError when the file cannot be read, and fontTools errors for a broken font.
    """
    from fontTools import subset, ttLib
    from fontTools.ttLib.scaleUpem import scale_upem

    font = ttLib.TTFont(BytesIO(font_file.read_bytes()))
    options = subset.Options()
    options.hinting = False
    options.layout_features = ["kern", "liga"]
    options.name_IDs = ["*"]  # keep copyright and licence names
    options.notdef_outline = True
    options.drop_tables += ["FFTM", "hdmx", "LTSH", "VDMX", "gasp"]
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=_LATIN)
    subsetter.subset(font)
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


class EmbeddedFontFactory(FontEngineFactory):
    """Font engines that embed a subset of ``font_file`` (normalized as above)."""

    def __init__(self, font_file: Path, font_size: float) -> None:
        self._font_file = font_file
        self._font_size = font_size

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: object = None
    ) -> FontEngine:
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulator

        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        engine: FontEngine = GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(normalized_font(self._font_file)),
            font_size=self._font_size,
            bcp47_lang_code="id",
            obj_stream=obj_stream,
        )
        return engine
