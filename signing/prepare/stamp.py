"""Prepare a converted PDF for signing.

:func:`prepare_pdf` puts the verification mark on every page -- a QR code of the public
verification URL in the bottom-left corner with the "signed electronically" statement beside it --
and creates one empty, visible signature field per signer, so that each signer can later sign into
their own field as an incremental update.

The output is a fresh single-revision PDF: qpdf (pikepdf) reads the input, the mark and the fields
are added to that document, and it is saved as a new file -- every object still in use renumbered
and written out again with one classic cross-reference table, no object streams, no incremental
updates -- so whatever quirks the input's cross-reference data had, the prepared file that all
signatures build on is clean. The footer's text is shaped through pyHanko's font engine
interface (our engine, :mod:`signing.fast.fonts`, on a scratch pyHanko writer), and its font
subset, the QR code and the footer forms are then written straight into the qpdf document.
"""

from __future__ import annotations

import logging
import string
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any, Final, cast

import pikepdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine
from pyhanko.pdf_utils.font.basic import SimpleFontEngineFactory
from pyhanko.pdf_utils.metadata.model import VENDOR as PYHANKO
from pyhanko.pdf_utils.writer import BasePdfFileWriter, PdfFileWriter

from signing.errors import InvalidPdf
from signing.fast.fonts import LIBERATION_SANS, EmbeddedFontEngine, EmbeddedFontFactory
from signing.fast.qr import qr_drawing
from signing.prepare.anchors import AnchorPosition

__all__ = [
    "LIBERATION_SANS",
    "URL_SAFE_CHARACTERS",
    "FooterStyle",
    "SignatureBox",
    "prepare_pdf",
    "signature_box_at",
    "warm_up",
]

logger = logging.getLogger(__name__)

CM = 72 / 2.54
"""One centimetre in PDF points."""

URL_SAFE_CHARACTERS: Final = string.ascii_letters + string.digits + "-_"
"""The URL-safe Base64 alphabet (RFC 4648, section 5), in which ``secrets.token_urlsafe`` writes
the random codes of verification URLs."""


# Anything a malformed or hostile input can make qpdf, or our walk over its objects, raise.
_MALFORMED_PDF_ERRORS = (
    pikepdf.PikepdfError,
    RuntimeError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    OverflowError,
    RecursionError,
)

# How far up the page tree (or down the form's field tree) a walk goes before giving up.
_MAX_DEPTH = 64

# Page boxes beyond this (in points, ~350 m) are damage: PDF readers limit pages to 200 inches.
_MAX_COORDINATE = 1e6

# pyHanko's flags for a visible signature widget: print (4) and locked (128).
_WIDGET_FLAGS = 132


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
    always_embed: str = URL_SAFE_CHARACTERS
    """Characters whose glyphs the embedded subset has even where the footer does not show them:
    those of the random codes in verification URLs. Footers that differ only in their code then
    embed the same subset, which :mod:`signing.fast.fonts` compresses once for all of them (at the
    cost of ~1.8 KB more font in each document)."""


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
    :raises ValueError: if ``verify_url`` is empty, a field name repeats (or is already the name
        of a form field in ``pdf``) or a field's page does not exist.
    """
    style = style or FooterStyle()
    if not verify_url:
        raise ValueError("verify_url must not be empty")
    names = [f.field_name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"signature field names repeat: {names}")

    with _open(pdf) as doc:
        pages, existing_fields = _read_document(doc)
        for spec in fields:
            if spec.page >= len(pages):
                raise ValueError(
                    f"signature field {spec.field_name!r} is on page {spec.page + 1}, "
                    f"but the document has {len(pages)} page(s)"
                )
            if spec.field_name in existing_fields:
                raise ValueError(f"the PDF already has a form field named {spec.field_name!r}")

        out = BytesIO()
        try:
            # (qpdf reads the rest of the input when the first new object is added, here)
            widths = [page.width for page in pages]
            footers = _footer_forms(doc, widths, verify_url, footer_text, style)
            _stamp_pages(doc, pages, footers, verify_url=verify_url, style=style)
            _add_signature_fields(doc, pages, fields)
            _update_info(doc)
            _clean_trailer(doc)
            doc.save(
                out,
                # a clean file for the incremental updates of the signatures: everything in one
                # classic cross-reference section, the input's streams written as they were
                object_stream_mode=pikepdf.ObjectStreamMode.disable,
                compress_streams=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                min_version="1.7",
                preserve_pdfa=False,
                fix_metadata_version=False,
            )
            # qpdf reads past damage with a warning (an object it cannot parse becomes null,
            # which can drop a page): refused, as pyHanko's reader refused such files
            damage = doc.get_warnings()
            if damage:
                raise InvalidPdf(f"damaged PDF: {damage[0]}")
        except InvalidPdf:
            raise
        except _MALFORMED_PDF_ERRORS as exc:
            raise InvalidPdf(f"not a readable PDF: {exc}") from exc
    return out.getvalue()


def warm_up(style: FooterStyle | None = None) -> None:
    """Do the one-off work of the first :func:`prepare_pdf` in a process now: lazy imports and
    building the footer font take about a second. Meant for the service's startup."""
    blank = BytesIO()
    with pikepdf.new() as doc:
        doc.add_blank_page(page_size=(595, 842))
        doc.save(blank)
    prepare_pdf(
        blank.getvalue(),
        verify_url="https://example.invalid/v/warm-up",
        footer_text="warm-up",
        fields=[SignatureBox("warm_up", 0, (100, 100, 300, 170))],
        style=style,
    )


