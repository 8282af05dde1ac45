"""The handlers that give an app's errors the one body shape (``docgen.errors.ErrorOut``): the
service's app and a converter node's register the same ones. A request pydantic refuses is a
422 whose problems speak Bahasa Indonesia (:func:`problem_message`), as the web forms do."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException

from docgen.errors import DataInvalid, DocgenError, ErrorOut, FieldProblem

__all__ = ["add_error_handlers", "error_response", "internal_error", "problem_message"]

log = logging.getLogger(__name__)

_HTTP_ERRORS = {
    404: ("NotFound", "Alamat tidak ditemukan"),
    405: ("MethodNotAllowed", "Metode tidak diizinkan untuk alamat ini"),
}


def problem_message(error: ErrorDetails) -> str:
    """Pydantic's complaint about one value, in Bahasa Indonesia where pydantic says it in
    English; our own checks already speak it (custom errors, FieldInvalid). The API's 422s and
    the office pages' forms (``docgen.web``) both say it this way."""
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
        case "string_type":
            return "harus berupa teks"
        case "int_type" | "int_parsing" | "int_from_float":
            return "harus berupa bilangan bulat"
        case "greater_than_equal":
            return f"minimal {context.get('ge')}"
        case "less_than_equal":
            return f"maksimal {context.get('le')}"
        case "too_long":
            return f"maksimal {context.get('max_length')} isian"
        case "enum" | "literal_error":
            # pydantic lists the choices as "'WIB', 'WITA' or 'WIT'".
            expected = str(context.get("expected", "")).replace(" or ", " atau ")
            return (
                f"pilihan tidak dikenal; pilih {expected}" if expected else "pilihan tidak dikenal"
            )
        case "value_error":
            # Our validators raise FieldInvalid / ValueError with a message in Indonesian.
            return str(context.get("error", error["msg"]))
    return error["msg"]


def error_response(
    status: int, body: ErrorOut, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def internal_error() -> JSONResponse:
    return error_response(
        500, ErrorOut(error="InternalError", detail="Terjadi kesalahan pada server")
    )


def add_error_handlers(app: FastAPI) -> None:
    """Our errors, invalid requests, unknown routes and anything unexpected, as ``ErrorOut``
    (an app adds handlers for more specific errors beside these)."""

    @app.exception_handler(DocgenError)
    async def docgen_error(_: Request, exc: DocgenError) -> JSONResponse:
        return error_response(exc.status_code, exc.body(), exc.headers())

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"][1:]) or "body", problem_message(e))
            for e in exc.errors()
        ]
        return error_response(422, DataInvalid(problems).body())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name, detail = _HTTP_ERRORS.get(exc.status_code, ("HTTPError", str(exc.detail)))
        return error_response(exc.status_code, ErrorOut(error=name, detail=detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return internal_error()
