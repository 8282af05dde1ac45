"""A unit's emblem: the bytes must really be a PNG (Pillow reads it, within a bound on pixels)
or an SVG that can do nothing but draw (defusedxml parses it; no scripts, no event attributes,
no ``<foreignObject>``, no reference outside the file)."""

from __future__ import annotations

import io
import re

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from docgen.errors import DataInvalid, FieldProblem

__all__ = ["MAX_EMBLEM_BYTES", "MAX_EMBLEM_PIXELS", "PNG", "SVG", "emblem_type"]

MAX_EMBLEM_BYTES = 512 * 1024
# 2,000 x 2,000: far more than a kop needs, little enough to decode at once.
MAX_EMBLEM_PIXELS = 4_000_000
PNG = "image/png"
SVG = "image/svg+xml"

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
    return SVG


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
