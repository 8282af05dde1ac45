"""The one error hierarchy of the service, the one shape of its error bodies, and the translation
of the libraries' errors at the edge.

Every error a user or a dependency can cause is a ``DocgenError`` subclass carrying its HTTP
status; one handler in the app renders them all as :class:`ErrorOut`: ``{"error": <name>,
"detail": <text in Bahasa Indonesia>, "problems"?: [...]}``. The libraries (``storage``,
``signing``) raise their own errors; :func:`translate` turns each into the ``DocgenError`` a
client should see: object storage unreachable 503, the converter or signer failing 502.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from signing import errors as signing_errors
from storage import errors as storage_errors

__all__ = [
    "CertificateRevoked",
    "Conflict",
    "ConversionFailed",
    "DataInvalid",
    "DocgenError",
    "ErrorOut",
    "FieldInvalid",
    "FieldProblem",
    "Forbidden",
    "LoginFailed",
    "NotAuthenticated",
    "NotFound",
    "ProblemOut",
    "SignerFailed",
    "SignerLocked",
    "SignerMismatch",
    "StorageFailed",
    "StorageUnavailable",
    "TemplateInvalid",
    "TemplateNotFound",
    "TemplateProblem",
    "TooManyRequests",
    "UploadInvalid",
    "UploadTooLarge",
    "WrongPin",
    "error_responses",
    "first_translated",
    "translate",
]


class DocgenError(Exception):
    """Base class: ``status_code`` and a human ``detail``; ``error`` defaults to the class name."""

    status_code: int = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def error(self) -> str:
        return type(self).__name__

    def problems_out(self) -> list[ProblemOut] | None:
        """What exactly is wrong, one entry per place (the ``problems`` of the body)."""
        return None

    def body(self) -> ErrorOut:
        return ErrorOut(error=self.error, detail=self.detail, problems=self.problems_out())

    def headers(self) -> dict[str, str]:
        """Headers the answer carries besides the body (none but for a few errors)."""
        return {}


class ProblemOut(BaseModel):
    """One problem of a request: a data field, a place in a template, or a cell of a list."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(
        default=None, description="request or data field, e.g. peserta[2].nip"
    )
    where: str | None = Field(default=None, description="place in an uploaded template")
    row: int | None = Field(default=None, description="row of a staff list (the header is 1)")
    column: str | None = Field(default=None, description="column of a staff list")
    message: str


class ErrorOut(BaseModel):
    """Every error response: the error's name, a text for people, and its problems if any."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(examples=["DataInvalid"])
    detail: str = Field(examples=["Data tidak valid: nip"])
    problems: list[ProblemOut] | None = None


_DESCRIPTIONS = {
    400: "Permintaan tidak dapat diproses",
    401: "Belum masuk",
    403: "Tidak diizinkan",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Bertentangan dengan keadaan saat ini",
    413: "Unggahan terlalu besar",
    422: "Data tidak valid",
    423: "Terkunci sementara",
    429: "Terlalu banyak permintaan; coba lagi setelah Retry-After detik",
    502: "Komponen di belakang layanan gagal (konversi, penandatanganan, penyimpanan)",
    503: "Penyimpanan objek tidak dapat dihubungi",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses, each with the one error model."""
    return {
        status: {"model": ErrorOut, "description": _DESCRIPTIONS[status]} for status in statuses
    }


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

    def problems_out(self) -> list[ProblemOut]:
        return [ProblemOut(field=p.field, message=p.message) for p in self.problems]


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

    def problems_out(self) -> list[ProblemOut]:
        return [ProblemOut(where=p.where, message=p.message) for p in self.problems]


class NotFound(DocgenError):
    status_code = 404


class NotAuthenticated(DocgenError):
    """No valid session or token: log in first."""

    status_code = 401

    def __init__(self, detail: str = "Silakan masuk terlebih dahulu") -> None:
        super().__init__(detail)


class LoginFailed(DocgenError):
    """Wrong username, password or code, or a locked account: one answer for all of them."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("Nama pengguna, kata sandi atau kode autentikator salah")


class Forbidden(DocgenError):
    """Logged in, but this role (or this unit) may not do it."""

    status_code = 403


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


class TooManyRequests(DocgenError):
    """The client has as much running as it may; ``retry_after`` seconds until it may retry."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ConversionFailed(DocgenError):
    """LibreOffice could not turn the rendered DOCX into a PDF (a server-side fault)."""

    status_code = 502


class SignerFailed(DocgenError):
    """Signing, time-stamping or archiving failed on our side, not because of the request."""

    status_code = 502


class EMeteraiProviderFailed(DocgenError):
    """The e-Meterai provider failed (unreachable, refused): try again later."""

    status_code = 502


class StorageFailed(DocgenError):
    """Object storage answered, but not with what the registry recorded."""

    status_code = 502


class StorageUnavailable(DocgenError):
    """Object storage cannot be reached: try again later."""

    status_code = 503


def translate(exc: Exception) -> DocgenError | None:
    """The error a client sees for a library's error, or None for anything else (a bug)."""
    match exc:
        case DocgenError():
            return exc
        case storage_errors.StorageUnavailable():
            return StorageUnavailable("Penyimpanan objek tidak dapat dihubungi; coba lagi nanti")
        case storage_errors.ObjectExists():
            return Conflict("Objek itu sudah tersimpan dan tidak dapat ditimpa; coba lagi")
        case storage_errors.ObjectNotFound() | storage_errors.ObjectCorrupted():
            return StorageFailed(
                "Berkas yang tercatat tidak dapat dibaca utuh dari penyimpanan objek"
            )
        case storage_errors.StorageError():
            return StorageFailed(f"Penyimpanan objek gagal: {exc}")
        case signing_errors.EMeteraiFailed():
            return EMeteraiProviderFailed(f"Penyedia e-Meterai gagal: {exc}; coba lagi nanti")
        case signing_errors.SignatureFieldAlreadySigned():
            return Conflict("Kolom tanda tangan itu sudah ditandatangani")
        case signing_errors.SigningError():
            return SignerFailed(f"Penandatanganan gagal: {exc}")
    return None


def first_translated(errors: Iterable[BaseException]) -> DocgenError | None:
    """The translation of the first translatable error of an exception group (at any depth)."""
    for error in errors:
        if isinstance(error, BaseExceptionGroup):
            found = first_translated(error.exceptions)
        elif isinstance(error, Exception):
            found = translate(error)
        else:
            continue
        if found is not None:
            return found
    return None
