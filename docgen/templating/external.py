"""What in a template's DOCX names something outside it: a file or an address that LibreOffice
would load while converting (an image, another document, a template), and so put into the PDF.

Refused at upload (``checks.docx_problems``): every relationship with ``TargetMode="External"``
(or a target that is an address) in any part's ``.rels``, but a plain hyperlink; and the field
codes that read their result from a file or address (``INCLUDEPICTURE``, ``INCLUDETEXT``,
``LINK``...). The converter blocks such loads as well (``docgen.pipeline.convert``), for
templates stored before this check.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from docgen.errors import TemplateProblem

__all__ = ["external_problems"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
# Transitional and Strict OOXML name the same things in two namespaces each.
_REL_NAMESPACES = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_W_NAMESPACES = (
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
)
_A_NAMESPACES = (
    "http://schemas.openxmlformats.org/drawingml/2006/main",
    "http://purl.oclc.org/ooxml/drawingml/main",
)
# Attributes that name a relationship: r:id, r:link, r:embed... and VML's o:relid.
_REL_ATTRIBUTES = tuple(f"{{{ns}}}" for ns in _REL_NAMESPACES)
_O_RELID = "{urn:schemas-microsoft-com:office:office}relid"
_HYPERLINK_TYPES = frozenset(f"{ns}/hyperlink" for ns in _REL_NAMESPACES)
# A hyperlink is clicked in a viewer, never loaded by LibreOffice, so it may point anywhere:
# but only where it is used as a link. The same relationship named by an image (``a:blip
# r:link``) was fetched by LibreOffice 7.4 like an image's own, so a hyperlink relationship
# that any other element names is refused as well.
_LINK_ELEMENTS = frozenset(
    [f"{{{ns}}}hyperlink" for ns in _W_NAMESPACES]
    + [f"{{{ns}}}{name}" for ns in _A_NAMESPACES for name in ("hlinkClick", "hlinkHover")]
)
# Field codes whose result is read from the file or address they name (IMPORT and INCLUDE are
# the old names of INCLUDEPICTURE and INCLUDETEXT; DDE and DATABASE read other programs' data).
_LOADING_FIELDS = frozenset(
    ["INCLUDEPICTURE", "INCLUDETEXT", "LINK", "IMPORT", "INCLUDE", "DDE", "DDEAUTO", "DATABASE"]
)
_FIELD_TAGS = [
    f"{{{ns}}}{name}"
    for ns in _W_NAMESPACES
    for name in ("fldChar", "instrText", "delInstrText", "fldSimple")
]
_FIELD_NAME = re.compile(r"\s*([A-Za-z]+)")
# A target with a scheme (http:, file:, smb:...) or a network path is an address, whatever its
# TargetMode says; internal targets are part names inside the package.
_ADDRESS = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//|\\\\)")
_SHOWN_CHARS = 80
# How people read what a relationship would load (others are named by their type).
_WHAT = {
    "image": "gambar",
    "hyperlink": "tautan yang dipakai sebagai gambar",
    "attachedTemplate": "templat lampiran",
    "oleObject": "objek OLE",
    "package": "objek tertanam",
    "subDocument": "subdokumen",
    "frame": "bingkai",
    "aFChunk": "potongan dokumen",
    "audio": "suara",
    "video": "video",
}


@dataclass(frozen=True)
class _Relationship:
    rels_name: str  # the .rels part that holds it
    id: str
    type: str
    target: str


def external_problems(archive: zipfile.ZipFile) -> list[TemplateProblem]:
    """Everything in the DOCX ``archive`` that names a file or address outside it.

    Raises what lxml or zipfile raise for a part that is not XML or cannot be unpacked (the
    caller reports the file as unreadable); the archive's size must be bounded already.
    """
    names = {info.filename.lower(): info.filename for info in archive.infolist()}
    problems = [
        _problem(rel.rels_name, f"{_what(rel.type)} {rel.target}")
        for rel in _external_relationships(archive)
        if not (rel.type in _HYPERLINK_TYPES and _only_linked(archive, names, rel))
    ]
    for info in archive.infolist():
        if not info.filename.lower().endswith(".xml"):
            continue
        data = archive.read(info)
        if b"instrText" not in data and b"fldSimple" not in data:
            continue  # no field code in this part (the styles, the theme...)
        for instruction in _field_instructions(etree.fromstring(data, _PARSER)):
            found = _FIELD_NAME.match(instruction)
            if found and found[1].upper() in _LOADING_FIELDS:
                shown = " ".join(instruction.split())
                problems.append(_problem(info.filename, f"kode field {shown}"))
    return problems


def _problem(where: str, what: str) -> TemplateProblem:
    if len(what) > _SHOWN_CHARS:
        what = what[: _SHOWN_CHARS - 1] + "\u2026"
    return TemplateProblem(
        where,
        f"Templat memuat gambar atau berkas dari luar ({what}); unggah templat yang menyimpan "
        "semuanya di dalam berkas",
    )


def _what(rel_type: str) -> str:
    name = rel_type.rsplit("/", 1)[-1]
    return _WHAT.get(name, f"relasi {name}")


def _external_relationships(archive: zipfile.ZipFile) -> Iterator[_Relationship]:
    """The relationships of every ``.rels`` part (wherever it is) that leave the package."""
    for info in archive.infolist():
        if not info.filename.lower().endswith(".rels"):
            continue
        for el in etree.fromstring(archive.read(info), _PARSER).iter(_PACKAGE_RELS):
            target = (el.get("Target") or "").strip()
            mode = (el.get("TargetMode") or "").strip().lower()
            if mode == "external" or _ADDRESS.match(target):
                yield _Relationship(info.filename, el.get("Id", ""), el.get("Type", ""), target)


def _only_linked(archive: zipfile.ZipFile, names: dict[str, str], rel: _Relationship) -> bool:
    """Whether the part that owns ``rel`` names it only from hyperlink elements."""
    folder, rels_file = posixpath.split(rel.rels_name)
    source = posixpath.join(posixpath.dirname(folder), rels_file.removesuffix(".rels"))
    name = names.get(source.lower())
    if name is None:
        return True  # the package's own relationships: no part names them
    for el in etree.fromstring(archive.read(name), _PARSER).iter():
        for attribute, value in el.attrib.items():
            names_rel = attribute == _O_RELID or attribute.startswith(_REL_ATTRIBUTES)
            if names_rel and value == rel.id and el.tag not in _LINK_ELEMENTS:
                return False
    return True


def _field_instructions(root: etree._Element) -> list[str]:
    """Every field instruction of a part: simple fields' ``w:instr``, and complex fields'
    ``w:instrText`` runs joined (Word splits one instruction over several runs)."""
    instructions: list[str] = []
    open_fields: list[list[str] | None] = []  # None: its instruction is complete
    for el in root.iter(*_FIELD_TAGS):
        name = etree.QName(el).localname
        if name == "fldSimple":
            instructions.append(_attribute(el, "instr"))
        elif name in ("instrText", "delInstrText"):
            if open_fields and open_fields[-1] is not None:
                open_fields[-1].append(el.text or "")
            else:  # outside a field's begin and separate: checked on its own
                instructions.append(el.text or "")
        else:
            kind = _attribute(el, "fldCharType")
            if kind == "begin":
                open_fields.append([])
            elif open_fields:
                parts = open_fields[-1]
                if parts is not None:
                    instructions.append("".join(parts))
                if kind == "end":
                    open_fields.pop()
                else:
                    open_fields[-1] = None
    instructions.extend("".join(parts) for parts in open_fields if parts is not None)
    return instructions


def _attribute(el: etree._Element, name: str) -> str:
    """The value of ``w:<name>`` (either namespace), "" when absent."""
    values = (el.get(f"{{{ns}}}{name}") for ns in _W_NAMESPACES)
    return next((value for value in values if value), "")
