"""The TrueType font embedded in verification footers and signature appearances.

The font is prepared once per process (:func:`normalized_font`, :func:`font_program`): cut down to
Latin text, rescaled to 1000 units per em, parsed and loaded into HarfBuzz. Each footer and each
appearance then gets an :class:`EmbeddedFontEngine`, which shapes its text with HarfBuzz and
embeds the glyphs it used, as pyHanko's ``GlyphAccumulator`` does; but where pyHanko parses the
font again and subsets it with fontTools for every engine, this one keeps the compressed subset
(font program, widths, ToUnicode map) of the last :data:`SUBSETS_KEPT` glyph sets. Engines can
be told to embed a fixed set of characters whatever the text (``always_embed``): footers whose
URLs differ only in their random code, or appearances whose times differ only in their digits,
then embed the same subset, which fontTools makes once for all of them. Texts are kept shaped
too (:func:`_shaped_line`, the last :data:`_SHAPED_TEXTS`): one signer's appearances show the
same heading, name and jabatan document after document and the same time for a minute, so each
new engine shows them with the operators HarfBuzz's shaping gave the first, and still embeds
and maps (ToUnicode) their glyphs itself.

With ``signing.fast.use(False)``, :class:`EmbeddedFontFactory` makes pyHanko's
``GlyphAccumulator`` engines over the same normalized font instead (the library path).

Measured share of the bulk time (``bench/fast_stamping.py``: CPU time, ``time.process_time``,
the minimum over 300 calls): a fresh engine that shapes an appearance's text and writes its font
takes ~12.4 ms with pyHanko's engine and ~0.05 ms with this one, its subset and shaped lines
kept (~0.23 ms with its subset alone kept); a footer's, with a URL not seen before, ~13.0 and
~0.14 ms (~0.24 ms). A bulk document has a footer and three appearances: ~49 ms of CPU saved per
document, about the 49-52 ms the whole bulk run takes per document (session 30). fontTools cuts each
subset (~12.4 ms): a bulk run's worker cuts four (one footer glyph set, one per signer),
~0.1 ms per document, 0.2 % of the bulk run; hand-written subsetting (~0.26 ms a subset) would
save no more than that, so there is none. With the shaped texts kept, a fresh engine showing
an appearance's four lines again takes ~0.03 ms instead of ~0.12 ms (best of 30 x 100, chunks
of 100 engines), and a whole appearance (its stamp laid out and drawn, QR form kept) ~0.13 ms
instead of ~0.25 ms: ~0.12 ms of CPU per signature, ~0.36 ms per bulk document. A kept
subset's /W array is made and written once too (:func:`_widths_array`): writing an
appearance's font into pyHanko's writer (:meth:`EmbeddedFontEngine.prepare_write`) ~0.063 ->
~0.035 ms, then its objects into the file ~0.053 -> ~0.033 ms (best of 30 x 100).
"""

from __future__ import annotations

import codecs
import functools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pikepdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory, ShapeResult
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from signing import fast

if TYPE_CHECKING:
    import uharfbuzz

__all__ = [
    "LIBERATION_SANS",
    "SUBSETS_KEPT",
    "EmbeddedFontEngine",
    "EmbeddedFontFactory",
    "FontProgram",
    "SubsetParts",
    "font_program",
    "normalized_font",
]

# Debian's fonts-liberation: metric-compatible with Arial, free to embed.
LIBERATION_SANS: Final = Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")

# Latin scripts (Indonesian, names with diacritics), general punctuation, euro and trade mark.
_LATIN: Final = [*range(0x20, 0x250), *range(0x2000, 0x2070), 0x20AC, 0x2122]

# Tables left out of the embedded program: glyph positioning and substitution are done by
# HarfBuzz before the text is written, and PDF viewers only draw glyphs by id.
_LAYOUT_TABLES: Final = ("GDEF", "GPOS", "GSUB", "kern")