@dataclass(frozen=True)
class _PageGeometry:
    page: pikepdf.Dictionary
    x0: float
    y0: float
    width: float


def _open(pdf: bytes) -> pikepdf.Pdf:
    try:
        return pikepdf.open(
            BytesIO(pdf),
            # the page tree as it is: pyHanko's reader did not push inherited attributes down
            # either (and qpdf spends most of its opening time doing that)
            inherit_page_attributes=False,
            # a file whose cross-reference data is broken is refused, as pyHanko refused it,
            # rather than rebuilt from what qpdf finds (which can leave out a damaged page)
            attempt_recovery=False,
        )
    except pikepdf.PasswordError as exc:
        raise InvalidPdf("encrypted PDFs cannot be prepared for signing") from exc
    except _MALFORMED_PDF_ERRORS as exc:
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc


def _read_document(doc: pikepdf.Pdf) -> tuple[list[_PageGeometry], set[str]]:
    """The pages' geometry and the names of the form's top-level fields.

    :raises InvalidPdf: for an encrypted or signed document, one without pages, or one whose
        pages or form cannot be read.
    """
    try:
        if doc.is_encrypted:
            raise InvalidPdf("encrypted PDFs cannot be prepared for signing")
        existing_fields = _form_fields(doc)
        pages = [_page_geometry(page.obj, ix) for ix, page in enumerate(doc.pages)]
        if not pages:
            raise InvalidPdf("the PDF has no pages")
    except InvalidPdf:
        raise
    except _MALFORMED_PDF_ERRORS as exc:
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc
    return pages, existing_fields


def _form_fields(doc: pikepdf.Pdf) -> set[str]:
    """Names of the form's top-level fields (our field names have no dots, so only those can
    clash); raises InvalidPdf if a signature field is filled, i.e. the document is signed."""
    form = doc.Root.get("/AcroForm")
    top = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
    if not isinstance(top, pikepdf.Array):
        return set()
    names = set()
    done: set[tuple[int, int]] = set()
    # (field, inherited /FT, the fields above it): /FT is inherited, and a field that is its own
    # ancestor is refused as pyHanko (which signs into these fields later) refuses it
    todo: list[tuple[pikepdf.Object, pikepdf.Object | None, tuple[tuple[int, int], ...]]]
    todo = [(field, None, ()) for field in top]
    for field in top:
        if isinstance(field, pikepdf.Dictionary) and isinstance(field.get("/T"), pikepdf.String):
            names.add(str(field.T))
    while todo:
        field, field_type, above = todo.pop()
        if not isinstance(field, pikepdf.Dictionary):
            continue
        key = field.objgen
        if key in above or len(above) > _MAX_DEPTH:
            raise InvalidPdf("the PDF's form fields nest in a circle or too deep")
        if key != (0, 0):
            if key in done:
                continue
            done.add(key)
        field_type = field.get("/FT", field_type)
        if field_type == pikepdf.Name.Sig and field.get("/V") is not None:
            raise InvalidPdf("the PDF is already signed; preparing it would break the signature")
        kids = field.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            todo.extend((kid, field_type, (*above, key)) for kid in kids)
    return names


def _page_geometry(page: pikepdf.Dictionary, page_ix: int) -> _PageGeometry:
    box = _inherited(page, "/CropBox")
    if box is None:
        box = _inherited(page, "/MediaBox")
    if box is None:
        raise InvalidPdf(f"page {page_ix + 1} has no /MediaBox")
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(abs(v) <= _MAX_COORDINATE for v in (x1, y1, x2, y2)):  # NaN fails this too
        raise InvalidPdf(f"page {page_ix + 1} has an unusable page box")
    return _PageGeometry(page=page, x0=min(x1, x2), y0=min(y1, y2), width=abs(x2 - x1))


