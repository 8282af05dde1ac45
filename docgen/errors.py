"""The one error hierarchy of the service.

Every error a user can cause is a ``DocgenError`` subclass carrying its HTTP status; one handler
in the app renders them all as ``{"error": <name>, "detail": <text>}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class DocgenError(Exception):
    """Base class: ``status_code`` and a human ``detail``; ``error`` defaults to the class name."""

    status_code: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def error(self) -> str:
        return type(self).__name__

    def extra(self) -> dict[str, Any]:
        """Further JSON fields for the response body."""
        return {}


class FieldInvalid(ValueError):
    """A single value is invalid; the message is meant for the user (Bahasa Indonesia)."""


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class DataInvalid(DocgenError):
    status_code = 422

    def __init__(self, problems: list[FieldProblem]) -> None:
        names = ", ".join(p.field for p in problems)
        super().__init__(f"Data tidak valid: {names}")
        self.problems = problems

    def extra(self) -> dict[str, Any]:
        return {"problems": [{"field": p.field, "message": p.message} for p in self.problems]}


class TemplateNotFound(DocgenError):
    status_code = 404


@dataclass(frozen=True)
class TemplateProblem:
    """One fault of a template; ``where`` names its place (manifest key, DOCX part, paragraph)."""

    where: str
    message: str


class TemplateInvalid(DocgenError):
    """A template that cannot be used; ``problems`` lists every fault found, where known."""

    status_code = 422

    def __init__(self, detail: str, problems: Sequence[TemplateProblem] = ()) -> None:
        super().__init__(detail)
        self.problems = list(problems)

    # A DOCX can repeat one fault in every paragraph: answer with a readable list.
    MAX_PROBLEMS: ClassVar[int] = 100

    @classmethod
    def listing(cls, subject: str, problems: Sequence[TemplateProblem]) -> TemplateInvalid:
        """The error for ``problems`` (at least one), with the first few in ``detail``."""
        shown = "; ".join(f"{p.where}: {p.message}" for p in problems[:3])
        more = f" (dan {len(problems) - 3} masalah lain)" if len(problems) > 3 else ""
        listed = list(problems[: cls.MAX_PROBLEMS])
        if len(problems) > cls.MAX_PROBLEMS:
            left = len(problems) - cls.MAX_PROBLEMS
            listed.append(TemplateProblem("templat", f"{left} masalah lain tidak ditampilkan"))
        return cls(f"{subject} tidak valid: {shown}{more}", listed)

    def extra(self) -> dict[str, Any]:
        return {"problems": [{"where": p.where, "message": p.message} for p in self.problems]}


class NotFound(DocgenError):
    status_code = 404


class WrongPin(DocgenError):
    status_code = 403


class SignerLocked(DocgenError):
    status_code = 423


class Conflict(DocgenError):
    status_code = 409


class SignerMismatch(DocgenError):
    status_code = 403


class CertificateRevoked(DocgenError):
    """The signer's certificate was revoked: no new signatures."""

    status_code = 403


class UploadInvalid(DocgenError):
    status_code = 400


class UploadTooLarge(DocgenError):
    status_code = 413


class ConversionFailed(DocgenError):
    """LibreOffice could not turn the rendered DOCX into a PDF (a server-side fault)."""

    status_code = 502
