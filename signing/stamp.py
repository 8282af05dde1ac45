"""Prepare a converted PDF for signing.

:func:`prepare_pdf` puts the verification mark on every page -- a QR code of the public
verification URL in the bottom-left corner with the "signed electronically" statement beside it --
and creates one empty, visible signature field per signer, so that each signer can later sign into
their own field as an incremental update.

The output is a fresh single-revision PDF (every object of the input copied into a new writer), so
whatever quirks the input's cross-reference data had, the prepared file that all signatures build
on is clean.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine
from pyhanko.pdf_utils.font.basic import SimpleFontEngineFactory
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree
from pyhanko.pdf_utils.writer import (
    BasePdfFileWriter,
    PageObject,
    PdfFileWriter,
    copy_into_new_writer,
    init_xobject_dictionary,
)
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from .anchors import AnchorPosition
from .errors import InvalidPdf
from .fonts import LIBERATION_SANS, EmbeddedFontEngine, EmbeddedFontFactory
from .qr import qr_matrix, qr_stream

__all__ = [
    "LIBERATION_SANS",
    "FooterStyle",
    "SignatureBox",
    "prepare_pdf",
    "signature_box_at",
    "warm_up",
]

logger = logging.getLogger(__name__)

CM = 72 / 2.54
"""One centimetre in PDF points."""


# Anything a malformed or hostile input can make pyHanko's reader raise while we walk it.
_MALFORMED_PDF_ERRORS = (
    PdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
)


@dataclass(frozen=True)
class SignatureBox:
    """An empty signature field to create: its name, page (0-based) and rectangle.

    ``box`` is ``(x1, y1, x2, y2)`` in PDF points with the origin at the bottom left.
    """

    field_name: str
    page: int
    box: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        # pyHanko reads dots as the separator of a hierarchical field name
        if not self.field_name or "." in self.field_name:
            raise ValueError(f"invalid signature field name {self.field_name!r}")
        if self.page < 0:
            raise ValueError(f"page must be 0 or more, not {self.page}")
        x1, y1, x2, y2 = self.box
        if not (x1 < x2 and y1 < y2):
            raise ValueError(f"signature box {self.box} is empty or inverted")


def signature_box_at(
    anchor: AnchorPosition, field_name: str, *, width: float = 200, height: float = 70
) -> SignatureBox:
    """The signature box for ``anchor``: its top-left corner sits on the marker.

    Templates leave blank lines below the marker for the signature. The box is moved (and, if
    larger than the page, shrunk) so that it lies inside the page.
    """
    width = min(width, anchor.page_width)
    height = min(height, anchor.page_height)
    x1 = min(max(anchor.x, 0.0), anchor.page_width - width)
    top = min(max(anchor.y, height), anchor.page_height)
    return SignatureBox(
        field_name=field_name, page=anchor.page, box=(x1, top - height, x1 + width, top)
    )


@dataclass(frozen=True)
class FooterStyle:
    """Geometry of the verification mark, in points, relative to each page's bottom-left corner.

    The defaults fit a page with a bottom margin of 2.5 cm: the QR code's top edge stays 2.3 cm
    above the page edge, and its lowest modules 5 mm above it (inside what printers can print).
    """

    qr_size: float = 1.8 * CM
    """Side of the QR symbol (its modules; the quiet zone comes from the blank space around it)."""
    bottom: float = 0.5 * CM
    side_margin: float = 2.5 * CM
    gap: float = 0.35 * CM
    """Between the QR code and the text: at least the 4-module quiet zone scanners expect."""
    font_size: float = 7.0
    leading: float = 8.6
    text_gray: float = 0.2
    font_file: Path | None = LIBERATION_SANS
    """TrueType/OpenType font to embed (subset); ``None`` uses the standard Courier font."""


def prepare_pdf(
    pdf: bytes,
    *,
    verify_url: str,
    footer_text: str,
    fields: Sequence[SignatureBox],
    style: FooterStyle | None = None,
) -> bytes:
    """Stamp the verification QR code and footer on every page, then add empty signature fields.

    The QR code encodes ``verify_url`` and links to it; ``footer_text`` is wrapped to the space
    beside the code (line breaks in it are kept). Pages are assumed unrotated (as LibreOffice
    writes them): the mark goes to the bottom left of the page's crop box in user space.

    :raises InvalidPdf: if ``pdf`` cannot be read, is encrypted, or is already signed.
    :raises ValueError: if ``verify_url`` is empty, a field name repeats or a field's page does
        not exist.
    """
    style = style or FooterStyle()
    if not verify_url:
        raise ValueError("verify_url must not be empty")
    names = [f.field_name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"signature field names repeat: {names}")

    writer, pages = _copy_document(pdf)
    for spec in fields:
        if spec.page >= len(pages):
            raise ValueError(
                f"signature field {spec.field_name!r} is on page {spec.page + 1}, "
                f"but the document has {len(pages)} page(s)"
            )

    _stamp_pages(writer, pages, verify_url=verify_url, footer_text=footer_text, style=style)
    for spec in fields:
        append_signature_field(
            writer,
            # pyHanko annotates the box as ints but writes any number (rounded to 4 decimals)
            SigFieldSpec(
                sig_field_name=spec.field_name,
                on_page=spec.page,
                box=spec.box,  # type: ignore[arg-type]
            ),
        )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def warm_up(style: FooterStyle | None = None) -> None:
    """Do the one-off work of the first :func:`prepare_pdf` in a process now: lazy imports and
    building the footer font take about a second. Meant for the service's startup."""
    writer = PdfFileWriter()
    empty = writer.add_object(generic.StreamObject(stream_data=b""))
    writer.insert_page(PageObject(contents=empty, media_box=(0, 0, 595, 842)))
    blank = BytesIO()
    writer.write(blank)
    prepare_pdf(
        blank.getvalue(),
        verify_url="https://example.invalid/v/warm-up",
        footer_text="warm-up",
        fields=[SignatureBox("warm_up", 0, (100, 100, 300, 170))],
        style=style,
    )


