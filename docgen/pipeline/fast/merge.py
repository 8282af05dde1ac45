"""Merge DOCX documents rendered from one template into one DOCX, one section per document.

LibreOffice converts one large document far faster than many small ones (the per-call cost
dominates), so bulk conversion merges the rendered documents, converts once and splits the PDF back
(``docgen.pipeline.fast.split``). For the split to give the same document a single conversion gives,
every document keeps its own page setup, headers and footers, page numbers from 1 and numbered lists
from their start. The merge works on the package (zip + lxml) and relies on the documents sharing
the template's styles, numbering definitions, settings, fonts and theme: documents whose shared
parts differ are never merged together (:func:`parse_docx` gives each a fingerprint).

The library path is one LibreOffice call per document (``UnoserverPool.to_pdfs`` takes it when
``signing.fast.enabled()`` is False). docxcompose, the DOCX merging library, cannot serve here: it
appends documents into one flow, with no mark of where each begins for the split, page numbers
running on across documents instead of restarting, and page totals (NUMPAGES) counting the whole
merged file.

Measured share of the bulk time (``bench/fast_documents.py``, 100 berita acara on one server, CPU of
LibreOffice's processes from /proc plus the service's, best of two runs): 23 ms per document
merged, merge and split included, against 177 ms one call per document. The saving, ~155 ms per
document, is over three times the whole bulk run's CPU per document (45 ms, all processes,
bench/bulk.py). bench/convert_many.py measures it by batch size and number of servers.

What is handled (documents *k* > 0 are appended to document 0's package):

- sections: each document's final ``w:sectPr`` moves into its last paragraph, so the document
  ends its own section; the first section of each document starts on a new page and restarts
  page numbering at 1 (unless the template sets its own start);
- headers, footers, images, hyperlinks, embedded objects: every part a document references is
  copied under a new name with a new relationship id (identical media is stored once); a section
  that has no header or footer of a kind gets an empty one where it would otherwise inherit its
  predecessor's (Word semantics), since in its own file it has none;
- numbered lists: each numbering instance a document uses (directly or through a paragraph style)
  gets a fresh ``w:num`` that restarts every level, so lists do not continue across documents;
- footnotes: appended to the shared part with new ids;
- bookmarks (names get a per-document suffix, references in hyperlinks and REF/PAGEREF/NOTEREF
  fields follow), bookmark ids and drawing ``wp:docPr`` ids are made unique;
- the start of every document is marked with an empty bookmark named :func:`start_bookmark`,
  which LibreOffice exports as a PDF named destination on that document's first page. It adds no
  text and takes no space;
- page totals ("Halaman X dari Y" with a NUMPAGES field, plain or ``\\* MERGEFORMAT``/``Arabic``)
  would count the whole file: given each document's page count (from a first merged
  conversion), :func:`merge_docx` writes it in place of the field, in the field's formatting.

Documents are refused (:class:`NotMergeable`; the caller converts them one by one) when they hold
something whose result would depend on the neighbouring documents: other fields that are not
page-local (SECTIONPAGES, NUMPAGES with another number format, SEQ, TOC, NUMWORDS, DOCPROPERTY,
...), comments, or anything this module cannot read.

Also refused: endnotes (they would gather at the end of the merged file), odd/even page section
breaks and the settings evenAndOddHeaders, mirrorMargins and bookFoldPrinting (a restarted page
number on a page of the other parity may make LibreOffice insert a blank page). Documents whose
core properties (PDF title, author) differ are not merged together either.
"""

from __future__ import annotations

import copy
import hashlib
import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from lxml import etree