# Texts kept shaped (:func:`_shaped_line`): the lines a signer's appearances repeat (the heading,
# name, jabatan, the time within a minute), a footer's words and lines measured or shown
# document after document; each a few hundred bytes.
_SHAPED_TEXTS: Final = 4096

SUBSETS_KEPT: Final = 64
"""Compressed subsets kept for reuse (see :class:`EmbeddedFontEngine`): a bulk run has one
footer subset and one per signer; each entry is a few KB."""


@functools.cache
def normalized_font(font_file: Path) -> bytes:
    """The font cut down to Latin text and rescaled to 1000 units per em, once per process.

    pyHanko writes glyph widths and positions in the font's own units, while PDF CIDFonts measure
    glyph space in thousandths of an em: a TrueType font with 2048 units per em (Liberation Sans,
    Arial, DejaVu) comes out with every glyph spaced twice too wide. Rescaling fixes that; cutting
    the font down first makes the rescaling cheap (~0.1 s) and every later subset smaller.
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


@dataclass(frozen=True, eq=False)
class FontProgram:
    """A normalized TrueType font, parsed once: what shaping, measuring and embedding need.

    Equal and hashed by identity (one per font file and process), so that subsets made from it
    can be remembered under it."""

    data: bytes
    """The normalized font file (:func:`normalized_font`)."""
    postscript_name: str
    units_per_em: int
    shaper: uharfbuzz.Font
    advances: tuple[int, ...]
    """Advance width of each glyph id, in font units."""
    unicodes: dict[int, frozenset[int]]
    """Code points that map to each glyph id (ToUnicode for ligatures and other clusters)."""
    descriptor: dict[str, Any]
    """Metrics for the PDF font descriptor."""
    glyph_hex: tuple[str, ...] = ()
    """Each glyph id as four hex digits, as the text shows it."""
    glyph_of: dict[int, int] = field(default_factory=dict)
    """The glyph id each code point maps to (the font's cmap)."""

    def subset(self, glyph_ids: Iterable[int]) -> bytes:
        """The font program with outlines for ``glyph_ids`` (and their components) only, cut by
        fontTools as pyHanko's ``GlyphAccumulator`` cuts it: glyph ids stay as they are, so text
        shown with them needs no re-encoding; glyph 0 (.notdef) is always kept."""
        from fontTools import subset, ttLib

        # the normalized font's modification time, not now: the same glyphs, the same bytes
        font = ttLib.TTFont(BytesIO(self.data), recalcTimestamp=False)
        options = subset.Options(layout_closure=False)
        options.drop_tables += _LAYOUT_TABLES
        options.retain_gids = True
        options.notdef_outline = True
        options.name_IDs = ["*"]  # keep copyright and licence names
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(gids=sorted({0, *glyph_ids}))
        subsetter.subset(font)
        out = BytesIO()
        font.save(out)
        return out.getvalue()


@functools.cache
def font_program(font_file: Path) -> FontProgram:
    """:func:`normalized_font` of ``font_file``, parsed for embedding; once per process.

    Raises OSError when the file cannot be read, and fontTools errors for a broken font.
    """
    import uharfbuzz as hb
    from fontTools import ttLib

    data = normalized_font(font_file)
    font = ttLib.TTFont(BytesIO(data))
    order = font.getGlyphOrder()
    gid = {name: ix for ix, name in enumerate(order)}
    cmap = {code: gid[name] for code, name in font.getBestCmap().items()}
    unicodes: dict[int, set[int]] = {}
    for code, ix in cmap.items():
        unicodes.setdefault(ix, set()).add(code)

    hhea, os2, post, head_table = font["hhea"], font["OS/2"], font["post"], font["head"]
    descriptor = {
        "ascent": hhea.ascent,
        "descent": hhea.descent,
        "bbox": (head_table.xMin, head_table.yMin, head_table.xMax, head_table.yMax),
        "cap_height": getattr(os2, "sCapHeight", 750),
        "stem_v": int(10 + 220 * (os2.usWeightClass - 50) / 900),
        "italic_angle": float(getattr(post, "italicAngle", 0)),
    }
    name_record = next(r for r in font["name"].names if r.nameID == 6)
    return FontProgram(
        data=data,
        postscript_name=name_record.toUnicode(),
        units_per_em=head_table.unitsPerEm,
        shaper=hb.Font(hb.Face(data)),
        advances=tuple(font["hmtx"][name][0] for name in order),
        unicodes={ix: frozenset(codes) for ix, codes in unicodes.items()},
        descriptor=descriptor,
        glyph_hex=tuple(f"{gid:04x}" for gid in range(len(order))),
        glyph_of=cmap,
    )


# A PDF literal string as pyHanko writes one: letters, digits and spaces as they are, every other
# byte as an octal escape.
_LITERAL_BYTES: Final = tuple(
    bytes([c]) if bytes([c]).isalnum() or c == 0x20 else b"\\%03o" % c for c in range(256)
)


def _text_string(text: str) -> bytes:
    """``text`` as pyHanko writes a text string: PDFDocEncoding if it can, else UTF-16BE."""
    if text.isascii() and text.isprintable():  # PDFDocEncoding is ASCII there
        encoded = text.encode("ascii")
    else:
        try:
            encoded = generic.encode_pdfdocencoding(text)
        except UnicodeEncodeError:
            encoded = codecs.BOM_UTF16_BE + text.encode("utf-16be")
    return b"(" + b"".join(map(_LITERAL_BYTES.__getitem__, encoded)) + b")"


@dataclass(frozen=True)
class SubsetParts:
    """What the PDF objects of an embedded font subset hold."""

    name: str
    """Subset tag and PostScript name: the CIDFont's /BaseFont."""
    font_file: bytes
    """The TrueType program, Flate-compressed."""
    widths: tuple[int | tuple[int, ...], ...]
    """/W: the first glyph id of each run of consecutive ids used, then their widths."""
    to_unicode: bytes
    """The ToUnicode CMap, Flate-compressed."""
    metrics: dict[str, Any]
    """For the font descriptor (:attr:`FontProgram.descriptor`)."""


@functools.lru_cache(maxsize=16)  # the always_embed sets: one per kind of text
def _nominal_glyphs(program: FontProgram, chars: str) -> dict[int, str]:
    """The glyph id of each character of ``chars`` the font has, and the (first) character."""
    glyphs: dict[int, str] = {}
    for ch in chars:
        gid = program.glyph_of.get(ord(ch))
        if gid:  # (a character the font lacks would show .notdef, which shows nothing)
            glyphs.setdefault(gid, ch)
    return glyphs


@functools.lru_cache(maxsize=SUBSETS_KEPT)
def _compressed_subset(
    program: FontProgram, glyph_ids: frozenset[int], to_unicode: tuple[tuple[int, str], ...]
) -> tuple[bytes, tuple[int | tuple[int, ...], ...], bytes]:
    """The font program (compressed), /W and ToUnicode CMap (compressed) of a subset: the same
    for every engine that used the same glyphs to show the same text, so made once for them.
    ``to_unicode`` is the text of each glyph id, in order of glyph id."""
    return (
        zlib.compress(program.subset(glyph_ids)),
        _widths(program, glyph_ids),
        zlib.compress(_to_unicode_cmap(to_unicode)),
    )


def _widths(program: FontProgram, glyph_ids: Iterable[int]) -> tuple[int | tuple[int, ...], ...]:
    """/W: widths of the glyphs used, in runs of consecutive glyph ids."""
    advances = program.advances
    runs: list[tuple[int, list[int]]] = []
    previous = -2
    for gid in sorted(glyph_ids):
        if gid != previous + 1:
            runs.append((gid, []))
        runs[-1][1].append(advances[gid])
        previous = gid
    return tuple(item for first, run in runs for item in (first, tuple(run)))


class _WrittenArray(generic.ArrayObject):
    """An array of numbers that writes the bytes ``ArrayObject.write_to_stream`` wrote for it
    when it was made (numbers are neither encrypted nor referenced: the same bytes in any
    document). Shared by every writer it goes into, never changed."""

    def __init__(self, items: Iterable[generic.PdfObject]) -> None:
        super().__init__(items)
        out = BytesIO()
        super().write_to_stream(out)
        self._written = out.getvalue()

    def write_to_stream(self, stream: Any, handler: Any = None, container_ref: Any = None) -> None:
        stream.write(self._written)


@functools.lru_cache(maxsize=SUBSETS_KEPT)
def _widths_array(widths: tuple[int | tuple[int, ...], ...]) -> _WrittenArray:
    """/W of a kept subset (:attr:`SubsetParts.widths`) as the CIDFont holds it: made and
    written once per subset, not for every appearance (~0.04 ms each)."""
    return _WrittenArray(
        generic.ArrayObject(map(generic.NumberObject, item))
        if isinstance(item, tuple)
        else generic.NumberObject(item)
        for item in widths
    )


def _to_unicode_cmap(to_unicode: Iterable[tuple[int, str]]) -> bytes:
    entries = [f"<{gid:04x}> <{text.encode('utf-16-be').hex()}>" for gid, text in to_unicode]
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 entries per block
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


@dataclass(frozen=True)
class _ShapedLine:
    """A text as :meth:`EmbeddedFontEngine.shape` shows it: the same for every engine of a font
    program, size and language, so kept for texts that come back (see :func:`_shaped_line`)."""

    result: ShapeResult
    glyph_ids: tuple[int, ...]
    clusters: tuple[int, ...]
    """The start in the text of the cluster each glyph belongs to (for the ToUnicode map)."""


@functools.lru_cache(maxsize=_SHAPED_TEXTS)
def _shaped_line(
    program: FontProgram, font_size: float, bcp47_lang_code: str | None, txt: str
) -> _ShapedLine:
    """``txt`` shaped by HarfBuzz and written as text operators, as pyHanko's
    ``GlyphAccumulator.shape`` writes it (a non-empty ``txt``)."""
    buf = _shaped(program, txt)
    infos, positions = buf.glyph_infos, buf.glyph_positions
    gids = tuple(info.codepoint for info in infos)
    if any(pos.y_offset for pos in positions):
        text_ops, total = _positioned_glyphs(program, font_size, gids, positions)
    else:
        ops, total = _glyph_run(program, gids, positions)
        # end with the cursor after the text, as the positioned form does
        text_ops = b"%s %g 0 Td" % (ops, total / program.units_per_em * font_size)
    # the marked-content properties as pyHanko writes the dictionary
    properties = b"<<\n/ActualText %s\n" % _text_string(txt)
    if bcp47_lang_code is not None:
        properties += b"/Lang %s\n" % _text_string(bcp47_lang_code)
    return _ShapedLine(
        result=ShapeResult(
            graphics_ops=b"/Span %s>> BDC %s EMC" % (properties, text_ops),
            x_advance=total / program.units_per_em,
            y_advance=0,
        ),
        glyph_ids=gids,
        clusters=tuple(info.cluster for info in infos),
    )


def _shaped(program: FontProgram, txt: str) -> Any:
    import uharfbuzz as hb

    buf = hb.Buffer()
    buf.add_str(txt)
    buf.guess_segment_properties()
    hb.shape(program.shaper, buf)
    return buf


def _glyph_run(
    program: FontProgram, gids: tuple[int, ...], positions: list[Any]
) -> tuple[bytes, int]:
    """One TJ with kerning adjustments, as pyHanko writes horizontal text."""
    advances = program.advances
    hexes = program.glyph_hex
    segments: list[str] = []
    run: list[str] = []
    adjust = 0
    total = 0
    for gid, pos in zip(gids, positions, strict=True):
        x_offset, x_advance = pos.x_offset, pos.x_advance
        # TJ moves by the glyph's width minus the adjustment; HarfBuzz gives the advance.
        adjust -= x_offset
        if adjust:
            segments.append("<" + "".join(run) + ">")
            segments.append(str(adjust))
            run = []
        run.append(hexes[gid])
        adjust = advances[gid] - x_advance + x_offset
        total += x_advance
    if run:
        segments.append("<" + "".join(run) + ">")
        if adjust:
            segments.append(str(adjust))
    return f"[{' '.join(segments)}] TJ".encode("ascii"), total


def _positioned_glyphs(
    program: FontProgram, font_size: float, gids: tuple[int, ...], positions: list[Any]
) -> tuple[bytes, int]:
    """One Tj per glyph, each placed with Td (relative to the previous glyph's origin),
    for marks above or below their base; ends with the cursor after the text."""
    scale = font_size / program.units_per_em
    commands: list[bytes] = []
    x = y = total = 0
    for gid, pos in zip(gids, positions, strict=True):
        x += pos.x_offset
        y += pos.y_offset
        if x or y:
            commands.append(b"%g %g Td" % (x * scale, y * scale))
        commands.append(b"<%04x> Tj" % gid)
        x = pos.x_advance - pos.x_offset
        y = pos.y_advance - pos.y_offset
        total += pos.x_advance
    if x or y:
        commands.append(b"%g %g Td" % (x * scale, y * scale))
    return b" ".join(commands), total


class EmbeddedFontEngine(FontEngine):
    """Shapes text with HarfBuzz and embeds the glyphs used as a CIDFontType2 (Identity-H) with
    a ToUnicode map, like pyHanko's GlyphAccumulator (the same text operators), from a
    :class:`FontProgram` prepared once per process instead of a font parsed and subset with
    fontTools for every document.

    The font goes into pyHanko's writer (:meth:`prepare_write`, for signature appearances) or,
    the same objects, into a pikepdf document (:meth:`embed_in`, for the prepared PDF).

    The glyphs of ``always_embed`` are embedded whatever the text shows (see
    :meth:`embed_glyphs`): the characters by which texts that are otherwise the same differ (the
    digits of a time, the random code of a URL), so that such texts embed the same subset, which
    is then compressed once for all of them (the last :data:`SUBSETS_KEPT` subsets are kept)."""

    def __init__(
        self,
        writer: BasePdfFileWriter,
        program: FontProgram,
        font_size: float,
        *,
        bcp47_lang_code: str | None = None,
        obj_stream: generic.StreamObject | None = None,
        always_embed: str = "",
    ) -> None:
        super().__init__(
            writer,
            program.postscript_name,
            embedded_subset=True,
            obj_stream=obj_stream,
            font_size=font_size,  # type: ignore[arg-type]
        )
        self.program = program
        self.bcp47_lang_code = bcp47_lang_code
        self._font_ref = writer.allocate_placeholder()
        self._used: set[int] = set()
        self._to_unicode: dict[int, str] = {}
        self._written = False
        self.embed_glyphs(always_embed)

    def embed_glyphs(self, chars: str) -> None:
        """Embed the glyphs of ``chars`` (each on its own, as the font's cmap maps it), whether
        or not any text shows them. Text shaped before or after keeps its own ToUnicode entries,
        so what a reader copies out of it stays what it shows."""
        glyphs = _nominal_glyphs(self.program, chars)
        self._used.update(glyphs)
        self._to_unicode = {**glyphs, **self._to_unicode}

    def measure(self, txt: str) -> float:
        """The advance of ``txt`` in ems, as :meth:`shape` would report it, without writing."""
        if not txt:
            return 0.0
        return _shaped_line(
            self.program, self.font_size, self.bcp47_lang_code, txt
        ).result.x_advance

    def shape(self, txt: str) -> ShapeResult:
        if not txt:
            return ShapeResult(b"", 0, 0)
        line = _shaped_line(self.program, self.font_size, self.bcp47_lang_code, txt)
        self._used.update(line.glyph_ids)
        self._map_clusters(txt, line.clusters, line.glyph_ids)
        return line.result

    def as_resource(self) -> generic.IndirectObject:
        return self._font_ref

    def subset_parts(self) -> SubsetParts:
        """The embedded subset of the glyphs shaped so far, as its PDF objects hold it."""
        program = self.program
        font_file, widths, to_unicode = _compressed_subset(
            program, frozenset(self._used), tuple(sorted(self._to_unicode.items()))
        )
        return SubsetParts(
            name=f"{self.subset_prefix}+{program.postscript_name}",
            font_file=font_file,
            widths=widths,
            to_unicode=to_unicode,
            metrics=program.descriptor,
        )

    def prepare_write(self) -> None:
        if self._written:
            return
        writer, obj_stream = self.writer, self.obj_stream
        parts = self.subset_parts()
        metrics = parts.metrics
        font_file = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode")}, encoded_data=parts.font_file
        )
        descriptor = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/FontDescriptor"),
                pdf_name("/FontName"): pdf_name("/" + parts.name),
                pdf_name("/Ascent"): generic.NumberObject(metrics["ascent"]),
                pdf_name("/Descent"): generic.NumberObject(metrics["descent"]),
                pdf_name("/FontBBox"): generic.ArrayObject(
                    generic.NumberObject(v) for v in metrics["bbox"]
                ),
                # Symbolic: the glyphs are addressed by id, not by a standard encoding.
                pdf_name("/Flags"): generic.NumberObject(4),
                pdf_name("/StemV"): generic.NumberObject(metrics["stem_v"]),
                pdf_name("/ItalicAngle"): generic.FloatObject(metrics["italic_angle"]),
                pdf_name("/CapHeight"): generic.NumberObject(metrics["cap_height"]),
                pdf_name("/FontFile2"): writer.add_object(font_file),
            }
        )
        cid_font = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/CIDFontType2"),
                pdf_name("/BaseFont"): pdf_name("/" + parts.name),
                pdf_name("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        pdf_name("/Registry"): generic.pdf_string("Adobe"),
                        pdf_name("/Ordering"): generic.pdf_string("Identity"),
                        pdf_name("/Supplement"): generic.NumberObject(0),
                    }
                ),
                pdf_name("/FontDescriptor"): writer.add_object(descriptor, obj_stream),
                pdf_name("/CIDToGIDMap"): pdf_name("/Identity"),
                pdf_name("/W"): _widths_array(parts.widths),
            }
        )
        to_unicode = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode")}, encoded_data=parts.to_unicode
        )
        type0 = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type0"),
                pdf_name("/BaseFont"): pdf_name(f"/{parts.name}-Identity-H"),
                pdf_name("/Encoding"): pdf_name("/Identity-H"),
                pdf_name("/DescendantFonts"): generic.ArrayObject(
                    [writer.add_object(cid_font, obj_stream)]
                ),
                pdf_name("/ToUnicode"): writer.add_object(to_unicode),
            }
        )
        writer.add_object(type0, obj_stream, idnum=self._font_ref.idnum)
        self._written = True

    def embed_in(self, doc: pikepdf.Pdf) -> pikepdf.Object:
        """The font with the glyphs shaped so far, added to a pikepdf document: the objects
        :meth:`prepare_write` gives pyHanko's writer (for a document made with qpdf, as the
        prepared PDF is). Returns the Type 0 font, for resource dictionaries."""
        parts = self.subset_parts()
        metrics = parts.metrics
        flate = {"/Filter": pikepdf.Name.FlateDecode}
        descriptor = pikepdf.Dictionary(
            {
                "/Type": pikepdf.Name.FontDescriptor,
                "/FontName": pikepdf.Name("/" + parts.name),
                "/Ascent": metrics["ascent"],
                "/Descent": metrics["descent"],
                "/FontBBox": pikepdf.Array(metrics["bbox"]),
                "/Flags": 4,
                "/StemV": metrics["stem_v"],
                "/ItalicAngle": metrics["italic_angle"],
                "/CapHeight": metrics["cap_height"],
                "/FontFile2": doc.make_indirect(pikepdf.Stream(doc, parts.font_file, flate)),
            }
        )
        cid_font = pikepdf.Dictionary(
            {
                "/Type": pikepdf.Name.Font,
                "/Subtype": pikepdf.Name.CIDFontType2,
                "/BaseFont": pikepdf.Name("/" + parts.name),
                "/CIDSystemInfo": pikepdf.Dictionary(
                    {
                        "/Registry": pikepdf.String("Adobe"),
                        "/Ordering": pikepdf.String("Identity"),
                        "/Supplement": 0,
                    }
                ),
                "/FontDescriptor": doc.make_indirect(descriptor),
                "/CIDToGIDMap": pikepdf.Name.Identity,
                "/W": pikepdf.Array(parts.widths),
            }
        )
        type0 = pikepdf.Dictionary(
            {
                "/Type": pikepdf.Name.Font,
                "/Subtype": pikepdf.Name.Type0,
                "/BaseFont": pikepdf.Name(f"/{parts.name}-Identity-H"),
                "/Encoding": pikepdf.Name("/Identity-H"),
                "/DescendantFonts": pikepdf.Array([doc.make_indirect(cid_font)]),
                "/ToUnicode": doc.make_indirect(pikepdf.Stream(doc, parts.to_unicode, flate)),
            }
        )
        return doc.make_indirect(type0)

    # -- shaping --------------------------------------------------------------------------

    def _map_clusters(self, txt: str, clusters: tuple[int, ...], gids: tuple[int, ...]) -> None:
        """Record which text each glyph shows, for the ToUnicode map (copy and search)."""
        if len(gids) == len(txt) and clusters == tuple(range(len(txt))):
            # one glyph per character, in order (most text): each glyph shows its character
            self._to_unicode.update(zip(gids, txt, strict=True))
            self._to_unicode.pop(0, None)  # .notdef shows nothing
            return
        groups: dict[int, list[int]] = {}
        for cluster, gid in zip(clusters, gids, strict=True):
            groups.setdefault(cluster, []).append(gid)
        starts = sorted(groups)
        for start, end in zip(starts, [*starts[1:], len(txt)], strict=True):
            text = txt[start:end]
            glyphs = groups[start]
            if len(glyphs) == 1:
                if glyphs[0]:
                    self._to_unicode[glyphs[0]] = text
                continue
            present = {ord(ch) for ch in text}
            for gid in glyphs:
                if gid and gid not in self._to_unicode:
                    found = sorted(self.program.unicodes.get(gid, frozenset()) & present)
                    if found:
                        self._to_unicode[gid] = chr(found[0])


class EmbeddedFontFactory(FontEngineFactory):
    """Font engines that embed a subset of ``font_file`` (normalized as above): an
    :class:`EmbeddedFontEngine`, or with ``signing.fast.use(False)`` pyHanko's
    ``GlyphAccumulator`` (which embeds no more than the text shows: ``always_embed`` is the
    fast path's)."""

    def __init__(self, font_file: Path, font_size: float, *, always_embed: str = "") -> None:
        self._font_file = font_file
        self._font_size = font_size
        self._always_embed = always_embed

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: object = None
    ) -> FontEngine:
        """An engine that writes its font into ``writer``.

        Raises OSError when the font file cannot be read, and fontTools or HarfBuzz errors for
        a broken font.
        """
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        if not fast.enabled():
            from pyhanko.pdf_utils.font.opentype import GlyphAccumulator

            return GlyphAccumulator(
                writer,
                BytesIO(normalized_font(self._font_file)),
                self._font_size,
                bcp47_lang_code="id",
                obj_stream=obj_stream,
            )
        return EmbeddedFontEngine(
            writer,
            font_program(self._font_file),
            self._font_size,
            bcp47_lang_code="id",
            obj_stream=obj_stream,  # type: ignore[arg-type]
            always_embed=self._always_embed,
        )
