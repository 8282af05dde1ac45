"""A unit's emblem: the bytes must really be a PNG (Pillow reads it, within a bound on pixels)
or an SVG that can do nothing but draw (defusedxml parses it; no scripts, no event attributes,
no ``<foreignObject>``, no reference outside the file) and that CairoSVG draws.

A kop takes a PNG (python-docx places PNG, not SVG): an SVG is drawn by CairoSVG, once per
process and emblem (:func:`emblem_png`)."""

from __future__ import annotations

import functools
import io
import re

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from docgen.errors import DataInvalid, FieldProblem

__all__ = [
    "EMBLEM_PNG_HEIGHT",
    "MAX_EMBLEM_BYTES",
    "MAX_EMBLEM_PIXELS",
    "PNG",
    "SVG",
    "emblem_png",
    "emblem_type",
]

MAX_EMBLEM_BYTES = 512 * 1024
# 2,000 x 2,000: far more than a kop needs, little enough to decode at once.
MAX_EMBLEM_PIXELS = 4_000_000
PNG = "image/png"
SVG = "image/svg+xml"
# An SVG emblem drawn for the kop: 600 px over its 2.5 cm is 600 dpi, sharp on any printer.
EMBLEM_PNG_HEIGHT = 600

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SVG_NS = "{http://www.w3.org/2000/svg}"
# Elements that run code, embed another document, pull in something from outside, or change
# an attribute after the checks (an animation can set an ``href`` to anything).
_REFUSED_ELEMENTS = frozenset(
    {
        "script",
        "foreignobject",
        "iframe",
        "embed",
        "object",
        "audio",
        "video",
        "handler",
        "listener",
        "set",
        "animate",
        "animatemotion",
        "animatetransform",
    }
)
# A ``url(...)`` in a style that points outside the file (``url(#id)`` stays inside).
_OUTSIDE_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


def _refused(message: str) -> DataInvalid:
    return DataInvalid([FieldProblem("file", message)])


def emblem_type(content: bytes) -> str:
    """The content type of an emblem (``image/png`` or ``image/svg+xml``) once its bytes hold
    up. Blocking (decodes the image): call it in a worker thread.

    Raises:
        DataInvalid: (422, field ``file``) neither a readable PNG within the pixel bound nor a
            harmless SVG, said in Bahasa Indonesia.
    """
    if content.startswith(_PNG_SIGNATURE):
        _check_png(content)
        return PNG
    _check_svg(content)
    try:
        _drawn(content)
    except Exception as exc:  # CairoSVG's own errors for what it cannot draw
        raise _refused("SVG ini tidak dapat digambar") from exc
    return SVG


def emblem_png(content: bytes, content_type: str) -> bytes:
    """The emblem as the kop places it: a PNG as it is, an SVG (checked by
    :func:`emblem_type`) drawn ``EMBLEM_PNG_HEIGHT`` pixels high. Blocking: call it in a
    worker thread. Raises what CairoSVG raises (not for an emblem that passed its check)."""
    return content if content_type == PNG else _drawn(content)


@functools.lru_cache(maxsize=32)
def _drawn(svg: bytes) -> bytes:
    # Imported here: CairoSVG (and cairocffi) take ~0.3 s to load, which every process that
    # imports the people package (the API, workers, their worker processes) would pay at start
    # for the few that ever draw an SVG emblem.
    import cairosvg

    # unsafe=False (the default): no external files, no XML entities; the checks above have
    # refused every reference outside the file already.
    png = cairosvg.svg2png(bytestring=svg, output_height=EMBLEM_PNG_HEIGHT, unsafe=False)
    assert isinstance(png, bytes)
    return png


def _check_png(content: bytes) -> None:
    try:
        with Image.open(io.BytesIO(content), formats=["PNG"]) as image:
            if image.width * image.height > MAX_EMBLEM_PIXELS:
                raise _refused(
                    f"gambar PNG terlalu besar ({image.width} x {image.height} piksel; "
                    f"paling banyak {MAX_EMBLEM_PIXELS:,} piksel)".replace(",", ".")
                )
            image.load()
    except Image.DecompressionBombError as exc:
        raise _refused("gambar PNG terlalu besar") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refused("berkas bukan gambar PNG yang dapat dibaca") from exc


def _check_svg(content: bytes) -> None:
    try:
        root = SafeXml.fromstring(content, forbid_dtd=True)
    except (SafeXml.ParseError, DefusedXmlException, ValueError) as exc:
        raise _refused("berkas bukan gambar PNG atau SVG yang dapat dibaca") from exc
    if root.tag != f"{_SVG_NS}svg":
        raise _refused("berkas bukan gambar PNG atau SVG yang dapat dibaca")
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""
        if name in _REFUSED_ELEMENTS:
            raise _refused(f"SVG tidak boleh memuat elemen <{name}>")
        text = element.text or ""
        if name == "style" and (_OUTSIDE_URL.search(text) or "@import" in text.lower()):
            raise _refused("SVG tidak boleh merujuk berkas atau alamat di luar dirinya")
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                raise _refused(f"SVG tidak boleh memuat atribut peristiwa ({local})")
            if local == "href" and not value.strip().startswith("#"):
                raise _refused("SVG tidak boleh merujuk berkas atau alamat di luar dirinya")
            if _OUTSIDE_URL.search(value):
                raise _refused("SVG tidak boleh merujuk berkas atau alamat di luar dirinya")