__all__ = ["NotMergeable", "ParsedDocx", "merge_docx", "parse_docx", "start_bookmark"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
O = "urn:schemas-microsoft-com:office:office"  # noqa: E741 (VML's o:relid)
_REL_BASE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_OFFICE_DOCUMENT = _REL_BASE + "officeDocument"
_HEADER = _REL_BASE + "header"
_FOOTER = _REL_BASE + "footer"
_FOOTNOTES = _REL_BASE + "footnotes"
_ENDNOTES = _REL_BASE + "endnotes"
_NUMBERING = _REL_BASE + "numbering"
_STYLES = _REL_BASE + "styles"
_CORE_PROPERTIES = (
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
)
_SETTINGS = _REL_BASE + "settings"
_HEADER_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"
_FOOTER_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"

# Parts every document of a template shares; the merged file keeps document 0's copy.
_SHARED_TYPES = frozenset(
    {
        _STYLES,
        _NUMBERING,
        _SETTINGS,
        _REL_BASE + "webSettings",
        _REL_BASE + "fontTable",
        _REL_BASE + "theme",
        _REL_BASE + "customXml",
        "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects",
        "http://schemas.microsoft.com/office/2011/relationships/people",
        _REL_BASE + "glossaryDocument",
    }
)
# Parts whose content is merged entry by entry rather than copied.
_NOTE_TYPES = {_FOOTNOTES: "footnote", _ENDNOTES: "endnote"}
# Settings under which a page's number decides its layout (left/right pages): restarting page
# numbers on a page of the other parity may make LibreOffice insert blank pages.
_PARITY_SETTINGS = ("evenAndOddHeaders", "mirrorMargins", "bookFoldPrinting")

# Fields whose result depends only on the page they are on, the document's own text, or nothing:
# the same in the merged file as in the document's own file. NUMPAGES and friends count the
# whole file and are not here: such documents are converted one by one.
_PAGE_LOCAL_FIELDS = frozenset(
    {
        "PAGE",
        "DATE",
        "TIME",
        "CREATEDATE",
        "SAVEDATE",
        "PRINTDATE",
        "HYPERLINK",
        "REF",
        "PAGEREF",
        "NOTEREF",
        "SYMBOL",
        "MERGEFIELD",
        "QUOTE",
        "EQ",
        "FORMTEXT",
        "FORMCHECKBOX",
        "FORMDROPDOWN",
    }
)
# A page total we can write in ourselves once the document's page count is known.
_PAGE_TOTAL_RE = re.compile(r"\s*NUMPAGES(\s+\\\*\s*(MERGEFORMAT|Arabic))*\s*", re.IGNORECASE)
_BOOKMARK_FIELD_RE = re.compile(r"^(\s*(?:REF|PAGEREF|NOTEREF)\s+)(\S+)", re.IGNORECASE)
_HDR_FTR_KINDS = ("headerReference", "footerReference")
_HDR_FTR_TYPES = ("default", "first", "even")
_PPR_BEFORE_NUMPR = {
    f"{{{W}}}{n}"
    for n in ("pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl")
}


def _w(name: str) -> str:
    return f"{{{W}}}{name}"


_W_VAL = _w("val")
_W_ID = _w("id")
_W_NAME = _w("name")
_W_TYPE = _w("type")
_DOCPR = f"{{{WP}}}docPr"
_NS = {"w": W, "o": O}
# Section breaks inside a document: paragraph-level w:sectPr (body paragraphs, maybe in an sdt).
_SECTION_BREAKS = etree.XPath(
    "./w:p/w:pPr/w:sectPr | ./w:sdt/w:sdtContent/w:p/w:pPr/w:sectPr", namespaces=_NS
)
_NUMBERED_CANDIDATES = etree.XPath(".//w:pPr[w:numPr or w:pStyle]", namespaces=_NS)
_FLD_CHAR = _w("fldChar")
_INSTR_TEXT = _w("instrText")
# Elements that may sit between a field's runs without being part of its text.
_RANGE_MARKS = frozenset(
    _w(n) for n in ("bookmarkStart", "bookmarkEnd", "proofErr", "permStart", "permEnd")
)
_BOOKMARK_START = _w("bookmarkStart")
_BOOKMARK_END = _w("bookmarkEnd")
# The attributes that hold a relationship id (r:id, r:embed, r:link, o:relid, ...), in document
# order. Selected themselves rather than the elements that carry them (then read attribute by
# attribute): 120 against 240 us on a berita acara's body, ~0.12 ms of each merged document.
_REFERENCES = etree.XPath(
    f"descendant-or-self::*/@*[namespace-uri()='{R}'] | descendant-or-self::*/@o:relid",
    namespaces=_NS,
)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class NotMergeable(Exception):
    """This document cannot be merged with others; convert it on its own."""


def start_bookmark(index: int) -> str:
    """The name of the bookmark that marks where document ``index`` of a merged file starts."""
    # Letters and digits only: LibreOffice escapes other characters in destination names.
    return f"docgenbatch{index:05d}"


@dataclass(frozen=True)
class _Rel:
    type: str
    target: str  # a part name (no leading slash) or, when external, the target as written
    external: bool


@dataclass
class _ContentTypes:
    defaults: dict[str, str]  # extension (lower case) -> content type
    overrides: dict[str, str]  # part name (no leading slash) -> content type

    def of(self, part: str) -> str | None:
        if part in self.overrides:
            return self.overrides[part]
        return self.defaults.get(posixpath.splitext(part)[1][1:].lower())


class _Package(Mapping[str, bytes]):
    """A DOCX's files by name, each read from the archive when first asked for."""

    def __init__(self, docx: bytes) -> None:
        self._archive = zipfile.ZipFile(io.BytesIO(docx))
        self._infos = {info.filename: info for info in self._archive.infolist()}
        self._read: dict[str, bytes] = {}

    def __getitem__(self, name: str) -> bytes:
        if name not in self._read:
            try:
                self._read[name] = self._archive.read(self._infos[name])
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise NotMergeable(f"cannot read {name}: {exc}") from exc
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def checksum(self, name: str) -> bytes:
        """CRC-32 and size from the archive's directory: tells shared parts apart unread."""
        info = self._infos[name]
        return f"{info.CRC:08x}:{info.file_size}".encode()


@dataclass
class ParsedDocx:
    """A DOCX read far enough to merge it: its files, main part tree and relationships."""

    files: _Package
    content_types: _ContentTypes
    main_part: str
    document: etree._Element
    rels: dict[str, _Rel]
    # Documents with equal fingerprints share styles, numbering, settings, fonts and theme.
    fingerprint: str
    # It shows its page total (NUMPAGES): merge_docx must be told each document's page count.
    page_totals: bool


def parse_docx(docx: bytes) -> ParsedDocx:
    """Read ``docx`` for merging.

    Raises NotMergeable if it is not a readable DOCX or holds something whose rendering would
    depend on the documents around it (see the module docstring).
    """
    try:
        files = _Package(docx)
        content_types = _read_content_types(files)
        package_rels = _read_rels(files, "")
        main = next((r for r in package_rels.values() if r.type == _OFFICE_DOCUMENT), None)
        if main is None or main.external or main.target not in files:
            raise NotMergeable("no main document part")
        document = etree.fromstring(files[main.target], _PARSER)
        rels = _read_rels(files, main.target)
    except (zipfile.BadZipFile, etree.XMLSyntaxError, KeyError, ValueError, OSError) as exc:
        raise NotMergeable(f"not a readable DOCX: {exc}") from exc
    if document.tag != _w("document") or document.find(_w("body")) is None:
        raise NotMergeable("the main part is not a WordprocessingML document")
    body = document.find(_w("body"))
    assert body is not None
    if len(body) == 0 or body[-1].tag != _w("sectPr"):
        raise NotMergeable("the document has no final section properties")
    if body.find(f".//{_w('p')}") is None:
        raise NotMergeable("the document has no paragraph")
    if body.find(f".//{_w('commentReference')}") is not None:
        raise NotMergeable("comments are not merged")
    if body.find(f".//{_w('endnoteReference')}") is not None:
        raise NotMergeable("endnotes would gather at the end of the merged file")
    for section_type in body.iter(_W_TYPE):
        if section_type.getparent().tag == _w("sectPr") and section_type.get(_W_VAL) in (
            "oddPage",
            "evenPage",
        ):
            raise NotMergeable("odd/even page section breaks may add blank pages when merged")
    page_totals = _check_fields(document)
    for rel in rels.values():
        if rel.type in (_HEADER, _FOOTER, *_NOTE_TYPES) and not rel.external:
            try:
                page_totals |= _check_fields(etree.fromstring(files[rel.target], _PARSER))
            except (etree.XMLSyntaxError, KeyError) as exc:
                raise NotMergeable(f"unreadable part {rel.target}: {exc}") from exc

    digest = hashlib.sha256()
    # The PDF's title, author, subject and keywords come from the core properties, which
    # docxtpl renders too: documents merge only with documents that have the same ones.
    for rel in package_rels.values():
        if rel.type == _CORE_PROPERTIES and rel.target in files:
            digest.update(b"core\0" + files.checksum(rel.target) + b"\0")
    for rel in sorted(rels.values(), key=lambda r: (r.type, r.target)):
        if rel.type in _SHARED_TYPES and not rel.external:
            checksum = files.checksum(rel.target) if rel.target in files else b"-"
            digest.update(rel.type.encode() + b"\0" + checksum + b"\0")
        elif rel.type in _NOTE_TYPES:
            digest.update(rel.type.encode() + b"\0")
    return ParsedDocx(
        files=files,
        content_types=content_types,
        main_part=main.target,
        document=document,
        rels=rels,
        fingerprint=digest.hexdigest(),
        page_totals=page_totals,
    )


def merge_docx(documents: Sequence[ParsedDocx], page_totals: Sequence[int] | None = None) -> bytes:
    """One DOCX holding ``documents`` in order, each in its own sections, starting a new page.

    The documents must share a fingerprint; they are consumed (their trees are moved into the
    result). Document ``i`` starts with the bookmark :func:`start_bookmark` ``(i)``.

    NUMPAGES fields would count the whole merged file. With ``page_totals`` (document ``i``
    has ``page_totals[i]`` pages, as a first merged conversion shows) they are replaced by those
    numbers; without it they are left as they are, which is only good for counting pages.

    Raises NotMergeable for documents that do not share the template's shared parts, or a
    NUMPAGES field this module cannot replace.
    """
    if not documents:
        raise ValueError("nothing to merge")
    if len({d.fingerprint for d in documents}) != 1:
        raise NotMergeable("the documents do not come from one template")
    if page_totals is not None and len(page_totals) != len(documents):
        raise ValueError("one page total per document")
    return _Merger(documents[0], page_totals).merge(documents)


# --- package helpers ------------------------------------------------------------------------


def _read_content_types(files: Mapping[str, bytes]) -> _ContentTypes:
    root = etree.fromstring(files["[Content_Types].xml"], _PARSER)
    defaults = {
        el.get("Extension", "").lower(): el.get("ContentType", "")
        for el in root.iter(f"{{{CT}}}Default")
    }
    overrides = {
        el.get("PartName", "").lstrip("/"): el.get("ContentType", "")
        for el in root.iter(f"{{{CT}}}Override")
    }
    return _ContentTypes(defaults, overrides)


def _rels_name(part: str) -> str:
    directory, name = posixpath.split(part)
    return posixpath.join(directory, "_rels", f"{name}.rels")


def _read_rels(files: Mapping[str, bytes], part: str) -> dict[str, _Rel]:
    """The relationships of ``part`` ("" for the package), targets resolved to part names."""
    data = files.get(_rels_name(part) if part else "_rels/.rels")
    if data is None:
        return {}
    base = posixpath.dirname(part)
    rels: dict[str, _Rel] = {}
    for el in etree.fromstring(data, _PARSER).iter(f"{{{PKG_REL}}}Relationship"):
        target = el.get("Target", "")
        external = el.get("TargetMode") == "External"
        if not external:
            target = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(base, target))
            )
        rels[el.get("Id", "")] = _Rel(el.get("Type", ""), target, external)
    return rels


