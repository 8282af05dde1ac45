"""A template's DOCX read once, then rendered per document with docxtpl's own steps.

The library path (``docgen.pipeline.render``) is docxtpl end to end: ``DocxTemplate(...)``,
``render(context, jinja_env=...)``, ``save``. For every document that opens the template with
python-docx, cleans up and compiles the Jinja source of each part again, and writes and deflates
every part of the package again. Here (:func:`prepare`) the template is taken apart once: the
Jinja source of each part docxtpl renders (body, headers, footers, core properties, footnotes)
is cleaned up (``DocxTemplate.patch_xml``) and compiled once, and every other part, as
python-docx writes it, is deflated once. A header, footer or set of core properties with no
Jinja in it renders to the same part for every document: it is rendered there once too (the
templates' page-number headers and titles; ~0.15 ms of the 1.7 ms of CPU a berita acara took to
render, bench/fast_documents.py). A render (:meth:`PreparedTemplate.render`) executes the
compiled sources with docxtpl's steps in its order, serialises those parts as python-docx would
and appends them to a copy of the ZIP of the others. The result is the document docxtpl gives,
part for part (``tests/test_render.py`` compares them on every kind of part).

Measured share of the bulk time: CPU per document (``time.process_time``, the best of 5 runs of
100 documents after a warm-up, validation included; ``bench/fast_documents.py``) on this 2-core
machine: berita acara pelantikan 1.6-1.9 ms here against 48-56 ms through docxtpl end to end,
pakta integritas 1.0 ms against 34-36 ms (two runs, session 30; 2.9 against 60 and 1.9 against
36 in an earlier one). The saving, ~47 ms per berita acara, is about the whole bulk run's CPU
per document (49-52 ms, all processes, bench/bulk.py, session 30); without it the bulk run would
take about twice the CPU.

Private APIs, only here: docxtpl's ``patch_xml``, ``resolve_listing``, ``fix_tables`` and
``fix_docpr_ids`` are called unbound with stand-in ``self`` objects (the first three use no
instance state, the last only its counter ``docx_ids_index``), and its render steps are
repeated; python-docx's ``serialize_part_xml``, ``parse_xml``, ``CoreProperties`` and
``CorePropertiesPart.default`` write the parts. docxtpl is pinned to 0.20.x and python-docx to
1.2.x; ``tests/test_render.py`` fails naming the dependency and its version when an upgrade
changes what is used here.
"""

from __future__ import annotations

import copy
import functools
import io
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
from docx.opc.part import Part
from docx.opc.parts.coreprops import CorePropertiesPart
from docx.oxml.parser import parse_xml
from docxtpl import DocxTemplate

from docgen.templating.jinja import jinja_environment

__all__ = ["PreparedTemplate", "prepare"]

# The core properties docxtpl renders as Jinja templates (DocxTemplate.render_properties).
_CORE_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
_FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> jinja2.Template:
    return jinja_environment().from_string(source)


class _Patcher:
    """Stand-in ``self`` for ``DocxTemplate.patch_xml``, ``resolve_listing`` and ``fix_tables``,
    which use no instance state."""


_PATCHER = _Patcher()


class _DocPrIds:
    """Stand-in ``self`` for ``DocxTemplate.fix_docpr_ids``: its counter as render_init sets it."""

    def __init__(self) -> None:
        self.docx_ids_index = 1000


def _jinja_source(patched_xml: str) -> str:
    # As DocxTemplate.render_xml_part: each paragraph on a line of its own.
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", patched_xml)


def _render_source(source: jinja2.Template, context: Mapping[str, Any]) -> str:
    """The rendered XML of one part from its compiled ``_jinja_source``: the steps of
    DocxTemplate.render_xml_part after the compile."""
    dst_xml = source.render(context)
    dst_xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", dst_xml)
    dst_xml = (
        dst_xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    )
    return _resolve_listing(dst_xml)


# What DocxTemplate.resolve_listing rewrites: these characters in the text (w:t) of a run.
_LISTING_CHARACTERS = ("\t", "\a", "\n", "\f")


def _resolve_listing(xml: str) -> str:
    """``DocxTemplate.resolve_listing``: tabs, line, paragraph and page breaks in the text of a
    run made into their XML. It rewrites nothing but those characters, each match of its regular
    expressions going back as it was, so a part with none of them anywhere is returned as it
    is without its three nested regular expressions and their callbacks per paragraph and run
    (most documents: data rarely has a line break). Measured with ``bench/fast_documents.py``
    (best of 5 x 100): a berita acara 2.8 -> 2.0 ms of CPU, a pakta integritas 1.6 -> 1.3 ms."""
    if any(ch in xml for ch in _LISTING_CHARACTERS):
        return str(DocxTemplate.resolve_listing(_PATCHER, xml))
    return xml


