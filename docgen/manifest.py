"""Template manifests: what a template needs (fields), who signs it (roles), how it is numbered.

A template is a folder ``templates/<id>/`` holding ``manifest.toml`` and the DOCX it names.
Templates are data: ``load_templates`` checks each one thoroughly at start-up so that a broken
template is refused with ``TemplateInvalid`` instead of failing on the first request.
"""

from __future__ import annotations

import hashlib
import io
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from docgen.errors import TemplateInvalid

__all__ = [
    "FieldSpec",
    "FieldType",
    "NumberingSpec",
    "SignerRole",
    "Template",
    "TemplateManifest",
    "load_template",
    "load_templates",
]

FieldType = Literal[
    "text", "nip", "ni_pppk", "nik", "pangkat", "date", "integer", "boolean", "list"
]
# Field types that identify a signer (a role's ``signer_nip_field`` must have one of them).
NOMOR_INDUK_TYPES = frozenset({"nip", "ni_pppk"})

_IDENT = r"^[a-z][a-z0-9_]*$"
# Names the renderer puts into the Jinja context itself; a field may not shadow them.
RESERVED_NAMES = frozenset({"nomor", "ttd"})
NUMBERING_PLACEHOLDERS = frozenset({"kode", "urut", "unit", "bulan", "bulan_romawi", "tahun"})
# Page sizes in millimetres (width, height); F4/folio as used by many regional governments.
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "F4": (215.0, 330.0)}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Model):
    """One input the template needs; ``validators.validate_data`` enforces it."""

    name: str = Field(pattern=_IDENT)
    type: FieldType
    required: bool = True
    label: str
    help: str | None = None
    # Used when the caller leaves the field out (e.g. the kop line of a deployment).
    default: str | None = None
    # For ``text`` fields: the only values allowed (e.g. the religions of an oath).
    choices: list[str] | None = None
    # For ``list`` fields: each item is a record with these fields (e.g. the people in a
    # berita acara pelantikan). Without it, items are plain text.
    item_fields: list[FieldSpec] | None = None
    max_items: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.item_fields is not None and self.type != "list":
            raise ValueError(f"field {self.name!r}: item_fields only apply to type 'list'")
        if self.default is not None and self.type not in ("text", "nip", "pangkat", "date"):
            raise ValueError(f"field {self.name!r}: a default is only allowed for scalar fields")
        if self.choices is not None:
            if self.type != "text" or not self.choices:
                raise ValueError(f"field {self.name!r}: choices need type 'text' and a value")
            _unique(self.choices, f"choice of {self.name!r}")
            if self.default is not None and self.default not in self.choices:
                raise ValueError(f"field {self.name!r}: default is not one of the choices")
        if self.item_fields:
            _unique([f.name for f in self.item_fields], f"item field of {self.name!r}")
        return self


class SignerRole(_Model):
    """A signature slot; the DOCX marks its place with ``{{ ttd('<name>') }}``.

    Roles sign in ascending ``order``; roles that share an order form a group whose members may
    sign in any order among themselves (e.g. two witnesses), but only after every lower order.
    """

    name: str = Field(pattern=_IDENT)
    label: str
    order: int = Field(ge=1)
    # Name of the data field holding the NIP or NI PPPK the signer of this role must have
    # (pakta: "nip").
    signer_nip_field: str | None = None


class NumberingSpec(_Model):
    """Document number pattern, e.g. ``{kode}/{urut}/{unit}/{bulan_romawi}/{tahun}``.

    The sequence runs per ``kode``, unit and year. The unit is ``unit``, or the value of the
    data field ``unit_field`` when the template serves several units and the caller fills it.
    """

    pattern: str
    kode: str
    unit: str
    unit_field: str | None = None

    @model_validator(mode="after")
    def _check(self) -> NumberingSpec:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(self.pattern) if f is not None}
        except ValueError as exc:
            raise ValueError(f"numbering pattern {self.pattern!r}: {exc}") from exc
        unknown = names - NUMBERING_PLACEHOLDERS
        if unknown:
            raise ValueError(f"numbering pattern: unknown placeholder(s) {sorted(unknown)}")
        if "urut" not in names:
            raise ValueError("numbering pattern must contain {urut}")
        return self


