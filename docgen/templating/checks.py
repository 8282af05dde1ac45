"""Checks of a template's DOCX against its manifest, each fault reported with its place.

Used for folder templates at start-up and for uploads before anything is stored. Places name the
DOCX part (``word/document.xml``, ``word/header1.xml``...) and, for Jinja faults, the paragraph:
its number in that part (in document order, table cells included) and the start of its text.
"""

from __future__ import annotations

import html
import io
import itertools
import re
import zipfile
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
from docxtpl import DocxTemplate

from docgen.errors import TemplateProblem
from docgen.templating.external import external_problems
from docgen.templating.jinja import jinja_environment
from docgen.templating.manifest import (
    EMETERAI_MARKER,
    PAPER_MM,
    RESERVED_NAMES,
    TemplateManifest,
)

__all__ = ["MAX_DOCX_ENTRIES", "MAX_DOCX_UNPACKED", "SourcePart", "docx_problems", "template_parts"]

# A DOCX is a ZIP archive: bound what it may unpack to before anything parses it.
MAX_DOCX_ENTRIES = 1000
MAX_DOCX_UNPACKED = 50 * 2**20
EXCERPT_CHARS = 60


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


def _by_paragraph(doc: DocxTemplate, xml: str) -> str:
    # Line breaks and comments between elements mean nothing to Jinja's grammar, so the parse is
    # the one docxtpl makes; here they only mark where each paragraph starts.
    numbers = itertools.count(1)
    flat = xml.replace("\r", " ").replace("\n", " ")
    marked = _PARAGRAPH_START.sub(lambda _: f"\n<!--p{next(numbers)}--><w:p", flat)
    return str(doc.patch_xml(marked))