def _inherited(page: pikepdf.Dictionary, key: str) -> pikepdf.Object | None:
    """A page attribute, from the page or the nearest node of the page tree above it."""
    node: pikepdf.Object | None = page
    for _ in range(_MAX_DEPTH):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:  # (cheaper than get for a missing key)
            value = node.get(key)
            if value is not None:
                return value
        node = node.get("/Parent")
    raise InvalidPdf("the PDF's page tree is too deep")


def _footer_forms(
    doc: pikepdf.Pdf,
    widths: Sequence[float],
    verify_url: str,
    footer_text: str,
    style: FooterStyle,
) -> dict[float, tuple[pikepdf.Name, pikepdf.Object]]:
    """The footer form for each page width (rounded to 0.01 pt), and the name to paint it by.

    One font subset, one QR image, and one footer form per distinct page width, shared by all
    pages: a 100-page annex costs hardly more than a one-page letter. The text is shaped with
    pyHanko's font engine API (on a scratch writer, which font engines need) and the font
    embedded in ``doc`` once all of it is shaped.
    """
    font = _font_engine(PdfFileWriter(init_page_tree=False, stream_xrefs=False), style)
    contents: dict[float, tuple[float, bytes, float]] = {}
    for width in widths:
        key = round(width, 2)
        if key not in contents:
            contents[key] = (width, *_footer_content(font, width, footer_text, style))
    font_ref = _embedded_font(doc, font)
    qr_ref = _qr_form(doc, verify_url)
    forms = {}
    for key, (width, content, top) in contents.items():
        resources = pikepdf.Dictionary(
            {
                "/Font": pikepdf.Dictionary({"/F1": font_ref}),
                "/XObject": pikepdf.Dictionary({"/QR": qr_ref}),
            }
        )
        name = pikepdf.Name("/DocgenVerif" + uuid.uuid4().hex[:12])
        forms[key] = (name, _form_xobject(doc, content, width, top, resources))
    return forms


def _form_xobject(
    doc: pikepdf.Pdf,
    content: bytes,
    width: float,
    height: float,
    resources: pikepdf.Dictionary | None = None,
) -> pikepdf.Object:
    """A compressed form XObject, as pyHanko's ``init_xobject_dictionary`` and ``compress``
    make it (the box's y from ``height`` to 0)."""
    form = pikepdf.Stream(
        doc,
        zlib.compress(content),
        {
            "/BBox": pikepdf.Array([0, _number(height), _number(width), 0]),
            "/Resources": resources if resources is not None else pikepdf.Dictionary(),
            "/Type": pikepdf.Name.XObject,
            "/Subtype": pikepdf.Name.Form,
            "/Filter": pikepdf.Name.FlateDecode,
        },
    )
    return doc.make_indirect(form)


def _number(value: float) -> int | Decimal:
    """``value`` for a PDF number: an integer if it is one, otherwise all its digits (pikepdf
    writes a float with only a few)."""
    if value == int(value):
        return int(value)
    return Decimal(repr(value))


def _embedded_font(doc: pikepdf.Pdf, font: FontEngine) -> pikepdf.Object:
    if isinstance(font, EmbeddedFontEngine):
        return font.embed_in(doc)
    font.prepare_write()  # the standard font: its dictionary, from pyHanko's objects
    return _Importer(doc)(font.as_resource())


class _Importer:
    """Copies pyHanko objects (and the indirect objects they refer to) into a pikepdf document."""

    def __init__(self, doc: pikepdf.Pdf) -> None:
        self.doc = doc
        self.indirect: dict[int, pikepdf.Object] = {}

    def __call__(self, obj: generic.PdfObject) -> Any:
        kind = type(obj)
        if kind is generic.NumberObject:  # most of them: the font's glyph widths
            return int(cast(generic.NumberObject, obj))
        if kind is generic.NameObject:
            return pikepdf.Name(cast(generic.NameObject, obj))
        if isinstance(obj, generic.IndirectObject):
            if obj.idnum not in self.indirect:
                self.indirect[obj.idnum] = self.doc.make_indirect(self(obj.get_object()))
            return self.indirect[obj.idnum]
        if isinstance(obj, generic.StreamObject):
            # the data as encoded, described by the entries (/Filter) copied with it
            entries = {key: self(value) for key, value in obj.items() if key != "/Length"}
            return pikepdf.Stream(self.doc, obj.encoded_data, entries)
        if isinstance(obj, generic.DictionaryObject):
            return pikepdf.Dictionary({key: self(value) for key, value in obj.items()})
        if isinstance(obj, generic.ArrayObject):
            return pikepdf.Array([self(value) for value in obj])
        if isinstance(obj, generic.FloatObject):
            # written as pyHanko writes it: an integral value without a decimal point
            value = Decimal(format(obj, "f"))
            return int(value) if value == value.to_integral_value() else value
        if isinstance(obj, generic.BooleanObject):
            return bool(obj.value)
        if isinstance(obj, generic.TextStringObject):
            return pikepdf.String(str(obj))
        if isinstance(obj, generic.ByteStringObject):
            return pikepdf.String(bytes(obj))
        if isinstance(obj, generic.NullObject):
            return None
        raise TypeError(f"cannot copy a {type(obj).__name__} into the document")


