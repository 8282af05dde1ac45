"""Form data checked with the API's own schemas, its problems in words for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from docgen.errors import DataInvalid

__all__ = ["checked", "field_problems"]

M = TypeVar("M", bound=BaseModel)


def _message(error: ErrorDetails) -> str:
    context = error.get("ctx") or {}
    match error["type"]:
        case "missing":
            return "wajib diisi"
        case "string_too_short":
            return f"minimal {context.get('min_length')} karakter"
        case "string_too_long":
            return f"maksimal {context.get('max_length')} karakter"
        case "string_pattern_mismatch":
            return "bentuknya tidak sesuai"
        case "enum" | "literal_error":
            return "pilihan tidak dikenal"
        case "value_error":
            # Our validators raise FieldInvalid / ValueError with a message in Indonesian.
            return str(context.get("error", error["msg"]))
    return error["msg"]


def checked(
    model: type[M], data: Mapping[str, Any], fields: Mapping[str, str] | None = None
) -> tuple[M | None, dict[str, str]]:
    """``data`` as ``model``, or None and each problem by form field (``fields`` renames the
    model's fields to the form's; a problem of the whole model goes to ``fields[""]``)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        names = fields or {}
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            problems.setdefault(names.get(name, name), _message(error))
        return None, problems


def field_problems(exc: DataInvalid, fields: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's DataInvalid by form field (``fields`` renames as in :func:`checked`)."""
    names = fields or {}
    problems: dict[str, str] = {}
    for problem in exc.problems:
        problems.setdefault(names.get(problem.field, problem.field), problem.message)
    return problems
