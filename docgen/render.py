"""Render a template's DOCX with data: docxtpl on python-docx, Jinja2 sandboxed.

Security: templates render in a ``SandboxedEnvironment`` (no ``__class__``/``__mro__`` walks to
Python internals) with autoescape on, so user text such as ``<script>&`` lands in ``<w:t>`` as
escaped character data and cannot break the document XML. Any failure inside the template
(sandbox violation, unknown variable, filter misuse) is reported as ``TemplateInvalid``: it is a
fault of the template, not of the caller's data, which ``validate_data`` has already checked.

Signature places: ``{{ ttd('<role>') }}`` emits the marker text ``#TTD:<role>#`` in a separate
run, white and 2 pt high, so it is invisible on paper but found by PDF text extraction. Templates
put it at the top-left corner of the empty signature area (at least 72 pt high).

Speed: the Jinja compilation of each DOCX part is cached (keyed by its source), so a render only
re-reads the package, executes the compiled template and writes the result.
"""

from __future__ import annotations

import functools
import html
import io
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from docgen import indonesian
from docgen.errors import TemplateInvalid
from docgen.manifest import Template
from docgen.validators import pangkat_golongan, validate_data
from signing.anchors import anchor_marker

__all__ = [
    "SourcePart",
    "jinja_environment",
    "render_docx",
    "template_parts",
    "template_source",
    "ttd_markup",
]

_ROLE_RE = re.compile(r"[a-z][a-z0-9_]*")


def ttd_markup(role: str) -> Markup:
    """WordprocessingML that closes the current run, adds the hidden marker run, reopens a run.

    docxtpl places the result of ``{{ ... }}`` inside ``<w:t>``; Markup is inserted unescaped.
    """
    if not _ROLE_RE.fullmatch(role):
        raise ValueError(f"invalid role name {role!r}")
    return Markup(
        "</w:t></w:r>"
        '<w:r><w:rPr><w:color w:val="FFFFFF"/><w:sz w:val="4"/><w:szCs w:val="4"/></w:rPr>'
        f'<w:t xml:space="preserve">{anchor_marker(role)}</w:t></w:r>'
        '<w:r><w:t xml:space="preserve">'
    )


def _date_filter(fn: Callable[[date], str]) -> Callable[[object], str]:
    def apply(value: object) -> str:
        if not isinstance(value, date):
            raise TypeError(f"{fn.__name__} expects a date, got {type(value).__name__}")
        return fn(value)

    apply.__name__ = fn.__name__
    return apply


@functools.cache
def jinja_environment() -> SandboxedEnvironment:
    """The one sandboxed environment all templates render in (built on first use)."""
    env = SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(
        {
            "tanggal": _date_filter(indonesian.tanggal),
            "tanggal_pendek": _date_filter(indonesian.tanggal_pendek),
            "tanggal_terbilang": _date_filter(indonesian.tanggal_terbilang),
            "terbilang": indonesian.terbilang,
            "jumlah_terbilang": indonesian.jumlah_terbilang,
            "bulan_romawi": indonesian.bulan_romawi,
            "nip": indonesian.format_nip,
            "pangkat": pangkat_golongan,
            "kapital": indonesian.nama_gelar_kapital,
        }
    )
    return env


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> jinja2.Template:
    return jinja_environment().from_string(source)


@functools.lru_cache(maxsize=256)
def _patch(xml: str) -> str:
    # patch_xml is a pure function of its input (regex clean-up of split Jinja tags).
    return str(DocxTemplate.patch_xml(_PATCHER, xml))


class _Patcher:
    """Stand-in ``self`` for ``DocxTemplate.patch_xml``, which uses no instance state."""


_PATCHER = _Patcher()


class _CachingDocxTemplate(DocxTemplate):
    """docxtpl with compiled Jinja sources cached across renders of the same template."""

    def patch_xml(self, src_xml: str) -> str:
        return _patch(src_xml)

    def render_xml_part(
        self, src_xml: str, part: Any, context: dict[str, Any], jinja_env: Any = None
    ) -> str:
        # Same steps as DocxTemplate.render_xml_part, with the compile step cached.
        src_xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", src_xml)
        self.current_rendering_part = part
        dst_xml = _compile(src_xml).render(context)
        dst_xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", dst_xml)
        dst_xml = (
            dst_xml.replace("{_{", "{{")
            .replace("}_}", "}}")
            .replace("{_%", "{%")
            .replace("%_}", "%}")
        )
        return str(self.resolve_listing(dst_xml))