def _write_rels(rels: dict[str, _Rel], part: str) -> bytes:
    root = etree.Element(f"{{{PKG_REL}}}Relationships", nsmap={None: PKG_REL})
    base = posixpath.dirname(part)
    for rid, rel in rels.items():
        target = rel.target if rel.external else posixpath.relpath(rel.target, base or ".")
        attrs = {"Id": rid, "Type": rel.type, "Target": target}
        if rel.external:
            attrs["TargetMode"] = "External"
        etree.SubElement(root, f"{{{PKG_REL}}}Relationship", attrs)
    return _serialize(root)


def _serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


@dataclass
class _ComplexField:
    begin: etree._Element  # the w:fldChar elements
    separate: etree._Element | None
    end: etree._Element
    instructions: list[etree._Element]  # w:instrText


def _complex_fields(root: etree._Element) -> Iterator[_ComplexField]:
    """Each complete ``w:fldChar`` field in ``root``, inner fields before outer ones."""
    stack: list[tuple[etree._Element, etree._Element | None, list[etree._Element]]] = []
    for el in root.iter(_FLD_CHAR, _INSTR_TEXT):
        if el.tag == _INSTR_TEXT:
            if stack and stack[-1][1] is None:
                stack[-1][2].append(el)
            continue
        kind = el.get(_w("fldCharType"))
        if kind == "begin":
            stack.append((el, None, []))
        elif kind == "separate" and stack:
            begin, _, texts = stack.pop()
            stack.append((begin, el, texts))
        elif kind == "end" and stack:
            begin, separate, texts = stack.pop()
            yield _ComplexField(begin, separate, el, texts)


