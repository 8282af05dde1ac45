"""Page images of a PDF, for reading a document on a phone: PNG, one per page, and for a draft
marked DRAF across each page. Bytes in, bytes out; run in the worker processes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from signing.errors import InvalidPdf
from signing.prepare.anchors import PDFIUM_LOCK

__all__ = ["MAX_PAGE_WIDTH", "page_count", "page_image"]

MAX_PAGE_WIDTH = 1600
DRAFT_MARK = "DRAF"
_FONT = "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"


@contextmanager
def _opened(pdf: bytes) -> Iterator[Any]:
    """The PDF opened in PDFium, under the process's PDFium lock. Raises InvalidPdf."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError as exc:
            raise InvalidPdf(f"PDFium cannot read the document: {exc}") from None
        try:
            yield document
        finally:
            document.close()


def page_count(pdf: bytes) -> int:
    """Raises InvalidPdf."""
    with _opened(pdf) as document:
        return len(document)


def page_image(pdf: bytes, page: int, width: int, *, draft: bool) -> bytes:
    """Page ``page`` (1-based) as a PNG ``width`` pixels wide, marked DRAF if ``draft``.

    Raises InvalidPdf, IndexError (no such page).
    """
    with _opened(pdf) as document:
        if not 1 <= page <= len(document):
            raise IndexError(page)
        pdf_page = document[page - 1]
        scale = min(width, MAX_PAGE_WIDTH) / pdf_page.get_width()
        image: Image.Image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        pdf_page.close()
    if draft:
        image = _marked(image)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _marked(image: Image.Image) -> Image.Image:
    """The page with DRAF written large and pale across its middle, slanting upwards."""
    font = ImageFont.truetype(_FONT, image.width // 4)
    mark = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(mark).text(
        (image.width // 2, image.height // 2),
        DRAFT_MARK,
        font=font,
        fill=(200, 30, 30, 90),
        anchor="mm",
    )
    mark = mark.rotate(35, center=(image.width // 2, image.height // 2))
    return Image.alpha_composite(image.convert("RGBA"), mark).convert("RGB")
