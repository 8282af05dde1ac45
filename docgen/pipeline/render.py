"""Render a template's DOCX with data: docxtpl on python-docx, in the sandboxed Jinja
environment of :mod:`docgen.templating.jinja`.

Any failure inside the template (sandbox violation, unknown variable, filter misuse) is reported
as ``TemplateInvalid``: it is a fault of the template, not of the caller's data, which
``validate_data`` has already checked.

Speed: bulk generation renders hundreds of documents from one template, so a template's DOCX is
read once (``TemplateRenderer``, kept by ``renderer_for``). A render then only executes the
compiled Jinja source of each part docxtpl renders (body, headers, footers, core properties,
footnotes), serialises those parts as python-docx would, and adds them to a ZIP of the other
parts, deflated once. The result is the document docxtpl gives, part for part (the tests compare
them); a template the fast path cannot render that way goes through docxtpl end to end.
"""

from __future__ import annotations

import copy
import functools
import io
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
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
from markupsafe import Markup

from docgen.errors import TemplateInvalid
from docgen.templating.jinja import jinja_environment, ttd_markup
from docgen.templating.manifest import Template
from docgen.templating.validation import validate_data
from signing.prepare.anchors import anchor_marker

__all__ = [
    "RENDERER_CACHE_BYTES",
    "RENDERER_CACHE_SIZE",
    "TemplateRenderer",
    "render_docx",
    "renderer_for",
]

# The core properties docxtpl renders as Jinja templates (DocxTemplate.render_properties).
_CORE_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
_FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


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
    return str(DocxTemplate.resolve_listing(_PATCHER, dst_xml))


class _CachingDocxTemplate(DocxTemplate):
    """docxtpl with compiled Jinja sources cached across renders of the same template."""

    def patch_xml(self, src_xml: str) -> str:
        return _patch(src_xml)

    def render_xml_part(
        self, src_xml: str, part: Any, context: dict[str, Any], jinja_env: Any = None
    ) -> str:
        self.current_rendering_part = part
        return _render_source(_compile(_jinja_source(src_xml)), context)


@dataclass(frozen=True)
class _PartSource:
    """A DOCX part docxtpl renders: its name in the ZIP and its prepared Jinja source."""

    name: str
    source: str  # _jinja_source of the patched XML


@dataclass(frozen=True)
class _TemplatePackage:
    """A template's DOCX taken apart once, as docxtpl and python-docx would write it unrendered:
    the parts a render fills in, and every other part deflated once into ``static_zip``.

    Plain bytes and strings only, so that it pickles into worker processes as it is.
    """

    static_zip: bytes  # [Content_Types].xml, rels, styles, media...; none of the parts below
    body: str  # the Jinja source of w:body
    document_name: str
    document_shell: bytes  # the document part with an empty w:body, as python-docx writes it
    headers_footers: tuple[_PartSource, ...]  # in docxtpl's order: headers, then footers
    core_name: str
    core_xml: bytes | None  # None: the template has none; python-docx makes a default per render
    footnotes: tuple[_PartSource, ...]
    footnote_passes: int  # docxtpl renders footnotes once per section, each pass on the last