def _stamp_pages(
    doc: pikepdf.Pdf,
    pages: Sequence[_PageGeometry],
    footers: dict[float, tuple[pikepdf.Name, pikepdf.Object]],
    *,
    verify_url: str,
    style: FooterStyle,
) -> None:
    # Wrap each page's own content in q/Q so that a graphics state it leaves behind cannot shift
    # the mark (the same as pyHanko's stamps do).
    save = doc.make_indirect(pikepdf.Stream(doc, b"q"))
    restore = doc.make_indirect(pikepdf.Stream(doc, b"Q"))

    for ix, page in enumerate(pages):
        name, form = footers[round(page.width, 2)]
        paint = b"q 1 0 0 1 %g %g cm %s Do Q" % (page.x0, page.y0, str(name).encode("ascii"))
        contents = [save, *_content_streams(page.page, ix), restore]
        contents.append(doc.make_indirect(pikepdf.Stream(doc, paint)))
        page.page.Contents = doc.make_indirect(pikepdf.Array(contents))
        xobjects = _xobject_resources(page.page, ix)
        if name not in xobjects:  # pages often share one resource dictionary
            xobjects[name] = form
        x = page.x0 + style.side_margin
        y = page.y0 + style.bottom
        _annotate(
            page.page, ix, doc.make_indirect(_link_annotation(verify_url, x, y, style.qr_size))
        )


def _content_streams(page: pikepdf.Dictionary, page_ix: int) -> list[pikepdf.Object]:
    contents = page.get("/Contents")
    if contents is None:
        return []
    if isinstance(contents, pikepdf.Stream):
        return [contents]
    if isinstance(contents, pikepdf.Array):
        return list(contents)
    raise InvalidPdf(f"page {page_ix + 1} has unusable /Contents")


def _xobject_resources(page: pikepdf.Dictionary, page_ix: int) -> pikepdf.Dictionary:
    """The /XObject dictionary of the page's resources (inherited ones are added to where they
    are, as pyHanko did), made if missing."""
    resources = _inherited(page, "/Resources")
    if resources is None:
        page.Resources = pikepdf.Dictionary()
        resources = page.Resources
    if not isinstance(resources, pikepdf.Dictionary):
        raise InvalidPdf(f"page {page_ix + 1} has unusable /Resources")
    xobjects = resources.get("/XObject")
    if xobjects is None:
        resources.XObject = pikepdf.Dictionary()
        xobjects = resources.XObject
    if not isinstance(xobjects, pikepdf.Dictionary):
        raise InvalidPdf(f"page {page_ix + 1} has unusable /XObject resources")
    return xobjects


def _annotate(page: pikepdf.Dictionary, page_ix: int, annotation: pikepdf.Object) -> None:
    annotations = page.get("/Annots")
    if annotations is None:
        page.Annots = pikepdf.Array([annotation])
    elif isinstance(annotations, pikepdf.Array):
        annotations.append(annotation)
    else:
        raise InvalidPdf(f"page {page_ix + 1} has unusable /Annots")


