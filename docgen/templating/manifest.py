"""Template manifests: what a template needs (fields), who signs it (roles), how it is numbered.

A template is a folder ``templates/<id>/`` holding ``manifest.toml`` and the DOCX it names, or a
version uploaded through the API (``docgen.templating.catalogue``). Templates are data: both are
checked thoroughly (``parse_manifest`` here, ``template_checks.docx_problems`` for the DOCX) so
that a broken template is refused with ``TemplateInvalid``, listing every problem and where it
is, instead of failing on the first request.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from docgen.errors import TemplateProblem
from docgen.indonesia import bulan_romawi

__all__ = [
    "DOCX_NAME",
    "EMETERAI_MARKER",
    "EMeteraiSpec",
    "FieldSpec",
    "FieldType",
    "MAX_NUMBER_LENGTH",
    "MAX_PARAF_STEPS",
    "NumberingSpec",
    "ParafSpec",
    "SignerRole",
    "Template",
    "TemplateManifest",
    "parse_manifest",
]

FieldType = Literal[
    "text", "nip", "ni_pppk", "nik", "pangkat", "date", "integer", "boolean", "list"
]
# Field types that identify a signer (a role's ``signer_nip_field`` must have one of them).
NOMOR_INDUK_TYPES = frozenset({"nip", "ni_pppk"})
# Field types a role's ``when`` may name: what can be given or left empty.
_OPTIONAL_TYPES = ("text", "nip", "ni_pppk", "nik", "boolean")

_IDENT = r"^[a-z][a-z0-9_]*$"
# Names the renderer puts into the Jinja context itself (the number, the signature markers, the
# unit's kop: docgen.templating.kop); a field may not shadow them.
RESERVED_NAMES = frozenset({"nomor", "ttd", "kop"})
NUMBERING_PLACEHOLDERS = frozenset({"kode", "urut", "unit", "bulan", "bulan_romawi", "tahun"})
# Page sizes in millimetres (width, height); F4/folio as used by many regional governments.
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "F4": (215.0, 330.0)}
# The DOCX of an uploaded version is always stored under this name.
DOCX_NAME = "template.docx"


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
    # Name of a data field that makes this role sign: where it is given, the document has the
    # role; where it is left empty, the role is not on that document (the pakta's "Mengetahui":
    # the superior signs when the data names one). None: every document has the role.
    when: str | None = None


# The most verifikator one document names (a regional office's chain is 2-4 long).
MAX_PARAF_STEPS = 10


class ParafSpec(_Model):
    """``[paraf]``: the template asks for paraf. Before the first signature, one verifikator per
    step initials the document, in this order; the document names them when it is made.

    ``steps`` names each step as the office says it (e.g. "Kepala Subbagian Umum",
    "Sekretaris Kecamatan").
    """

    steps: list[str] = Field(min_length=1, max_length=MAX_PARAF_STEPS)

    @model_validator(mode="after")
    def _check(self) -> ParafSpec:
        for label in self.steps:
            if not label.strip() or len(label) > 200:
                raise ValueError("paraf steps: each names its step in 1 to 200 characters")
        return self


# The invisible text a template writes at the top-left corner of its e-Meterai box.
EMETERAI_MARKER = "#EMETERAI#"


class EMeteraiSpec(_Model):
    """An e-Meterai the template offers: where the boolean data field ``field`` is true, the
    box marked by ``#EMETERAI#`` (``size`` points square, top-left at the marker) becomes a
    signature field when the document is prepared, and the deployment's provider affixes the
    e-Meterai into it once every role before ``before_role`` has signed: before that role
    signs (the issue: "before the last signature")."""

    field: str
    before_role: str
    size: float = Field(default=70, gt=0, le=200)


# The longest document number: the registry keeps it in 100 characters (documents.number and a
# batch row's number, both String(100)).
MAX_NUMBER_LENGTH = 100
# Numbers a pattern is tried with at upload: the first of a year and one of a large unit's
# year, on the first day of every month.
_SAMPLE_URUT = (1, 99_999)
_SAMPLE_DATES = tuple(date(2024, month, 1) for month in range(1, 13))
# Python's format mini-language, to bound widths before anything is formatted
# ([[fill]align][sign][z][#][0][width][grouping][.precision][type]).
_FORMAT_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class NumberingSpec(_Model):
    """Document number pattern, e.g. ``{kode}/{urut}/{unit}/{bulan_romawi}/{tahun}``.

    The sequence runs per ``kode``, unit and year. The unit is the value of the data field
    ``unit_field`` where the caller fills it, else the unit's own code (its profile's for the
    template, else its registered code: ``docgen.people.profiles.numbering_of``). ``unit`` is
    for templates that still name one; ours do not (a manifest holds no deployment's values).

    The pattern is checked whole when the manifest is read (see :func:`_pattern_problems`), so
    that a template whose numbers cannot be made is refused at upload, not on every document.
    """

    # A pattern makes numbers of at most MAX_NUMBER_LENGTH characters: twice that leaves room
    # for the placeholders' names and formats (and bounds the work of checking it).
    pattern: str = Field(max_length=2 * MAX_NUMBER_LENGTH)
    kode: str
    unit: str | None = None
    unit_field: str | None = None

    @model_validator(mode="after")
    def _check(self) -> NumberingSpec:
        problems = _pattern_problems(self)
        if problems:
            raise ValueError(f"pola penomoran {self.pattern!r}: " + "; ".join(problems))
        return self

    def render(self, urut: int, on: date, unit: str | None = None) -> str:
        """The number ``urut`` of the sequence, dated ``on``, for ``unit`` (default ``unit``)."""
        return self.pattern.format(**_placeholder_values(self, urut, on, unit))


def _placeholder_values(
    spec: NumberingSpec, urut: int, on: date, unit: str | None
) -> dict[str, object]:
    return {
        "kode": spec.kode,
        "urut": urut,
        "unit": unit or spec.unit or "",
        "bulan_romawi": bulan_romawi(on.month),
        "bulan": on.month,
        "tahun": on.year,
    }


def _pattern_problems(spec: NumberingSpec) -> list[str]:
    """What is wrong with ``spec.pattern``, in Bahasa Indonesia; empty when every number it
    makes can be formatted and kept."""
    try:
        pieces = list(string.Formatter().parse(spec.pattern))
    except ValueError:
        return ["kurung kurawal tidak berpasangan (tulis {{ atau }} untuk kurung kurawal biasa)"]
    problems: list[str] = []
    names: set[str] = set()
    unknown: list[str] = []
    for _, name, format_spec, conversion in pieces:
        if name is None:
            continue
        base = re.split(r"[.\[]", name, maxsplit=1)[0]
        if base != name and base in NUMBERING_PLACEHOLDERS:
            problems.append(
                f"akses atribut atau indeks pada {{{name}}} tidak diperbolehkan, tulis {{{base}}}"
            )
        elif name not in NUMBERING_PLACEHOLDERS:
            unknown.append(f"{{{name}}}")
            continue
        names.add(base)
        if conversion is not None:
            problems.append(f"konversi !{conversion} pada {{{name}}} tidak diperbolehkan")
        problems.extend(_format_spec_problems(name, format_spec or ""))
    if unknown:
        known = ", ".join(f"{{{n}}}" for n in sorted(NUMBERING_PLACEHOLDERS))
        problems.append(f"tempat isian tidak dikenal {', '.join(unknown)} (yang ada: {known})")
    if "urut" not in names:
        problems.append("harus memuat {urut}")
    if problems:
        return problems
    return _sample_problems(spec)


def _format_spec_problems(name: str, format_spec: str) -> list[str]:
    """A format spec the mini-language allows, no wider than a number may be."""
    if "{" in format_spec:
        return [f"format bertingkat pada {{{name}}} tidak diperbolehkan"]
    found = _FORMAT_SPEC.fullmatch(format_spec)
    if found is None:
        return [f"format {format_spec!r} pada {{{name}}} tidak dikenal"]
    # Checked before formatting: a width of 10**9 would take a gigabyte to format.
    for size in (found["width"], found["precision"]):
        if size and (len(size) > 3 or int(size) > MAX_NUMBER_LENGTH):
            return [
                f"lebar atau presisi {size} pada {{{name}}} melebihi panjang nomor "
                f"({MAX_NUMBER_LENGTH} karakter)"
            ]
    return []


# Where neither the call nor the manifest gives a unit (only while checking a pattern: a document
# always has its unit's code), a code as long as most units' codes.
_SAMPLE_UNIT = "X" * 16


def _sample_problems(spec: NumberingSpec) -> list[str]:
    """The pattern formatted with sample values for every placeholder, as numbers are made."""
    pieces = [p for p in string.Formatter().parse(spec.pattern) if p[1] is not None]
    unit = None if spec.unit else _SAMPLE_UNIT
    longest = ""
    for urut in _SAMPLE_URUT:
        for on in _SAMPLE_DATES:
            values = _placeholder_values(spec, urut, on, unit)
            for _, name, format_spec, _ in pieces:
                assert name is not None  # filtered above
                try:
                    format(values[name], format_spec or "")
                except (ValueError, TypeError):
                    kind = "bilangan" if isinstance(values[name], int) else "teks"
                    return [
                        f"format {format_spec!r} pada {{{name}}} tidak dapat dipakai untuk {kind}"
                    ]
            number = spec.render(urut, on, unit)
            if _CONTROL.search(number):
                return [f"nomor {number!r} memuat karakter kontrol"]
            longest = max(longest, number, key=len)
    if len(longest) > MAX_NUMBER_LENGTH:
        return [
            f"nomor seperti {longest[:40]!r}\u2026 panjangnya {len(longest)} karakter, "
            f"paling panjang {MAX_NUMBER_LENGTH}"
        ]
    return []


class TemplateManifest(_Model):
    """The contents of ``manifest.toml``."""

    # 64: the longest id the registry (audit log) keeps.
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    version: int = Field(ge=1)
    title: str = Field(max_length=300)
    document_type: str = Field(max_length=100)
    description: str | None = None
    docx: str = DOCX_NAME
    paper: Literal["A4", "F4"] = "A4"
    # The document date (shown on the verification page); must name a ``date`` field.
    date_field: str
    place_field: str | None = None
    # When set, the document's title is this field's value (e.g. an MoU's "TENTANG ...");
    # otherwise ``title``.
    title_field: str | None = None
    # Whom a document concerns, for listings of many (the manifest in a batch's ZIP): a field
    # name, or a list field's item field such as "peserta.nama" (every item, joined).
    person_name_field: str | None = None
    person_nip_field: str | None = None
    numbering: NumberingSpec
    fields: list[FieldSpec]
    roles: list[SignerRole] = Field(min_length=1)
    # Verifikator initial every document of the template before its signatures; None: only
    # where a document names them.
    paraf: ParafSpec | None = None
    emeterai: EMeteraiSpec | None = None

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
            self._ref(f"role {role.name!r} when", role.when, *_OPTIONAL_TYPES)
        if self.emeterai is not None:
            self._ref("emeterai field", self.emeterai.field, "boolean")
            before = self.role(self.emeterai.before_role)
            if before is None:
                raise ValueError(
                    f"emeterai before_role: no role named {self.emeterai.before_role!r}"
                )
            if before.order == min(r.order for r in self.roles):
                raise ValueError(
                    "emeterai before_role: the e-Meterai comes after a first signature "
                    "(which certifies the document), so not before a first role"
                )
        self._path_ref("person_name_field", self.person_name_field, "text")
        self._path_ref("person_nip_field", self.person_nip_field, *NOMOR_INDUK_TYPES)
        return self

    def _path_ref(self, what: str, path: str | None, *types: str) -> None:
        if path is None or "." not in path:
            self._ref(what, path, *types)
            return
        name, item_name = path.split(".", 1)
        spec = self.field(name)
        items = spec.item_fields if spec else None
        item = next((f for f in items or [] if f.name == item_name), None)
        if item is None or item.type not in types:
            raise ValueError(
                f"{what}: {path!r} must name a {' or '.join(sorted(types))} item field of a list"
            )

    def person_of(self, data: Mapping[str, object]) -> tuple[str, str]:
        """The name and NIP the document concerns (``person_*_field``), "" where not declared."""
        return _listed(data, self.person_name_field), _listed(data, self.person_nip_field)

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

    def emeterai_asked(self, data: Mapping[str, object]) -> bool:
        """Whether a document of ``data`` carries an e-Meterai."""
        return self.emeterai is not None and data.get(self.emeterai.field) is True

    def document_title(self, data: Mapping[str, object]) -> str:
        """Title for the registry and the verification page."""
        if self.title_field and data.get(self.title_field):
            return str(data[self.title_field])
        return self.title


def _listed(data: Mapping[str, object], path: str | None) -> str:
    if path is None:
        return ""
    name, _, item_name = path.partition(".")
    value = data.get(name)
    if item_name and isinstance(value, list):
        return "; ".join(
            str(item.get(item_name) or "") for item in value if isinstance(item, Mapping)
        )
    return "" if value is None else str(value)


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)


@dataclass(frozen=True)
class Template:
    """A loaded template version: its manifest and the DOCX bytes, identified by their SHA-256.

    ``directory`` is the folder of a folder template; ``created_at`` the upload time of an
    uploaded version (None for folder templates).
    """

    manifest: TemplateManifest
    docx_bytes: bytes
    sha256: str
    directory: Path | None = None
    created_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> int:
        return self.manifest.version


# --- checks: each returns problems with their place rather than stopping at the first


def parse_manifest(
    text: str,
    problems: list[TemplateProblem],
    *,
    overrides: Mapping[str, Any] | None = None,
    where: str = "manifest.toml",
) -> TemplateManifest | None:
    """The manifest in ``text`` (TOML), with ``overrides`` put over its top-level keys.

    Appends to ``problems`` and returns None when the TOML does not parse (its line and column)
    or does not satisfy the schema (each key at fault).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(_toml_problem(exc, where))
        return None
    except RecursionError:
        problems.append(
            TemplateProblem(where, "manifest tidak dapat dibaca: susunannya terlalu dalam")
        )
        return None
    raw.update(overrides or {})
    try:
        return TemplateManifest.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_schema_problem(e, raw, where) for e in exc.errors(include_url=False))
        return None


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _toml_problem(exc: tomllib.TOMLDecodeError, where: str) -> TemplateProblem:
    # Python 3.11's TOMLDecodeError has the position only in its message.
    message = str(exc)
    found = _TOML_POSITION.search(message)
    if found:
        message = message[: found.start()]
        where += f" baris {found[1]}, kolom {found[2]}" if found[1] else " (akhir berkas)"
    return TemplateProblem(where, f"manifest tidak dapat dibaca, sintaks TOML salah: {message}")