def _read_package(docx_bytes: bytes) -> _TemplatePackage | None:
    """The template taken apart for ``TemplateRenderer``; None where its fast path cannot give
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
            headers_footers.append(_PartSource(name, source))
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

    shell = copy.deepcopy(document.element)
    for child in list(shell.body):
        shell.body.remove(child)

    document_name = document.part.partname.lstrip("/")
    core_name = core_part.partname.lstrip("/")
    rendered = {document_name, core_name, *(p.name for p in (*headers_footers, *footnotes))}
    return _TemplatePackage(
        static_zip=_deflated_unrendered(document, rendered),
        body=_jinja_source(DocxTemplate.patch_xml(_PATCHER, doc.get_xml())),
        document_name=document_name,
        document_shell=serialize_part_xml(shell),
        headers_footers=tuple(headers_footers),
        core_name=core_name,
        core_xml=core_part.blob if has_core else None,
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


class TemplateRenderer:
    """Renders documents of one template; the template's DOCX is read once.

    A render gives the document docxtpl gives (``DocxTemplate.render`` then ``save``): the same
    parts with the same content. Only the Jinja sources are rendered per document (body,
    headers and footers, core properties, footnotes); every other part, as python-docx writes
    it, is deflated once and copied. The rendered parts follow the copied ones in the ZIP.

    Safe to share between threads (it holds no state a render changes) and picklable, as plain
    bytes and strings, for worker processes.
    """

    def __init__(self, template: Template) -> None:
        """Raises whatever python-docx raises for a DOCX it cannot read (checked templates are
        readable)."""
        self.template = template
        self._package = _read_package(template.docx_bytes)

    @property
    def held_bytes(self) -> int:
        """Roughly the memory this renderer holds: the template's DOCX and its prepared parts."""
        held = len(self.template.docx_bytes)
        if self._package is not None:
            package = self._package
            sources = (package.body, *(p.source for p in package.headers_footers))
            held += len(package.static_zip) + len(package.document_shell)
            held += sum(len(source) for source in sources)
            held += sum(len(p.source) for p in package.footnotes)
        return held

    def serves(self, template: Template) -> bool:
        """Whether this renderer renders ``template``: the same manifest and DOCX."""
        mine = self.template
        return template is mine or (
            template.docx_bytes == mine.docx_bytes and template.manifest == mine.manifest
        )

    def render(self, data: Mapping[str, object], *, nomor: str) -> bytes:
        """Fill the template's DOCX with ``data`` and the document number ``nomor``.

        ``data`` is checked with ``validate_data`` first (idempotent on already-clean data).

        Raises:
            DataInvalid: the data does not satisfy the manifest.
            TemplateInvalid: the template fails while rendering (sandbox violation, unknown
                variable or role, filter misuse) or a signer role's marker is missing from the
                output.
        """
        manifest = self.template.manifest
        clean = validate_data(manifest, data)
        roles = {role.name for role in manifest.roles}

        def ttd(role: str) -> Markup:
            if role not in roles:
                raise TemplateInvalid(
                    f"templat {manifest.id}: peran penanda tangan {role!r} tidak ada"
                )
            return ttd_markup(role)

        context: dict[str, Any] = {**clean, "nomor": nomor, "ttd": ttd}
        try:
            if self._package is None:
                rendered, body_xml = _render_with_docxtpl(self.template.docx_bytes, context)
            else:
                rendered, body_xml = _render_package(self._package, context)
        except jinja2.TemplateError as exc:
            raise TemplateInvalid(
                f"templat {manifest.id} gagal dirender: {type(exc).__name__}: {exc}"
            ) from exc
        except (ValueError, TypeError) as exc:
            # A filter applied to the wrong kind of value: the template is wrong, not the data.
            raise TemplateInvalid(f"templat {manifest.id} gagal dirender: {exc}") from exc

        for role in roles:
            if anchor_marker(role) not in body_xml:
                raise TemplateInvalid(
                    f"templat {manifest.id}: penanda {anchor_marker(role)} tidak dirender"
                )
        return rendered


def _render_with_docxtpl(docx_bytes: bytes, context: dict[str, Any]) -> tuple[bytes, str]:
    """The DOCX and its rendered w:body, through docxtpl end to end."""
    doc = _CachingDocxTemplate(io.BytesIO(docx_bytes))
    doc.render(context, jinja_env=jinja_environment())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue(), doc.get_xml()