def _field_instructions(
    root: etree._Element,
) -> Iterator[tuple[etree._Element | None, list[etree._Element], str]]:
    """Each field in ``root``: (its ``w:fldSimple`` or None, its ``w:instrText``s, instruction)."""
    for el in root.iter(_w("fldSimple")):
        yield el, [], el.get(_w("instr"), "")
    for found in _complex_fields(root):
        texts = found.instructions
        yield None, texts, "".join(t.text or "" for t in texts)


def _check_fields(root: etree._Element) -> bool:
    """Whether ``root`` has page total (NUMPAGES) fields; raises NotMergeable for fields that
    depend on the whole file in another way."""
    page_totals = False
    for _, _, instruction in _field_instructions(root):
        words = instruction.split()
        if not words or words[0].upper() in _PAGE_LOCAL_FIELDS:
            continue
        if not _PAGE_TOTAL_RE.fullmatch(instruction):
            raise NotMergeable(f"field {words[0]} depends on the whole file")
        page_totals = True
    return page_totals


def _freeze_page_totals(root: etree._Element, total: int) -> None:
    """Replace every NUMPAGES field in ``root`` with its value, ``total``, as plain text in the
    field result's formatting (what LibreOffice would show in the document's own file).

    Raises NotMergeable for a field whose runs are not simple siblings in one paragraph.
    """
    for simple in list(root.iter(_w("fldSimple"))):
        if _PAGE_TOTAL_RE.fullmatch(simple.get(_w("instr"), "")):
            runs = simple.findall(_w("r"))
            if not runs:
                runs = [etree.Element(_w("r"))]
            _set_run_text(runs[0], str(total))
            simple.addprevious(runs[0])
            simple.getparent().remove(simple)
    for found in list(_complex_fields(root)):
        instruction = "".join(t.text or "" for t in found.instructions)
        if not _PAGE_TOTAL_RE.fullmatch(instruction):
            continue
        first, last = found.begin.getparent(), found.end.getparent()
        if first is None or last is None or first.getparent() is not last.getparent():
            raise NotMergeable("a NUMPAGES field spans paragraphs")
        runs = [first]
        while runs[-1] is not last:
            following = runs[-1].getnext()
            if following is None:
                raise NotMergeable("a NUMPAGES field is not a run of siblings")
            runs.append(following)
        separate_run = found.separate.getparent() if found.separate is not None else None
        parent = first.getparent()
        position = parent.index(first)
        in_result = False
        result: etree._Element | None = None
        for run in runs:
            if run is separate_run:
                in_result = True
            elif in_result and run is not last and run.tag == _w("r") and result is None:
                result = run  # the first run of the shown value keeps its formatting
                continue
            if run.tag == _w("r"):
                parent.remove(run)
            elif run.tag not in _RANGE_MARKS:
                raise NotMergeable(f"a NUMPAGES field holds {etree.QName(run).localname}")
        if result is None:
            result = etree.Element(_w("r"))
            formatting = first.find(_w("rPr"))
            if formatting is not None:
                result.append(copy.deepcopy(formatting))
            parent.insert(position, result)
        _set_run_text(result, str(total))


def _set_run_text(run: etree._Element, text: str) -> None:
    """Keep the run's formatting (w:rPr), make its content ``text``."""
    for child in list(run):
        if child.tag != _w("rPr"):
            run.remove(child)
    t = etree.SubElement(run, _w("t"))
    t.text = text


# --- the merge ------------------------------------------------------------------------------


@dataclass
class _Notes:
    """The merged footnotes or endnotes part."""

    part: str
    root: etree._Element
    rels: dict[str, _Rel]
    next_id: int


@dataclass
class _Import:
    """The state of importing one document into the merged package."""

    doc: ParsedDocx
    index: int
    bookmark_offset: int
    copied: dict[str, str] = field(default_factory=dict)  # its part name -> merged part name
    highest_bookmark: int = -1

    @property
    def suffix(self) -> str:
        return f"_{self.index}"