class TemplateManifest(_Model):
    """The contents of ``manifest.toml``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    title: str
    document_type: str
    description: str | None = None
    docx: str = "template.docx"
    paper: Literal["A4", "F4"] = "A4"
    # The document date (shown on the verification page); must name a ``date`` field.
    date_field: str
    place_field: str | None = None
    # When set, the document's title is this field's value (e.g. an MoU's "TENTANG ...");
    # otherwise ``title``.
    title_field: str | None = None
    numbering: NumberingSpec
    fields: list[FieldSpec]
    roles: list[SignerRole] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> TemplateManifest:
        _unique([f.name for f in self.fields], "field")
        _unique([r.name for r in self.roles], "role")
        shadowed = RESERVED_NAMES & {f.name for f in self.fields}
        if shadowed:
            raise ValueError(f"field name(s) {sorted(shadowed)} are reserved")
        if Path(self.docx).name != self.docx or not self.docx.endswith(".docx"):
            raise ValueError("docx must be a plain .docx file name inside the template folder")
        self._ref("date_field", self.date_field, "date")
        self._ref("place_field", self.place_field, "text")
        self._ref("title_field", self.title_field, "text")
        self._ref("numbering unit_field", self.numbering.unit_field, "text")
        for role in self.roles:
            self._ref(
                f"role {role.name!r} signer_nip_field", role.signer_nip_field, *NOMOR_INDUK_TYPES
            )
        return self

    def _ref(self, what: str, name: str | None, *types: str) -> None:
        if name is None:
            return
        spec = self.field(name)
        if spec is None:
            raise ValueError(f"{what}: no field named {name!r}")
        if spec.type not in types:
            raise ValueError(f"{what}: field {name!r} must have type {' or '.join(sorted(types))}")

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def role(self, name: str) -> SignerRole | None:
        return next((r for r in self.roles if r.name == name), None)

    @property
    def roles_in_order(self) -> list[SignerRole]:
        """Roles by signing order (stable: declaration order within a group)."""
        return sorted(self.roles, key=lambda r: r.order)

    def document_title(self, data: Mapping[str, object]) -> str:
        """Title for the registry and the verification page."""
        if self.title_field and data.get(self.title_field):
            return str(data[self.title_field])
        return self.title


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)


@dataclass(frozen=True)
class Template:
    """A loaded template: its manifest and the DOCX bytes, identified by their SHA-256."""

    manifest: TemplateManifest
    docx_bytes: bytes
    sha256: str
    directory: Path

    @property
    def id(self) -> str:
        return self.manifest.id


def load_template(directory: Path) -> Template:
    """Load and check ``directory/manifest.toml`` and its DOCX.

    Raises:
        TemplateInvalid: unreadable or inconsistent manifest, missing or broken DOCX, paper
            size not as declared, a role without its ``ttd()`` marker, Jinja syntax errors.
    """
    manifest_path = directory / "manifest.toml"
    try:
        raw = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateInvalid(f"{manifest_path}: manifest tidak dapat dibaca: {exc}") from exc
    try:
        manifest = TemplateManifest.model_validate(raw)
    except ValidationError as exc:
        raise TemplateInvalid(f"{manifest_path}: manifest tidak valid: {exc}") from exc
    if manifest.id != directory.name:
        raise TemplateInvalid(
            f"{manifest_path}: id {manifest.id!r} differs from folder name {directory.name!r}"
        )
    try:
        docx_bytes = (directory / manifest.docx).read_bytes()
    except OSError as exc:
        raise TemplateInvalid(f"{directory / manifest.docx}: {exc}") from exc
    template = Template(
        manifest=manifest,
        docx_bytes=docx_bytes,
        sha256=hashlib.sha256(docx_bytes).hexdigest(),
        directory=directory,
    )
    _check_docx(template)
    return template


def load_templates(directory: Path) -> dict[str, Template]:
    """Every ``directory/*/manifest.toml``, keyed by template id.

    Raises:
        TemplateInvalid: on the first bad template (the service should not start with one).
    """
    templates: dict[str, Template] = {}
    for manifest_path in sorted(directory.glob("*/manifest.toml")):
        template = load_template(manifest_path.parent)
        templates[template.id] = template
    return templates


def _check_docx(template: Template) -> None:
    # Imported here: docx/docxtpl are heavy and only needed once per template.
    import docx
    from jinja2 import TemplateSyntaxError

    from docgen.render import jinja_environment, template_source

    name = f"{template.directory.name}/{template.manifest.docx}"
    try:
        document = docx.Document(io.BytesIO(template.docx_bytes))
    except Exception as exc:  # python-docx raises assorted zip/XML/KeyError types
        raise TemplateInvalid(f"{name}: bukan berkas DOCX yang valid: {exc}") from exc

    width_mm, height_mm = PAPER_MM[template.manifest.paper]
    for section in document.sections:
        if section.page_width is None or section.page_height is None:
            continue
        w, h = section.page_width.mm, section.page_height.mm
        if abs(w - width_mm) > 1.5 or abs(h - height_mm) > 1.5:
            raise TemplateInvalid(
                f"{name}: page is {w:.0f}x{h:.0f} mm, manifest says {template.manifest.paper}"
            )

    source = template_source(template)
    try:
        jinja_environment().parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(f"{name}: Jinja syntax error: {exc.message}") from exc
    for role in template.manifest.roles:
        if not re.search(rf"ttd\(\s*['\"]{role.name}['\"]\s*\)", source):
            raise TemplateInvalid(f"{name}: no {{{{ ttd('{role.name}') }}}} marker for its role")