def _is_constant(source: str) -> bool:
    """Whether ``source`` renders to the same text whatever the context: it holds none of the
    environment's delimiters (and the environment has no line statements or comments), so Jinja
    reads it as one piece of literal text."""
    env = jinja_environment()
    if env.line_statement_prefix is not None or env.line_comment_prefix is not None:
        return False
    delimiters = (env.block_start_string, env.variable_start_string, env.comment_start_string)
    return not any(delimiter in source for delimiter in delimiters)


@dataclass(frozen=True)
class _PartSource:
    """A DOCX part docxtpl renders: its name in the ZIP and its prepared Jinja source."""

    name: str
    source: str  # _jinja_source of the patched XML
    constant: bytes | None = None  # the part every render writes, where the source is constant


@dataclass(frozen=True)
class PreparedTemplate:
    """A template's DOCX taken apart once, as docxtpl and python-docx would write it unrendered:
    the parts a render fills in, and every other part deflated once into ``static_zip``.

    Plain bytes and strings only, so that it pickles into worker processes as it is; a render
    changes nothing in it, so threads may share it.
    """

    static_zip: bytes  # [Content_Types].xml, rels, styles, media...; none of the parts below
    body: str  # the Jinja source of w:body
    document_name: str
    document_shell: bytes  # the document part with an empty w:body, as python-docx writes it
    headers_footers: tuple[_PartSource, ...]  # in docxtpl's order: headers, then footers
    core_name: str
    core_xml: bytes | None  # None: the template has none; python-docx makes a default per render
    core_constant: bytes | None  # the core part every render writes, where its properties are
    footnotes: tuple[_PartSource, ...]
    footnote_passes: int  # docxtpl renders footnotes once per section, each pass on the last

    @property
    def held_bytes(self) -> int:
        """Roughly the memory the prepared parts hold."""
        sources = (self.body, *(p.source for p in (*self.headers_footers, *self.footnotes)))
        constants = (*(p.constant for p in self.headers_footers), self.core_constant)
        return (
            len(self.static_zip)
            + len(self.document_shell)
            + sum(len(source) for source in sources)
            + sum(len(constant) for constant in constants if constant is not None)
        )

    def render(self, context: Mapping[str, Any]) -> tuple[bytes, str]:
        """The DOCX docxtpl gives for ``context``, and its rendered w:body: DocxTemplate.render's
        steps, in its order, on the prepared parts, then python-docx's serialisation of each
        rendered part.

        Raises whatever the template raises while rendering: ``jinja2.TemplateError``, or
        ``ValueError``/``TypeError`` from a filter given the wrong kind of value.
        """
        parts: list[tuple[str, bytes]] = []

        # Body: rendered, its tables fixed and drawing ids renumbered, put into the document part.
        tree = DocxTemplate.fix_tables(_PATCHER, _render_source(_compile(self.body), context))
        DocxTemplate.fix_docpr_ids(_DocPrIds(), tree)
        document = parse_xml(self.document_shell)
        document.replace(document.body, tree)
        document_xml = serialize_part_xml(document)
        parts.append((self.document_name, document_xml))

        # Headers, footers and core properties: rendered once in prepare() where constant.
        for part in self.headers_footers:
            if part.constant is None:
                parts.append((part.name, _header_footer(part.source, context)))
            else:
                parts.append((part.name, part.constant))
        if self.core_constant is None:
            parts.append((self.core_name, _core_properties(self.core_xml, context)))
        else:
            parts.append((self.core_name, self.core_constant))

        # Footnotes: DocxTemplate.render_footnotes renders them once per section, each pass on
        # the result of the last. Only the first pass has a source known in advance; the later
        # ones are not worth a place in the compile cache.
        for part in self.footnotes:
            xml = _render_source(_compile(part.source), context)
            for _ in range(1, self.footnote_passes):
                source = _jinja_source(DocxTemplate.patch_xml(_PATCHER, xml))
                xml = _render_source(jinja_environment().from_string(source), context)
            parts.append((part.name, xml.encode("utf-8")))

        out = io.BytesIO(self.static_zip)
        with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
            for name, blob in parts:
                archive.writestr(name, blob)
        # The signature markers are looked for in w:body; the rest of the part holds no text.
        return out.getvalue(), document_xml.decode("utf-8")


def _header_footer(
    source: str,
    context: Mapping[str, Any],
    compile_source: Callable[[str], jinja2.Template] = _compile,
) -> bytes:
    """A header or footer part: its rendered XML reloaded by python-docx (XmlPart.load)."""
    rendered = _render_source(compile_source(source), context).encode("utf-8")
    return serialize_part_xml(parse_xml(rendered))