class _Merger:
    def __init__(self, base: ParsedDocx, page_totals: Sequence[int] | None) -> None:
        self.base = base
        self.page_totals = page_totals
        self.files = dict(base.files)
        self.content_types = _ContentTypes(
            dict(base.content_types.defaults), dict(base.content_types.overrides)
        )
        self.rels = dict(base.rels)
        self.numbering: etree._Element | None = None
        self.numbering_part: str | None = None
        self.next_num_id = 1
        self.style_numbering: dict[str, tuple[str, str]] = {}
        self.notes: dict[str, _Notes] = {}
        self.media: dict[tuple[str, str], str] = {}
        self.empty_parts: dict[str, str] = {}
        self.rel_counter = 0
        for rel in base.rels.values():
            if rel.external:
                continue
            if rel.type == _NUMBERING:
                self.numbering_part = rel.target
                self.numbering = etree.fromstring(base.files[rel.target], _PARSER)
                ids = [int(n.get(_w("numId"), "0")) for n in self.numbering.iter(_w("num"))]
                self.next_num_id = max(ids, default=0) + 1
            elif rel.type == _STYLES:
                styles = etree.fromstring(base.files[rel.target], _PARSER)
                self.style_numbering = _style_numbering(styles)
            elif rel.type == _SETTINGS:
                settings = etree.fromstring(base.files[rel.target], _PARSER)
                for name in _PARITY_SETTINGS:
                    value = settings.find(_w(name))
                    if value is not None and value.get(_W_VAL, "true") not in ("0", "false"):
                        raise NotMergeable(f"{name}: pages would change sides when merged")
            elif rel.type in _NOTE_TYPES:
                root = etree.fromstring(base.files[rel.target], _PARSER)
                ids = [int(n.get(_W_ID, "0")) for n in root]
                own_rels = _read_rels(base.files, rel.target)
                self.notes[rel.type] = _Notes(rel.target, root, own_rels, max(ids, default=0) + 1)
            else:
                content_type = base.content_types.of(rel.target)
                if content_type and not content_type.endswith("xml") and rel.target in base.files:
                    key = (content_type, hashlib.sha256(base.files[rel.target]).hexdigest())
                    self.media[key] = rel.target
        ids = [int(b.get(_W_ID, "0")) for b in base.document.iter(_w("bookmarkStart"))]
        self.next_bookmark_id = max(ids, default=0) + 1
        ids = [int(d.get("id", "0")) for d in base.document.iter(f"{{{WP}}}docPr")]
        self.next_docpr_id = max(ids, default=0) + 1

    def merge(self, documents: Sequence[ParsedDocx]) -> bytes:
        body = _body(self.base)
        final_sect_pr = body[-1]
        # Header/footer in force per (kind, type) at the end of the previous document.
        in_force: dict[tuple[str, str], str] = {}
        if self.page_totals is not None and documents[0].page_totals:
            self._freeze_base_headers(self.page_totals[0])
        for index, doc in enumerate(documents):
            own_body = _body(doc)
            if self.page_totals is not None and doc.page_totals:
                _freeze_page_totals(own_body, self.page_totals[index])
            if index:
                self._import_document(own_body, _Import(doc, index, self.next_bookmark_id))
            content = list(own_body)
            last_sect_pr = content.pop()
            own_body.remove(last_sect_pr)
            sections = _SECTION_BREAKS(own_body)
            if index:
                body.extend(content)
            if index:
                self._start_document(sections[0] if sections else last_sect_pr, in_force)
            for sect_pr in [*sections, last_sect_pr]:
                for kind in _HDR_FTR_KINDS:
                    for ref in sect_pr.findall(_w(kind)):
                        in_force[(kind, ref.get(_W_TYPE, "default"))] = ref.get(f"{{{R}}}id", "")
            _mark_start(content, start_bookmark(index), self.next_bookmark_id)
            self.next_bookmark_id += 1
            if index < len(documents) - 1:
                _end_section(body, content, last_sect_pr)
            else:
                final_sect_pr = last_sect_pr
        body.append(final_sect_pr)
        return self._write()

    def _freeze_base_headers(self, total: int) -> None:
        """Document 0's page totals in the header, footer and note parts it shares with none."""
        for rel in self.base.rels.values():
            if rel.external or rel.type not in (_HEADER, _FOOTER, *_NOTE_TYPES):
                continue
            if rel.type in self.notes:
                _freeze_page_totals(self.notes[rel.type].root, total)
                continue
            root = etree.fromstring(self.files[rel.target], _PARSER)
            _freeze_page_totals(root, total)
            self.files[rel.target] = _serialize(root)

    def _start_document(
        self, sect_pr: etree._Element, in_force: dict[tuple[str, str], str]
    ) -> None:
        """A document's first section: a new page, page numbers from 1, no inherited headers."""
        kind_el = sect_pr.find(_W_TYPE)
        if kind_el is None:
            kind_el = etree.SubElement(sect_pr, _W_TYPE)
        kind_el.set(_W_VAL, "nextPage")
        page_numbers = sect_pr.find(_w("pgNumType"))
        if page_numbers is None:
            page_numbers = etree.SubElement(sect_pr, _w("pgNumType"))
        if page_numbers.get(_w("start")) is None:
            page_numbers.set(_w("start"), "1")
        for kind in _HDR_FTR_KINDS:
            present = {ref.get(_W_TYPE, "default") for ref in sect_pr.findall(_w(kind))}
            for hf_type in _HDR_FTR_TYPES:
                if hf_type not in present and in_force.get((kind, hf_type)):
                    ref = etree.SubElement(sect_pr, _w(kind))
                    ref.set(_W_TYPE, hf_type)
                    ref.set(f"{{{R}}}id", self._empty_part(kind))
        _order_sect_pr(sect_pr)

    def _empty_part(self, kind: str) -> str:
        if kind not in self.empty_parts:
            header = kind == "headerReference"
            tag = "hdr" if header else "ftr"
            part = self._unique_name(f"word/docgen-empty-{tag}.xml")
            root = etree.Element(_w(tag), nsmap={"w": W})
            etree.SubElement(root, _w("p"))
            self.files[part] = _serialize(root)
            self.content_types.overrides[part] = _HEADER_CT if header else _FOOTER_CT
            self.empty_parts[kind] = self._add_rel(self.rels, _HEADER if header else _FOOTER, part)
        return self.empty_parts[kind]

    def _import_document(self, body: etree._Element, state: _Import) -> None:
        """Make a document's body valid in the merged main part."""
        self._rebind(body, state, state.doc.rels, self.rels, {})
        self._renumber_lists(body)
        self._import_notes(body, state)
        self.next_bookmark_id = max(self.next_bookmark_id, state.highest_bookmark + 1)

    def _rebind(
        self,
        root: etree._Element,
        state: _Import,
        rels: dict[str, _Rel],
        target_rels: dict[str, _Rel],
        mapping: dict[str, str],
    ) -> None:
        """Point ``root``'s relationship ids at ``target_rels``; make its ids unique."""
        for attribute in _REFERENCES(root):
            rid = str(attribute)
            if rid not in mapping:
                rel = rels.get(rid)
                if rel is None:
                    continue  # dangling in its own file too
                mapping[rid] = self._import_rel(rel, state, target_rels)
            attribute.getparent().set(attribute.attrname, mapping[rid])
        for el in root.iter(_BOOKMARK_START, _BOOKMARK_END):
            new_id = int(el.get(_W_ID, "0")) + state.bookmark_offset
            el.set(_W_ID, str(new_id))
            state.highest_bookmark = max(state.highest_bookmark, new_id)
            if el.tag == _BOOKMARK_START:
                el.set(_W_NAME, el.get(_W_NAME, "") + state.suffix)
        for el in root.iter(_w("hyperlink")):
            if el.get(_w("anchor")):
                el.set(_w("anchor"), el.get(_w("anchor"), "") + state.suffix)
        for el in root.iter(_DOCPR):
            el.set("id", str(self.next_docpr_id))
            self.next_docpr_id += 1
        for simple, texts, instruction in _field_instructions(root):
            match = _BOOKMARK_FIELD_RE.match(instruction)
            if match is None:
                continue
            if simple is not None:
                simple.set(_w("instr"), _insert(instruction, match.end(2), state.suffix))
                continue
            offset = 0
            for text in texts:
                value = text.text or ""
                if offset < match.end(2) <= offset + len(value):
                    text.text = _insert(value, match.end(2) - offset, state.suffix)
                    break
                offset += len(value)

    def _import_rel(self, rel: _Rel, state: _Import, target_rels: dict[str, _Rel]) -> str:
        if rel.external:
            return self._add_rel(target_rels, rel.type, rel.target, external=True)
        if rel.type in _SHARED_TYPES or rel.type in _NOTE_TYPES:
            for rid, own in self.rels.items():
                if own.type == rel.type:
                    return rid
            raise NotMergeable(f"no shared {rel.type} part")
        if rel.target not in state.copied:
            state.copied[rel.target] = self._copy_part(rel.target, state)
        return self._add_rel(target_rels, rel.type, state.copied[rel.target])

    def _copy_part(self, part: str, state: _Import) -> str:
        doc = state.doc
        if part not in doc.files:
            raise NotMergeable(f"missing part {part}")
        content_type = doc.content_types.of(part)
        if content_type is None:
            raise NotMergeable(f"no content type for {part}")
        blob = doc.files[part]
        own_rels = _read_rels(doc.files, part)
        is_xml = content_type.endswith("xml")
        if not own_rels and not is_xml:
            key = (content_type, hashlib.sha256(blob).hexdigest())
            if key not in self.media:
                self.media[key] = self._add_part(_suffixed(part, state.index), blob, content_type)
            return self.media[key]
        if not is_xml:
            raise NotMergeable(f"cannot copy {part} with its relationships")
        try:
            root = etree.fromstring(blob, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise NotMergeable(f"unreadable part {part}: {exc}") from exc
        name = self._unique_name(_suffixed(part, state.index))
        self.files[name] = b""  # reserve the name while its own parts are copied
        new_rels: dict[str, _Rel] = {}
        self._rebind(root, state, own_rels, new_rels, {})
        self._renumber_lists(root)
        if self.page_totals is not None and state.doc.page_totals:
            _freeze_page_totals(root, self.page_totals[state.index])
        if new_rels:
            self.files[_rels_name(name)] = _write_rels(new_rels, name)
        return self._add_part(name, _serialize(root), content_type)

    def _add_part(self, part: str, blob: bytes, content_type: str) -> str:
        name = part if self.files.get(part) == b"" else self._unique_name(part)
        self.files[name] = blob
        extension = posixpath.splitext(name)[1][1:].lower()
        if self.content_types.defaults.get(extension) != content_type:
            self.content_types.overrides[name] = content_type
        return name

    def _unique_name(self, part: str) -> str:
        stem, extension = posixpath.splitext(part)
        candidate, n = part, 1
        while candidate in self.files or _rels_name(candidate) in self.files:
            candidate = f"{stem}-{n}{extension}"
            n += 1
        return candidate

    def _add_rel(
        self, rels: dict[str, _Rel], rel_type: str, target: str, *, external: bool = False
    ) -> str:
        while True:
            self.rel_counter += 1
            rid = f"rIdM{self.rel_counter}"
            if rid not in rels:
                break
        rels[rid] = _Rel(rel_type, target, external)
        return rid

    def _renumber_lists(self, root: etree._Element) -> None:
        """Give each list instance in ``root`` a fresh numbering instance that restarts."""
        if self.numbering is None:
            return
        fresh: dict[str, str] = {}
        for p_pr in _NUMBERED_CANDIDATES(root):
            num_pr = p_pr.find(_w("numPr"))
            if num_pr is None:
                style = p_pr.find(_w("pStyle"))
                if style is None or style.get(_W_VAL, "") not in self.style_numbering:
                    continue
                num_id, ilvl = self.style_numbering[style.get(_W_VAL, "")]
                num_pr = etree.Element(_w("numPr"))
                etree.SubElement(num_pr, _w("ilvl")).set(_W_VAL, ilvl)
                etree.SubElement(num_pr, _w("numId")).set(_W_VAL, num_id)
                p_pr.insert(sum(1 for c in p_pr if c.tag in _PPR_BEFORE_NUMPR), num_pr)
            num_id_el = num_pr.find(_w("numId"))
            if num_id_el is None or num_id_el.get(_W_VAL, "0") == "0":
                continue
            old = num_id_el.get(_W_VAL, "0")
            if old not in fresh:
                fresh[old] = self._restarted_num(old)
            num_id_el.set(_W_VAL, fresh[old])

    def _restarted_num(self, num_id: str) -> str:
        """A copy of numbering instance ``num_id`` whose every level starts afresh."""
        assert self.numbering is not None
        nums = {n.get(_w("numId")): n for n in self.numbering.iter(_w("num"))}
        num = nums.get(num_id)
        if num is None:
            return num_id  # undefined: LibreOffice ignores it in every document alike
        abstract_ref = num.find(_w("abstractNumId"))
        abstract_id = abstract_ref.get(_W_VAL) if abstract_ref is not None else None
        starts: dict[str, str] = {}
        for abstract in self.numbering.iter(_w("abstractNum")):
            if abstract.get(_w("abstractNumId")) == abstract_id:
                for lvl in abstract.findall(_w("lvl")):
                    start = lvl.find(_w("start"))
                    starts[lvl.get(_w("ilvl"), "0")] = (
                        start.get(_W_VAL, "1") if start is not None else "1"
                    )
        new = copy.deepcopy(num)
        new_id = str(self.next_num_id)
        self.next_num_id += 1
        new.set(_w("numId"), new_id)
        overrides = {o.get(_w("ilvl"), "0"): o for o in new.findall(_w("lvlOverride"))}
        for level in (str(n) for n in range(9)):
            override = overrides.get(level)
            if override is None:
                override = etree.SubElement(new, _w("lvlOverride"))
                override.set(_w("ilvl"), level)
            if override.find(_w("startOverride")) is None:
                start_override = etree.Element(_w("startOverride"))
                start_override.set(_W_VAL, starts.get(level, "1"))
                override.insert(0, start_override)
        self.numbering.append(new)  # w:num elements follow every w:abstractNum
        return new_id

    def _import_notes(self, body: etree._Element, state: _Import) -> None:
        doc = state.doc
        for rel_type, kind in _NOTE_TYPES.items():
            references = list(body.iter(_w(f"{kind}Reference")))
            if not references:
                continue
            merged = self.notes.get(rel_type)
            own = next((r for r in doc.rels.values() if r.type == rel_type), None)
            if merged is None or own is None or own.external:
                raise NotMergeable(f"{kind}s without a {kind}s part")
            notes = {n.get(_W_ID): n for n in etree.fromstring(doc.files[own.target], _PARSER)}
            own_rels = _read_rels(doc.files, own.target)
            mapping: dict[str, str] = {}
            for ref in references:
                note = notes.get(ref.get(_W_ID))
                if note is None:
                    continue
                new_id = str(merged.next_id)
                merged.next_id += 1
                note.set(_W_ID, new_id)
                ref.set(_W_ID, new_id)
                self._rebind(note, state, own_rels, merged.rels, mapping)
                self._renumber_lists(note)
                if self.page_totals is not None and doc.page_totals:
                    _freeze_page_totals(note, self.page_totals[state.index])
                merged.root.append(note)

    def _write(self) -> bytes:
        files = self.files
        files[self.base.main_part] = _serialize(self.base.document)
        files[_rels_name(self.base.main_part)] = _write_rels(self.rels, self.base.main_part)
        if self.numbering is not None and self.numbering_part is not None:
            files[self.numbering_part] = _serialize(self.numbering)
        for notes in self.notes.values():
            files[notes.part] = _serialize(notes.root)
            if notes.rels:
                files[_rels_name(notes.part)] = _write_rels(notes.rels, notes.part)
        types = etree.Element(f"{{{CT}}}Types", nsmap={None: CT})
        for extension, content_type in sorted(self.content_types.defaults.items()):
            etree.SubElement(
                types, f"{{{CT}}}Default", {"Extension": extension, "ContentType": content_type}
            )
        for part, content_type in sorted(self.content_types.overrides.items()):
            if part in files:
                attrs = {"PartName": f"/{part}", "ContentType": content_type}
                etree.SubElement(types, f"{{{CT}}}Override", attrs)
        files["[Content_Types].xml"] = _serialize(types)
        out = io.BytesIO()
        # Stored, not deflated: LibreOffice reads it once, right away, on this machine.
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("[Content_Types].xml", files.pop("[Content_Types].xml"))
            for name, data in files.items():
                archive.writestr(name, data)
        return out.getvalue()


def _body(doc: ParsedDocx) -> etree._Element:
    body = doc.document.find(_w("body"))
    assert body is not None  # parse_docx checked
    return body


def _insert(text: str, position: int, addition: str) -> str:
    return text[:position] + addition + text[position:]


def _suffixed(part: str, index: int) -> str:
    stem, extension = posixpath.splitext(part)
    return f"{stem}-d{index}{extension}"


def _style_numbering(styles: etree._Element) -> dict[str, tuple[str, str]]:
    """Paragraph style id -> (numId, ilvl) for styles that number their paragraphs."""
    own: dict[str, tuple[str | None, str | None]] = {}
    based_on: dict[str, str] = {}
    for style in styles.iter(_w("style")):
        if style.get(_W_TYPE) != "paragraph":
            continue
        style_id = style.get(_w("styleId"), "")
        parent = style.find(_w("basedOn"))
        if parent is not None:
            based_on[style_id] = parent.get(_W_VAL, "")
        num_pr = style.find(f"{_w('pPr')}/{_w('numPr')}")
        if num_pr is not None:
            num_el = num_pr.find(_w("numId"))
            ilvl_el = num_pr.find(_w("ilvl"))
            own[style_id] = (
                num_el.get(_W_VAL) if num_el is not None else None,
                ilvl_el.get(_W_VAL) if ilvl_el is not None else None,
            )
    result: dict[str, tuple[str, str]] = {}
    for style_id in {*own, *based_on}:
        num_id: str | None = None
        ilvl: str | None = None
        seen: set[str] = set()
        current: str | None = style_id
        while current and current not in seen and (num_id is None or ilvl is None):
            seen.add(current)
            found = own.get(current, (None, None))
            num_id = num_id if num_id is not None else found[0]
            ilvl = ilvl if ilvl is not None else found[1]
            current = based_on.get(current)
        if num_id and num_id != "0":
            result[style_id] = (num_id, ilvl or "0")
    return result


def _mark_start(content: Sequence[etree._Element], name: str, bookmark_id: int) -> None:
    """An empty bookmark at the start of the document's first paragraph."""
    paragraph = next(
        (p for el in content for p in el.iter(_w("p"))),
        None,
    )
    if paragraph is None:
        raise NotMergeable("the document has no paragraph")
    position = 1 if len(paragraph) and paragraph[0].tag == _w("pPr") else 0
    start = etree.Element(_w("bookmarkStart"))
    start.set(_W_ID, str(bookmark_id))
    start.set(_W_NAME, name)
    end = etree.Element(_w("bookmarkEnd"))
    end.set(_W_ID, str(bookmark_id))
    paragraph.insert(position, start)
    paragraph.insert(position + 1, end)


def _end_section(
    body: etree._Element, content: list[etree._Element], sect_pr: etree._Element
) -> None:
    """Close the document's last section at its last paragraph (a new one after a table)."""
    last = content[-1] if content else None
    if last is not None and last.tag == _w("p"):
        p_pr = last.find(_w("pPr"))
        if p_pr is None:
            p_pr = etree.Element(_w("pPr"))
            last.insert(0, p_pr)
        if p_pr.find(_w("sectPr")) is None:
            change = p_pr.find(_w("pPrChange"))
            if change is not None:
                change.addprevious(sect_pr)
            else:
                p_pr.append(sect_pr)
            return
    paragraph = etree.SubElement(body, _w("p"))
    etree.SubElement(paragraph, _w("pPr")).append(sect_pr)


_SECT_PR_ORDER = {
    _w(name): i
    for i, name in enumerate(
        (
            "headerReference",
            "footerReference",
            "footnotePr",
            "endnotePr",
            "type",
            "pgSz",
            "pgMar",
            "paperSrc",
            "pgBorders",
            "lnNumType",
            "pgNumType",
            "cols",
            "formProt",
            "vAlign",
            "noEndnote",
            "titlePg",
            "textDirection",
            "bidi",
            "rtlGutter",
            "docGrid",
            "printerSettings",
            "sectPrChange",
        )
    )
}


def _order_sect_pr(sect_pr: etree._Element) -> None:
    """Put the children of ``sect_pr`` in schema order (after we added some)."""
    children = list(sect_pr)
    ordered = sorted(children, key=lambda c: _SECT_PR_ORDER.get(c.tag, len(_SECT_PR_ORDER)))
    if ordered != children:
        for child in children:
            sect_pr.remove(child)
        sect_pr.extend(ordered)
