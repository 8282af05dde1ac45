"""Form data checked with the API's own schemas, its problems in words for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from docgen.errors import DataInvalid
from docgen.kit.error_bodies import problem_message

__all__ = ["checked", "field_problems"]

M = TypeVar("M", bound=BaseModel)


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
            problems.setdefault(names.get(name, name), problem_message(error))
        return None, problems


def field_problems(exc: DataInvalid, fields: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's DataInvalid by form field (``fields`` renames as in :func:`checked`)."""
    names = fields or {}
    problems: dict[str, str] = {}
    for problem in exc.problems:
        problems.setdefault(names.get(problem.field, problem.field), problem.message)
    return problems