def _core_properties(
    core_xml: bytes | None,
    context: Mapping[str, Any],
    compile_source: Callable[[str], jinja2.Template] = _compile,
) -> bytes:
    """The core properties part, as DocxTemplate.render_properties leaves it; from ``core_xml``,
    or python-docx's default part (made now, with the time in it) where that is None."""
    if core_xml is None:
        core_part = CorePropertiesPart.default(None)  # type: ignore[arg-type]  # only kept
        core = core_part.core_properties
        core_element = core_part.element
    else:
        core_element = parse_xml(core_xml)
        core = CoreProperties(core_element)
    for name in _CORE_PROPERTIES:
        setattr(core, name, compile_source(getattr(core, name)).render(context))
    return serialize_part_xml(core_element)


def prepare(docx_bytes: bytes) -> PreparedTemplate | None:
    """The template taken apart for :meth:`PreparedTemplate.render`; None where that cannot give
    the document docxtpl gives, and the template must render through docxtpl itself.

    Raises whatever python-docx raises for a file that is not a readable DOCX.
    """
    doc = DocxTemplate(io.BytesIO(docx_bytes))
    doc.init_docx()
    document = doc.docx
    package = document.part.package

    headers_footers: list[_PartSource] = []
    for uri in (DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
        for _, part in doc.get_headers_footers(uri):
            name = part.partname.lstrip("/")
            source = _jinja_source(DocxTemplate.patch_xml(_PATCHER, doc.get_part_xml(part)))
            constant = None
            if _is_constant(source):  # rendered here once (not worth a place in the cache)
                constant = _header_footer(source, {}, jinja_environment().from_string)
            headers_footers.append(_PartSource(name, source, constant))
    if len({part.name for part in headers_footers}) < len(headers_footers):
        # One header part behind two relationships: docxtpl renders it twice into two parts of
        # the same name. Word does not write such files; leave them to docxtpl.
        return None

    footnotes: list[_PartSource] = []
    for part in package.parts:
        # docxtpl renders footnotes once per section: with no section, never.
        if part.content_type != _FOOTNOTES_TYPE or not document.sections:
            continue
        if type(part) is not Part:
            # docxtpl renders footnotes by replacing the raw blob of a plain python-docx Part;
            # should python-docx ever parse footnotes into an XmlPart, what docxtpl writes
            # changes, and only docxtpl itself can say what.
            return None
        xml = DocxTemplate.patch_xml(_PATCHER, part.blob.decode("utf-8"))
        footnotes.append(_PartSource(part.partname.lstrip("/"), _jinja_source(xml)))

    has_core = _has_core_properties(package)
    # Where the template has no core part, python-docx adds its default one when the core
    # properties are first used (as DocxTemplate.render_properties does); then the package
    # relationships and content types saved below name it, as in docxtpl's output.
    _ = document.core_properties
    core_part = package.part_related_by(RT.CORE_PROPERTIES)

    core_xml = core_part.blob if has_core else None
    core_constant = None
    if core_xml is not None:
        core = CoreProperties(parse_xml(core_xml))
        if all(_is_constant(getattr(core, name)) for name in _CORE_PROPERTIES):
            core_constant = _core_properties(core_xml, {}, jinja_environment().from_string)

    shell = copy.deepcopy(document.element)
    for child in list(shell.body):
        shell.body.remove(child)

    document_name = document.part.partname.lstrip("/")
    core_name = core_part.partname.lstrip("/")
    rendered = {document_name, core_name, *(p.name for p in (*headers_footers, *footnotes))}
    return PreparedTemplate(
        static_zip=_deflated_unrendered(document, rendered),
        body=_jinja_source(DocxTemplate.patch_xml(_PATCHER, doc.get_xml())),
        document_name=document_name,
        document_shell=serialize_part_xml(shell),
        headers_footers=tuple(headers_footers),
        core_name=core_name,
        core_xml=core_xml,
        core_constant=core_constant,
        footnotes=tuple(footnotes),
        footnote_passes=len(document.sections),
    )


def _deflated_unrendered(document: Any, rendered: set[str]) -> bytes:
    """A ZIP of the parts python-docx writes for ``document`` as it is, but those ``rendered``."""
    saved = io.BytesIO()
    document.save(saved)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(saved) as unrendered,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in unrendered.infolist():
            if info.filename not in rendered:
                archive.writestr(info.filename, unrendered.read(info))
    return out.getvalue()


def _has_core_properties(package: Any) -> bool:
    try:
        package.part_related_by(RT.CORE_PROPERTIES)
    except KeyError:
        return False
    return True