@dataclass(frozen=True)
class _PageGeometry:
    ref: generic.IndirectObject
    x0: float
    y0: float
    width: float


def _copy_document(pdf: bytes) -> tuple[PdfFileWriter, list[_PageGeometry]]:
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        if reader.encrypted:
            raise InvalidPdf("encrypted PDFs cannot be prepared for signing")
        if reader.embedded_signatures:
            raise InvalidPdf("the PDF is already signed; preparing it would break the signature")
        writer = copy_into_new_writer(reader)
        page_count = int(writer.root["/Pages"]["/Count"])
        if page_count < 1:
            raise InvalidPdf("the PDF has no pages")
        pages = [_page_geometry(writer, ix) for ix in range(page_count)]
    except InvalidPdf:
        raise
    except _MALFORMED_PDF_ERRORS as exc:
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc
    return writer, pages


def _page_geometry(writer: PdfFileWriter, page_ix: int) -> _PageGeometry:
    page_ref, _ = writer.find_page_for_modification(page_ix)
    page = page_ref.get_object()
    box = find_inherited_value_in_tree(page, "/CropBox", "/Parent")
    if box is None:
        box = find_inherited_value_in_tree(page, "/MediaBox", "/Parent")
    if box is None:
        raise InvalidPdf(f"page {page_ix + 1} has no /MediaBox")
    x1, y1, x2, y2 = (float(v) for v in box)
    return _PageGeometry(ref=page_ref, x0=min(x1, x2), y0=min(y1, y2), width=abs(x2 - x1))


def _stamp_pages(
    writer: PdfFileWriter,
    pages: Sequence[_PageGeometry],
    *,
    verify_url: str,
    footer_text: str,
    style: FooterStyle,
) -> None:
    # One font subset, one QR image, and one footer form per distinct page width, shared by all
    # pages: a 100-page annex costs hardly more than a one-page letter.
    font = _font_engine(writer, style)
    qr_ref = writer.add_object(_qr_xobject(verify_url))
    footers: dict[float, tuple[generic.NameObject, generic.IndirectObject]] = {}

    # Wrap each page's own content in q/Q so that a graphics state it leaves behind cannot shift
    # the mark (the same as pyHanko's stamps do).
    save_ref = writer.add_object(generic.StreamObject(stream_data=b"q"))
    restore_ref = writer.add_object(generic.StreamObject(stream_data=b"Q"))

    for ix, page in enumerate(pages):
        key = round(page.width, 2)
        if key not in footers:
            form = _footer_xobject(font, qr_ref, page.width, footer_text, style)
            name = pdf_name("/DocgenVerif" + uuid.uuid4().hex[:12])
            footers[key] = (name, writer.add_object(form))
        name, form_ref = footers[key]
        paint = b"q 1 0 0 1 %g %g cm %s Do Q" % (page.x0, page.y0, name.encode("ascii"))
        writer.add_stream_to_page(ix, save_ref, prepend=True)
        writer.add_stream_to_page(ix, restore_ref)
        resources = None
        if not _has_xobject(writer, ix, name):  # pages often share one resource dictionary
            resources = generic.DictionaryObject(
                {pdf_name("/XObject"): generic.DictionaryObject({name: form_ref})}
            )
        writer.add_stream_to_page(
            ix, writer.add_object(generic.StreamObject(stream_data=paint)), resources
        )
        x = page.x0 + style.side_margin
        y = page.y0 + style.bottom
        writer.register_annotation(
            page.ref, writer.add_object(_link_annotation(verify_url, x, y, style.qr_size))
        )


def _has_xobject(writer: PdfFileWriter, page_ix: int, name: generic.NameObject) -> bool:
    _, resources = writer.find_page_for_modification(page_ix)
    try:
        return name in resources.get_object()["/XObject"]
    except KeyError:
        return False


