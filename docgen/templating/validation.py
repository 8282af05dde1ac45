"""Validation of the data a template is filled with, field by field as its manifest declares.

Single-value validators (here and in ``docgen.indonesia``) raise ``FieldInvalid`` (a
``ValueError``, so they also work inside pydantic validators) with a message in Bahasa Indonesia.
``validate_data`` checks a whole document's data against its manifest and reports every problem
at once as ``DataInvalid``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic_core import PydanticCustomError

from docgen.errors import DataInvalid, FieldInvalid, FieldProblem
from docgen.indonesia import validate_ni_pppk, validate_nik, validate_nip, validate_pangkat
from docgen.kit.types import refuse_hidden
from docgen.templating.manifest import FieldSpec, SignerRole, TemplateManifest

__all__ = [
    "is_empty",
    "signing_roles",
    "restored",
    "stored_form",
    "validate_boolean",
    "validate_data",
    "validate_date",
    "validate_integer",
    "validate_item",
    "validate_text",
]

# The bound of every text value of a document's data (a manifest gives its fields no length of
# their own): the registry keeps the data as JSON, and no name, jabatan or line of a template
# is near it; past it, one value of megabytes would be stored, rendered and listed.
MAX_TEXT_LENGTH = 2000


def validate_boolean(value: object) -> bool:
    """``true``/``false``, or the words ``ya``/``tidak`` (and ``1``/``0``) as from a spreadsheet.

    Raises:
        FieldInvalid: anything else.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("ya", "true", "1", "y"):
            return True
        if word in ("tidak", "false", "0", "t", "n"):
            return False
    raise FieldInvalid("harus ya atau tidak (true/false)")


# Characters XML 1.0 cannot carry beside the controls and surrogates that ``refuse_hidden``
# already refuses: the noncharacters U+FFFE and U+FFFF would corrupt the DOCX.
_XML_INVALID = re.compile("[\ufffe\uffff]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def validate_text(value: object) -> str:
    """Trimmed text of one line with nothing hidden in it (what ``PlainText`` allows, by the
    same rule) and at most ``MAX_TEXT_LENGTH`` characters.

    Raises:
        FieldInvalid: not a string, too long, or contains a control or invisible character
            (a line break, a zero-width or bidi character, ...).
    """
    if not isinstance(value, str):
        raise FieldInvalid("harus berupa teks")
    text = value.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise FieldInvalid(f"terlalu panjang (maksimal {MAX_TEXT_LENGTH} karakter)")
    try:
        refuse_hidden(text)
    except PydanticCustomError as exc:
        raise FieldInvalid(exc.message()) from None
    if _XML_INVALID.search(text):
        raise FieldInvalid("mengandung karakter yang tidak diperbolehkan")
    return text


def validate_date(value: object) -> date:
    """A ``date`` or an ISO ``YYYY-MM-DD`` string.

    Raises:
        FieldInvalid: anything else, or an impossible date.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise FieldInvalid(f"tanggal {value.strip()} tidak ada") from None
    raise FieldInvalid("tanggal harus berformat TTTT-BB-HH, misalnya 2024-06-27")


def validate_integer(value: object) -> int:
    """An ``int`` or a string of digits.

    Raises:
        FieldInvalid: anything else (``bool`` and ``float`` included).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value.strip()):
        return int(value.strip())
    raise FieldInvalid("harus berupa bilangan bulat")


# What a missing optional field is in the template's context; others are None.
_EMPTY: dict[str, object] = {"list": [], "boolean": False}