def template_parts(doc: DocxTemplate) -> list[SourcePart]:
    """Every part docxtpl renders, body first: headers, footers, footnotes, core properties.

    Raises whatever python-docx raises for a file that is not a readable DOCX.
    """
    doc.init_docx()
    package = doc.docx.part.package
    parts = [SourcePart(doc.docx.part.partname.lstrip("/"), _by_paragraph(doc, doc.get_xml()))]
    for uri in (DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
        for _, part in doc.get_headers_footers(uri):
            parts.append(
                SourcePart(part.partname.lstrip("/"), _by_paragraph(doc, doc.get_part_xml(part)))
            )
    for part in package.parts:
        if part.content_type == _FOOTNOTES_TYPE:
            blob = part.blob
            xml = blob.decode("utf-8") if isinstance(blob, bytes) else blob
            parts.append(SourcePart(part.partname.lstrip("/"), _by_paragraph(doc, xml)))
    core = doc.docx.core_properties
    for name in _CORE_PROPERTIES:
        value = getattr(core, name) or ""
        parts.append(SourcePart(f"docProps/core.xml ({name})", value, has_paragraphs=False))
    return parts


def docx_problems(
    docx_bytes: bytes, manifest: TemplateManifest | None, *, name: str = "template.docx"
) -> list[TemplateProblem]:
    """Everything wrong with a template's DOCX that shows without rendering it.

    Not a (bounded) DOCX; anything it names outside itself (``external.external_problems``);
    each section's paper size against the manifest's; for every part
    docxtpl renders: Jinja syntax errors (part and paragraph); names the manifest does not
    declare; ``ttd()`` for roles it does not declare; declared roles without their
    ``{{ ttd('role') }}`` marker in the body, and an ``[emeterai]`` without ``#EMETERAI#``.
    With ``manifest`` None (it did not validate) only what needs no manifest is checked.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(docx_bytes))
    except (zipfile.BadZipFile, ValueError, OSError):
        return [TemplateProblem(name, "bukan berkas DOCX (bukan arsip ZIP)")]
    with archive:
        entries = archive.infolist()
        unpacked = sum(entry.file_size for entry in entries)
        if len(entries) > MAX_DOCX_ENTRIES or unpacked > MAX_DOCX_UNPACKED:
            return [
                TemplateProblem(
                    name,
                    f"berkas DOCX terlalu besar setelah dibuka ({len(entries)} bagian, "
                    f"{unpacked // 2**20} MiB; batas {MAX_DOCX_ENTRIES} bagian, "
                    f"{MAX_DOCX_UNPACKED // 2**20} MiB)",
                )
            ]
        try:
            problems = external_problems(archive)
        except Exception as exc:  # a part that is not XML, an entry zipfile cannot unpack
            return [TemplateProblem(name, f"bukan berkas DOCX yang valid: {exc}")]
    doc = DocxTemplate(io.BytesIO(docx_bytes))
    try:
        parts = template_parts(doc)
    except Exception as exc:  # python-docx raises assorted zip/XML/KeyError/ValueError types
        return [TemplateProblem(name, f"bukan berkas DOCX yang valid: {exc}")]
    if manifest is not None:
        problems.extend(_paper_problems(doc, manifest))
    problems.extend(_JinjaCheck(parts, manifest).problems())
    return problems


def _paper_problems(doc: Any, manifest: TemplateManifest) -> list[TemplateProblem]:
    width_mm, height_mm = PAPER_MM[manifest.paper]
    problems = []
    for number, section in enumerate(doc.docx.sections, 1):
        if section.page_width is None or section.page_height is None:
            continue
        w, h = section.page_width.mm, section.page_height.mm
        if abs(w - width_mm) > 1.5 or abs(h - height_mm) > 1.5:
            problems.append(
                TemplateProblem(
                    f"word/document.xml, bagian (section) ke-{number}",
                    f"ukuran halaman {w:.0f}x{h:.0f} mm, sedangkan manifest menyatakan "
                    f"{manifest.paper} ({width_mm:.0f}x{height_mm:.0f} mm)",
                )
            )
    return problems


class _JinjaCheck:
    """The Jinja checks over every part; places are a part, a paragraph number and its text."""

    def __init__(self, parts: list[SourcePart], manifest: TemplateManifest | None) -> None:
        self.parts = parts
        self.manifest = manifest
        self.found: list[TemplateProblem] = []

    def problems(self) -> list[TemplateProblem]:
        parsed = [(part, ast) for part in self.parts if (ast := self._parse(part)) is not None]
        if self.manifest is None:
            return self.found
        marked: set[str] = set()
        for part, ast in parsed:
            self._check_names(part, ast, self.manifest)
            roles = self._check_ttd_calls(part, ast, self.manifest)
            if part is self.parts[0]:
                marked = roles
        body_parsed = bool(parsed) and parsed[0][0] is self.parts[0]
        self._check_markers(self.manifest, marked if body_parsed else None)
        return self.found

    def _parse(self, part: SourcePart) -> jinja2.nodes.Template | None:
        env = jinja_environment()
        try:
            ast = env.parse(part.source)
            env.compile(ast)  # unknown filters and tests show when compiling
        except jinja2.TemplateSyntaxError as exc:
            self._add(part, exc.lineno, f"kesalahan sintaks Jinja: {exc.message}")
        except Exception as exc:  # e.g. nesting deeper than the parser's recursion
            self._add(part, None, f"Jinja tidak dapat mengurai bagian ini: {exc!r:.200}")
        else:
            return ast
        return None

    def _check_names(
        self, part: SourcePart, ast: jinja2.nodes.Template, manifest: TemplateManifest
    ) -> None:
        env = jinja_environment()
        declared = {f.name for f in manifest.fields} | RESERVED_NAMES | set(env.globals)
        undeclared = jinja2.meta.find_undeclared_variables(ast) - declared
        seen: set[tuple[str, int]] = set()
        for node in ast.find_all(jinja2.nodes.Name):
            place = (node.name, node.lineno)
            if node.ctx == "load" and node.name in undeclared and place not in seen:
                seen.add(place)
                self._add(
                    part,
                    node.lineno,
                    f"variabel {node.name!r} tidak dideklarasikan di manifest "
                    "(tambahkan sebagai [[fields]])",
                )

    def _check_ttd_calls(
        self, part: SourcePart, ast: jinja2.nodes.Template, manifest: TemplateManifest
    ) -> set[str]:
        """Reports ttd() for unknown roles; returns the declared roles marked in ``part``."""
        marked: set[str] = set()
        for call in ast.find_all(jinja2.nodes.Call):
            if not (isinstance(call.node, jinja2.nodes.Name) and call.node.name == "ttd"):
                continue
            arg = call.args[0] if len(call.args) == 1 and not call.kwargs else None
            role = arg.value if isinstance(arg, jinja2.nodes.Const) else None
            if not isinstance(role, str):
                self._add(
                    part,
                    call.lineno,
                    "ttd() harus diberi nama peran sebagai teks, mis. ttd('pihak_pertama')",
                )
            elif manifest.role(role) is None:
                self._add(
                    part,
                    call.lineno,
                    f"ttd({role!r}): peran ini tidak dideklarasikan di manifest ([[roles]])",
                )
            else:
                marked.add(role)
        return marked

    def _check_markers(self, manifest: TemplateManifest, marked: set[str] | None) -> None:
        """Every role needs its marker in the body, and an e-Meterai the manifest offers its
        box's; ``marked`` None: the body did not parse."""
        body = self.parts[0]
        for role in manifest.roles_in_order:
            if marked is not None:
                has_marker = role.name in marked
            else:  # its syntax error is reported already; look for the marker as text
                pattern = rf"ttd\(\s*['\"]{role.name}['\"]\s*\)"
                has_marker = re.search(pattern, body.source) is not None
            if not has_marker:
                self.found.append(
                    TemplateProblem(
                        body.name,
                        f"peran {role.name!r} ({role.label}) tidak punya penanda "
                        f"{{{{ ttd('{role.name}') }}}} di badan dokumen",
                    )
                )
        if manifest.emeterai is not None and EMETERAI_MARKER not in _text_of(body.source):
            self.found.append(
                TemplateProblem(
                    body.name,
                    f"manifest menawarkan e-Meterai ([emeterai]) tetapi badan dokumen tidak "
                    f"punya penanda {EMETERAI_MARKER} di sudut kiri atas kotaknya",
                )
            )

    def _add(self, part: SourcePart, lineno: int | None, message: str) -> None:
        paragraph = part.paragraph(lineno)
        if paragraph is None:
            where = part.name
        else:
            number, text = paragraph
            if len(text) > EXCERPT_CHARS:
                text = text[: EXCERPT_CHARS - 1] + "\u2026"
            where = f"{part.name}, paragraf {number} (\u201c{text}\u201d)"
        self.found.append(TemplateProblem(where, message))


def _text_of(source: str) -> str:
    """A part's text without its XML tags and whitespace: a marker Word split over runs (the
    e-Meterai box's) reads whole."""
    return re.sub(r"\s+", "", re.sub(r"<[^>]*>", "", source))