def _footer_xobject(
    font: FontEngine,
    qr_ref: generic.IndirectObject,
    page_width: float,
    footer_text: str,
    style: FooterStyle,
) -> generic.StreamObject:
    qr_x, qr_y, size = style.side_margin, style.bottom, style.qr_size
    text_x = qr_x + size + style.gap
    text_width = max(page_width - style.side_margin - text_x, 10 * style.font_size)
    lines = _wrap(font, footer_text, text_width, style.font_size)

    ops = [b"q %g 0 0 %g %g %g cm /QR Do Q" % (size, size, qr_x, qr_y)]
    # Centre the text block on the QR code; the first baseline sits one cap height (~0.72 em in
    # Liberation Sans/Arial) below the block's top.
    block_height = (len(lines) - 1) * style.leading + style.font_size
    baseline = qr_y + size / 2 + block_height / 2 - 0.72 * style.font_size
    # a hairline between code and text binds them into one mark
    rule_x = qr_x + size + style.gap / 2
    ops.append(b"q 0.4 w 0.6 G %g %g m %g %g l S Q" % (rule_x, qr_y, rule_x, qr_y + size))
    ops.append(b"q %g g" % style.text_gray)
    for line in lines:
        shaped = font.shape(line)
        ops.append(
            b"BT /F1 %g Tf 1 0 0 1 %g %g Tm %s ET"
            % (style.font_size, text_x, baseline, shaped.graphics_ops)
        )
        baseline -= style.leading
    ops.append(b"Q")

    top = max(qr_y + size, qr_y + size / 2 + block_height / 2) + 1
    resources = generic.DictionaryObject(
        {
            pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font.as_resource()}),
            pdf_name("/XObject"): generic.DictionaryObject({pdf_name("/QR"): qr_ref}),
        }
    )
    form = init_xobject_dictionary(b"\n".join(ops), page_width, top, resources)
    form.compress()
    return form


def _wrap(font: FontEngine, text: str, max_width: float, font_size: float) -> list[str]:
    """Greedy word wrap; a word wider than a line (a long URL) is broken between characters."""
    cache: dict[str, float] = {}
    # Measuring with the embedded font skips writing the text out (and marking its glyphs as used).
    advance = font.measure if isinstance(font, EmbeddedFontEngine) else _shaped_advance(font)

    def width(s: str) -> float:
        if s not in cache:
            cache[s] = advance(s) * font_size
        return cache[s]

    space = width(" ")
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line: list[str] = []
        line_width = 0.0
        for word in paragraph.split():
            pieces = [word] if width(word) <= max_width else _break_word(word, max_width, width)
            for piece in pieces:
                # word widths add up to the line's width closely enough (no kerning across spaces)
                if line and line_width + space + width(piece) > max_width:
                    lines.append(" ".join(line))
                    line, line_width = [], 0.0
                line_width += (space if line else 0.0) + width(piece)
                line.append(piece)
        lines.append(" ".join(line))
    return lines


def _shaped_advance(font: FontEngine) -> Callable[[str], float]:
    return lambda s: font.shape(s).x_advance


def _break_word(word: str, max_width: float, width: Callable[[str], float]) -> list[str]:
    pieces: list[str] = []
    current = ""
    current_width = 0.0
    for ch in word:
        if current and current_width + width(ch) > max_width:
            pieces.append(current)
            current, current_width = "", 0.0
        current += ch
        current_width += width(ch)
    if current:
        pieces.append(current)
    return pieces


def _qr_xobject(url: str) -> generic.StreamObject:
    # No border: the quiet zone is the blank page around the code. One unit per module, so the
    # form is scaled to its printed size where it is drawn.
    n = qr_matrix(url).size
    # the form's unit square holds the whole symbol
    stream = b"q %g 0 0 %g 0 0 cm %s Q" % (1 / n, 1 / n, qr_stream(url, border=0, box_size=1))
    form = init_xobject_dictionary(stream, 1, 1)
    form.compress()
    return form


def _link_annotation(url: str, x: float, y: float, size: float) -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Link"),
            pdf_name("/Rect"): generic.ArrayObject(
                [generic.FloatObject(round(v, 3)) for v in (x, y, x + size, y + size)]
            ),
            pdf_name("/Border"): generic.ArrayObject([generic.NumberObject(0)] * 3),
            pdf_name("/F"): generic.NumberObject(4),  # print
            pdf_name("/A"): generic.DictionaryObject(
                {
                    pdf_name("/S"): pdf_name("/URI"),
                    pdf_name("/URI"): generic.pdf_string(url),
                }
            ),
        }
    )


def _font_engine(writer: BasePdfFileWriter, style: FooterStyle) -> FontEngine:
    if style.font_file is not None:
        try:
            factory = EmbeddedFontFactory(style.font_file, style.font_size)
            return factory.create_font_engine(writer)
        except Exception:  # any failure to load the font degrades to a standard font, loudly
            logger.warning(
                "cannot embed %s; the verification footer falls back to standard Courier",
                style.font_file,
                exc_info=True,
            )
    # Courier: the one standard font pyHanko has metrics for, so wrapping stays right
    courier: FontEngine = SimpleFontEngineFactory.default_factory().create_font_engine(writer)
    return courier