def is_empty(value: object) -> bool:
    """No value: None, a blank text or an empty list."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def signing_roles(manifest: TemplateManifest, data: Mapping[str, object]) -> list[SignerRole]:
    """The roles that sign a document of ``manifest`` with ``data``, by signing order: every
    role, but one whose ``when`` field the data leaves empty (or false)."""
    return [
        role
        for role in manifest.roles_in_order
        if role.when is None or not (is_empty(data.get(role.when)) or data.get(role.when) is False)
    ]


def _validate_value(
    spec: FieldSpec, value: object, path: str, problems: list[FieldProblem]
) -> object:
    try:
        if spec.type == "text":
            text = validate_text(value)
            if spec.choices is not None and text not in spec.choices:
                raise FieldInvalid(f"harus salah satu dari: {', '.join(spec.choices)}")
            return text
        if spec.type == "nip":
            return validate_nip(value)
        if spec.type == "ni_pppk":
            return validate_ni_pppk(value)
        if spec.type == "nik":
            return validate_nik(value)
        if spec.type == "boolean":
            return validate_boolean(value)
        if spec.type == "pangkat":
            return validate_pangkat(value)  # type: ignore[arg-type]
        if spec.type == "date":
            return validate_date(value)
        if spec.type == "integer":
            return validate_integer(value)
    except FieldInvalid as exc:
        problems.append(FieldProblem(field=path, message=str(exc)))
        return None
    return _validate_list(spec, value, path, problems)


def _validate_list(
    spec: FieldSpec, value: object, path: str, problems: list[FieldProblem]
) -> object:
    if not isinstance(value, list | tuple):
        problems.append(FieldProblem(field=path, message="harus berupa daftar"))
        return None
    if len(value) > spec.max_items:
        problems.append(FieldProblem(path, f"terlalu banyak isian (maksimal {spec.max_items})"))
        return None
    return [_validate_item(spec, item, f"{path}[{i}]", problems) for i, item in enumerate(value, 1)]


def _validate_item(
    spec: FieldSpec, item: object, path: str, problems: list[FieldProblem]
) -> object:
    if spec.item_fields is None:
        try:
            return validate_text(item)
        except FieldInvalid as exc:
            problems.append(FieldProblem(path, str(exc)))
            return None
    if not isinstance(item, Mapping):
        problems.append(FieldProblem(path, "harus berupa objek"))
        return None
    return _validate_record(spec.item_fields, item, f"{path}." if path else "", problems)


def validate_item(spec: FieldSpec, item: object) -> object:
    """One item of the list field ``spec``, checked and cleaned as ``validate_data`` checks it
    inside a document's data (a record of the item fields, or a text).

    Raises:
        DataInvalid: every problem, named by its item field (``nip``; a text item by the
            list's name).
    """
    problems: list[FieldProblem] = []
    clean = _validate_item(spec, item, "" if spec.item_fields else spec.name, problems)
    if problems:
        raise DataInvalid(problems)
    return clean


def _validate_record(
    specs: list[FieldSpec], data: Mapping[str, object], prefix: str, problems: list[FieldProblem]
) -> dict[str, object]:
    clean: dict[str, object] = {}
    known = {spec.name for spec in specs}
    for key in data:
        if key not in known:
            problems.append(FieldProblem(f"{prefix}{key}", "isian tidak dikenal pada templat ini"))
    for spec in specs:
        path = f"{prefix}{spec.name}"
        value = data.get(spec.name)
        if is_empty(value) and spec.default is not None:
            value = spec.default
        if is_empty(value):
            if spec.required:
                problems.append(FieldProblem(path, "wajib diisi"))
            clean[spec.name] = _EMPTY.get(spec.type)
            continue
        clean[spec.name] = _validate_value(spec, value, path, problems)
    return clean


def validate_data(manifest: TemplateManifest, data: Mapping[str, object]) -> dict[str, object]:
    """Check ``data`` against the manifest's fields and return it cleaned and typed.

    Text is trimmed, NIP reduced to 18 digits, pangkat to its golongan (``III/a``), dates become
    ``datetime.date``, integers ``int``. Missing optional fields are present as ``None`` (lists
    as ``[]``) so templates can test them. Problems inside list records are reported as
    ``peserta[2].nip``.

    Raises:
        DataInvalid: listing every problem found (missing, malformed, unknown keys).
    """
    if not isinstance(data, Mapping):
        raise DataInvalid([FieldProblem("data", "harus berupa objek")])
    problems: list[FieldProblem] = []
    clean = _validate_record(manifest.fields, data, "", problems)
    if problems:
        raise DataInvalid(problems)
    return clean


def stored_form(clean: Mapping[str, object]) -> dict[str, Any]:
    """Checked data as the registry keeps it (JSON): dates as ISO text, at any depth."""
    return {key: _stored_value(value) for key, value in clean.items()}


def _stored_value(value: object) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_stored_value(item) for item in value]
    if isinstance(value, Mapping):
        return stored_form(value)
    return value


def restored(manifest: TemplateManifest, stored: Mapping[str, Any]) -> dict[str, object]:
    """The checked data back from its ``stored_form``: the same values, dates as dates again.

    Not a validation: ``stored`` was checked when it was stored, and only its dates change.
    """
    return _restored_record(manifest.fields, stored)


def _restored_record(specs: list[FieldSpec], stored: Mapping[str, Any]) -> dict[str, object]:
    clean: dict[str, object] = dict(stored)
    for spec in specs:
        value = stored.get(spec.name)
        if value is None:
            continue
        if spec.type == "date":
            clean[spec.name] = date.fromisoformat(value)
        elif spec.type == "list" and spec.item_fields:
            clean[spec.name] = [_restored_record(spec.item_fields, item) for item in value]
    return clean