@dataclass(frozen=True)
class SourcePart:
    """The Jinja source of one part of a DOCX, as docxtpl compiles it.

    In a part with paragraphs (body, header, footer, footnotes) each line starts at a paragraph
    and a ``<!--pN-->`` mark with its number (in document order, table cells included), so a
    Jinja error's line number names a paragraph. Where docxtpl drops a whole table row or cell
    (``{%tr ...%}``, ``{%tc ...%}``) its tag joins the line of the paragraph before it.
    """

    name: str  # e.g. "word/document.xml", "word/header1.xml", "docProps/core.xml (title)"
    source: str
    has_paragraphs: bool = True

    def paragraph(self, lineno: int | None) -> tuple[int, str] | None:
        """The number and plain text of the paragraph on Jinja line ``lineno``, if any."""
        if not self.has_paragraphs or lineno is None or lineno < 1:
            return None
        lines = self.source.split("\n")
        mark = _PARAGRAPH_MARK.match(lines[lineno - 1]) if lineno <= len(lines) else None
        if mark is None:
            return None
        text = _XML_TAG.sub("", lines[lineno - 1])
        return int(mark[1]), " ".join(html.unescape(text).split())


_PARAGRAPH_START = re.compile(r"<w:p(?=[ >/])")
_PARAGRAPH_MARK = re.compile(r"<!--p(\d+)-->")
_XML_TAG = re.compile(r"<[^>]*>")
# The core properties docxtpl renders as Jinja templates (DocxTemplate.render_properties).
_CORE_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
_FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


def _by_paragraph(xml: str) -> str:
    # Line breaks and comments between elements mean nothing to Jinja's grammar, so the parse is
    # the one docxtpl makes; here they only mark where each paragraph starts.
    numbers = itertools.count(1)
    flat = xml.replace("\r", " ").replace("\n", " ")
    marked = _PARAGRAPH_START.sub(lambda _: f"\n<!--p{next(numbers)}--><w:p", flat)
    # Not through the render cache: these sources are only ever checked, once.
    return str(DocxTemplate.patch_xml(_PATCHER, marked))


def template_parts(doc: DocxTemplate) -> list[SourcePart]:
    """Every part docxtpl renders, body first: headers, footers, footnotes, core properties.

    Raises whatever python-docx raises for a file that is not a readable DOCX.
    """
    doc.init_docx()
    package = doc.docx.part.package
    parts = [SourcePart(doc.docx.part.partname.lstrip("/"), _by_paragraph(doc.get_xml()))]
    for uri in (DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
        for _, part in doc.get_headers_footers(uri):
            parts.append(
                SourcePart(part.partname.lstrip("/"), _by_paragraph(doc.get_part_xml(part)))
            )
    for part in package.parts:
        if part.content_type == _FOOTNOTES_TYPE:
            blob = part.blob
            xml = blob.decode("utf-8") if isinstance(blob, bytes) else blob
            parts.append(SourcePart(part.partname.lstrip("/"), _by_paragraph(xml)))
    core = doc.docx.core_properties
    for name in _CORE_PROPERTIES:
        value = getattr(core, name) or ""
        parts.append(SourcePart(f"docProps/core.xml ({name})", value, has_paragraphs=False))
    return parts


def template_source(template: Template) -> str:
    """The Jinja source of all the template's rendered parts, as docxtpl sees it."""
    doc = DocxTemplate(io.BytesIO(template.docx_bytes))
    return "\n".join(part.source for part in template_parts(doc))


def render_docx(template: Template, data: Mapping[str, object], *, nomor: str) -> bytes:
    """Fill the template's DOCX with ``data`` and the document number ``nomor``.

    ``data`` is checked with ``validate_data`` first (idempotent on already-clean data).

    Raises:
        DataInvalid: the data does not satisfy the manifest.
        TemplateInvalid: the template fails while rendering (sandbox violation, unknown
            variable or role, filter misuse) or a signer role's marker is missing from the output.
    """
    manifest = template.manifest
    clean = validate_data(manifest, data)
    roles = {role.name for role in manifest.roles}

    def ttd(role: str) -> Markup:
        if role not in roles:
            raise TemplateInvalid(f"templat {manifest.id}: peran penanda tangan {role!r} tidak ada")
        return ttd_markup(role)

    context: dict[str, Any] = {**clean, "nomor": nomor, "ttd": ttd}
    doc = _CachingDocxTemplate(io.BytesIO(template.docx_bytes))
    try:
        doc.render(context, jinja_env=jinja_environment())
    except jinja2.TemplateError as exc:
        raise TemplateInvalid(
            f"templat {manifest.id} gagal dirender: {type(exc).__name__}: {exc}"
        ) from exc
    except (ValueError, TypeError) as exc:
        # A filter applied to the wrong kind of value: the template is wrong, not the data.
        raise TemplateInvalid(f"templat {manifest.id} gagal dirender: {exc}") from exc

    out = io.BytesIO()
    doc.save(out)
    rendered = out.getvalue()
    body_xml = doc.get_xml()
    for role in roles:
        if anchor_marker(role) not in body_xml:
            raise TemplateInvalid(
                f"templat {manifest.id}: penanda {anchor_marker(role)} tidak dirender"
            )
    return rendered