def _add_signature_fields(
    doc: pikepdf.Pdf, pages: Sequence[_PageGeometry], fields: Sequence[SignatureBox]
) -> None:
    """One empty signature field per box, its widget merged into it, as pyHanko's
    ``append_signature_field`` makes them (with an empty appearance and no seed values)."""
    if not fields:
        return
    form = doc.Root.get("/AcroForm")
    if form is None:
        doc.Root.AcroForm = doc.make_indirect(pikepdf.Dictionary({"/Fields": pikepdf.Array()}))
        form = doc.Root.AcroForm
    if not isinstance(form, pikepdf.Dictionary):
        raise InvalidPdf("the PDF's /AcroForm is unusable")
    form_fields = form.get("/Fields")
    if form_fields is None:
        form.Fields = pikepdf.Array()
        form_fields = form.Fields
    if not isinstance(form_fields, pikepdf.Array):
        raise InvalidPdf("the PDF's form /Fields are unusable")
    for spec in fields:
        x1, y1, x2, y2 = spec.box
        appearance = pikepdf.Stream(
            doc,
            b"",
            {
                "/BBox": pikepdf.Array([0, abs(y2 - y1), abs(x2 - x1), 0]),
                "/Resources": pikepdf.Dictionary(),
                "/Type": pikepdf.Name.XObject,
                "/Subtype": pikepdf.Name.Form,
            },
        )
        page = pages[spec.page].page
        field = pikepdf.Dictionary(
            {
                "/FT": pikepdf.Name.Sig,
                "/T": pikepdf.String(spec.field_name),
                "/Type": pikepdf.Name.Annot,
                "/Subtype": pikepdf.Name.Widget,
                "/F": _WIDGET_FLAGS,
                "/Rect": pikepdf.Array([round(v, 4) for v in spec.box]),
                "/P": page,
                "/AP": pikepdf.Dictionary({"/N": doc.make_indirect(appearance)}),
            }
        )
        field_ref = doc.make_indirect(field)
        form_fields.append(field_ref)
        _annotate(page, spec.page, field_ref)
    if "/SigFlags" not in form:
        form.SigFlags = 1  # SignaturesExist


def _clean_trailer(doc: pikepdf.Pdf) -> None:
    """Leave out what the input's trailer holds about the input file itself (LibreOffice's
    /DocChecksum): the new file's trailer has its catalogue, information, ID and size, as
    pyHanko's writer made it."""
    for key in list(doc.trailer.keys()):
        if key not in ("/Root", "/Info", "/ID"):
            del doc.trailer[key]
    # qpdf writes the right /Size, but only in place of one (and a damaged trailer may have none)
    doc.trailer.Size = 0


def _update_info(doc: pikepdf.Pdf) -> None:
    """Modification date and producer in the document information, as pyHanko's writer sets
    them (without XMP metadata: LibreOffice writes none unless exporting PDF/A)."""
    info = doc.trailer.get("/Info")
    if info is None:
        doc.trailer.Info = doc.make_indirect(pikepdf.Dictionary())
        info = doc.trailer.Info
    if not isinstance(info, pikepdf.Dictionary):
        raise InvalidPdf("the PDF's /Info is unusable")
    info.ModDate = pikepdf.String(str(generic.pdf_date(datetime.now().astimezone())))
    producer = info.get("/Producer")
    if not isinstance(producer, pikepdf.String):
        info.Producer = pikepdf.String(PYHANKO)
    elif PYHANKO not in str(producer):
        info.Producer = pikepdf.String(f"{producer}; {PYHANKO}")


def _footer_content(
    font: FontEngine, page_width: float, footer_text: str, style: FooterStyle
) -> tuple[bytes, float]:
    """The footer's drawing (QR code form /QR, text in font /F1) and its height."""
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
    return b"\n".join(ops), top


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


def _qr_form(doc: pikepdf.Pdf, url: str) -> pikepdf.Object:
    # No border: the quiet zone is the blank page around the code. One unit per module, so the
    # form is scaled to its printed size where it is drawn.
    drawing, n = qr_drawing(url, border=0, box_size=1)
    # the form's unit square holds the whole symbol
    stream = b"q %g 0 0 %g 0 0 cm %s Q" % (1 / n, 1 / n, drawing)
    return _form_xobject(doc, stream, 1, 1)


def _link_annotation(url: str, x: float, y: float, size: float) -> pikepdf.Dictionary:
    return pikepdf.Dictionary(
        {
            "/Type": pikepdf.Name.Annot,
            "/Subtype": pikepdf.Name.Link,
            "/Rect": pikepdf.Array([round(v, 3) for v in (x, y, x + size, y + size)]),
            "/Border": pikepdf.Array([0, 0, 0]),
            "/F": 4,  # print
            "/A": pikepdf.Dictionary({"/S": pikepdf.Name.URI, "/URI": pikepdf.String(url)}),
        }
    )


def _font_engine(writer: BasePdfFileWriter, style: FooterStyle) -> FontEngine:
    if style.font_file is not None:
        try:
            factory = EmbeddedFontFactory(
                style.font_file, style.font_size, always_embed=style.always_embed
            )
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