_SCHEMA_MESSAGES = {
    "missing": "kunci wajib ini tidak ada",
    "extra_forbidden": "kunci ini tidak dikenal",
    "literal_error": "harus salah satu dari {expected}",
    "string_pattern_mismatch": "tidak sesuai pola {pattern}",
    "string_too_long": "paling panjang {max_length} karakter",
    "greater_than_equal": "paling kecil {ge}",
    "too_short": "paling sedikit {min_length} butir",
    "string_type": "harus berupa teks",
    "int_type": "harus berupa bilangan bulat",
    "int_parsing": "harus berupa bilangan bulat",
    "bool_type": "harus true atau false",
    "bool_parsing": "harus true atau false",
    "list_type": "harus berupa daftar",
    "model_type": "harus berupa tabel",
}


def _schema_problem(error: ErrorDetails, raw: Mapping[str, Any], where: str) -> TemplateProblem:
    key = _key_path(error["loc"], raw)
    template = _SCHEMA_MESSAGES.get(error["type"])
    try:
        message = template.format(**error.get("ctx", {})) if template else None
    except (KeyError, IndexError):
        message = None
    if message is None:
        message = "nilai tidak valid: " + error["msg"].removeprefix("Value error, ")
    message = message.replace("' or '", "' atau '")  # pydantic's list of allowed values
    return TemplateProblem(f"{where}: {key}" if key else where, message)


def _key_path(loc: Sequence[int | str], raw: Mapping[str, Any]) -> str:
    """``fields[3] (nip).type`` for ('fields', 2, 'type'): items count from 1, as in the file."""
    path = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            path += f"[{part + 1}]" + (f" ({name})" if isinstance(name, str) else "")
            node = item
        else:
            path += f".{part}" if path else part
            node = node.get(part) if isinstance(node, dict) else None
    return path