def _render_package(package: _TemplatePackage, context: dict[str, Any]) -> tuple[bytes, str]:
    """The DOCX and its rendered w:body: DocxTemplate.render's steps, in its order, on the parts
    ``_read_package`` prepared, then python-docx's serialisation of each rendered part."""
    parts: list[tuple[str, bytes]] = []

    # Body: rendered, its tables fixed and drawing ids renumbered, put into the document part.
    tree = DocxTemplate.fix_tables(_PATCHER, _render_source(_compile(package.body), context))
    DocxTemplate.fix_docpr_ids(_DocPrIds(), tree)
    document = parse_xml(package.document_shell)
    document.replace(document.body, tree)
    document_xml = serialize_part_xml(document)
    parts.append((package.document_name, document_xml))

    # Headers and footers: reloaded by python-docx from the rendered XML (XmlPart.load).
    for part in package.headers_footers:
        rendered = _render_source(_compile(part.source), context).encode("utf-8")
        parts.append((part.name, serialize_part_xml(parse_xml(rendered))))

    # Core properties: DocxTemplate.render_properties.
    if package.core_xml is None:
        core_part = CorePropertiesPart.default(None)  # type: ignore[arg-type]  # only kept
        core = core_part.core_properties
        core_element = core_part.element
    else:
        core_element = parse_xml(package.core_xml)
        core = CoreProperties(core_element)
    for name in _CORE_PROPERTIES:
        setattr(core, name, _compile(getattr(core, name)).render(context))
    parts.append((package.core_name, serialize_part_xml(core_element)))

    # Footnotes: DocxTemplate.render_footnotes renders them once per section, each pass on the
    # result of the last. Only the first pass has a source known in advance; the later ones
    # are not worth a place in the compile caches.
    for part in package.footnotes:
        xml = _render_source(_compile(part.source), context)
        for _ in range(1, package.footnote_passes):
            source = _jinja_source(DocxTemplate.patch_xml(_PATCHER, xml))
            xml = _render_source(jinja_environment().from_string(source), context)
        parts.append((part.name, xml.encode("utf-8")))

    out = io.BytesIO(package.static_zip)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in parts:
            archive.writestr(name, blob)
    # The signature markers are looked for in w:body; the rest of the part holds no text.
    return out.getvalue(), document_xml.decode("utf-8")


class _DocPrIds:
    """Stand-in ``self`` for ``DocxTemplate.fix_docpr_ids``: its counter as render_init sets it."""

    def __init__(self) -> None:
        self.docx_ids_index = 1000


class _RendererCache:
    """At most ``size`` renderers holding at most ``budget`` bytes together (the newest one
    stays whatever its size), the least recently used dropped first; shared by threads."""

    def __init__(self, size: int, budget: int) -> None:
        self._size = size
        self._budget = budget
        self._lock = threading.Lock()
        self._renderers: OrderedDict[tuple[str, int, str], TemplateRenderer] = OrderedDict()

    def get(self, template: Template) -> TemplateRenderer:
        key = (template.id, template.version, template.sha256)
        with self._lock:
            renderer = self._renderers.get(key)
            if renderer is not None and renderer.serves(template):
                self._renderers.move_to_end(key)
                return renderer
        # Outside the lock: reading a template takes tens of milliseconds. Two threads may both
        # read the same one; the second result replaces the first, both are right.
        renderer = TemplateRenderer(template)
        with self._lock:
            self._renderers[key] = renderer
            self._renderers.move_to_end(key)
            held = sum(r.held_bytes for r in self._renderers.values())
            while len(self._renderers) > 1 and (
                len(self._renderers) > self._size or held > self._budget
            ):
                _, dropped = self._renderers.popitem(last=False)
                held -= dropped.held_bytes
        return renderer


RENDERER_CACHE_SIZE = 32
# Uploaded DOCX files may have up to 20 MiB; ours have 40 kB. Bound the bytes too.
RENDERER_CACHE_BYTES = 256 * 2**20


@functools.cache
def _renderer_cache() -> _RendererCache:
    return _RendererCache(RENDERER_CACHE_SIZE, RENDERER_CACHE_BYTES)


def renderer_for(template: Template) -> TemplateRenderer:
    """The renderer of ``template``, from a cache of the last ``RENDERER_CACHE_SIZE`` templates
    used (fewer where they hold over ``RENDERER_CACHE_BYTES``), keyed by (id, version, sha256).

    A cached renderer serves only the very same manifest and DOCX: a template that shares its
    key but differs (a folder template edited without a new version, say) gets a renderer of
    its own, which replaces the cached one.

    Raises whatever python-docx raises for a DOCX it cannot read (checked templates are
    readable).
    """
    return _renderer_cache().get(template)


def render_docx(template: Template, data: Mapping[str, object], *, nomor: str) -> bytes:
    """Fill the template's DOCX with ``data`` and the document number ``nomor``.

    ``data`` is checked with ``validate_data`` first (idempotent on already-clean data).
    See ``TemplateRenderer.render``, which this is through ``renderer_for``.

    Raises:
        DataInvalid: the data does not satisfy the manifest.
        TemplateInvalid: the template fails while rendering (sandbox violation, unknown
            variable or role, filter misuse) or a signer role's marker is missing from the output.
    """
    return renderer_for(template).render(data, nomor=nomor)
