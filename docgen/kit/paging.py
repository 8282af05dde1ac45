"""Pages of a listing: the page a caller asks for (``page``, ``per_page``) and the shape of one
page of answers (``items``, ``total``, ``page``, ``per_page``), for every list route.

Query parameters are read by the checks below rather than by pydantic's own, so a bad value
is a 422 whose problems speak Bahasa Indonesia; an empty filter (an empty field of a form) is
no filter.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from docgen.errors import FieldInvalid

__all__ = ["PER_PAGE", "PER_PAGE_MAX", "PageOut", "PageQuery", "one_of", "optional_filter"]

PER_PAGE = 20
PER_PAGE_MAX = 100


def _problem(exc: FieldInvalid) -> PydanticCustomError:
    return PydanticCustomError("nilai_tidak_valid", str(exc))


def optional_filter(check: Callable[[str], Any]) -> BeforeValidator:
    """A filter read by ``check`` (which raises FieldInvalid with the message the caller
    sees); an empty value is no filter."""

    def read(value: object) -> Any:
        if value is None:
            return None
        text = str(value).strip()
        if not text:
            return None
        try:
            return check(text)
        except FieldInvalid as exc:
            raise _problem(exc) from exc

    return BeforeValidator(read)


def one_of(enum: type[StrEnum]) -> Callable[[str], StrEnum]:
    """A check: one of the values of ``enum``."""

    def check(value: str) -> StrEnum:
        try:
            return enum(value)
        except ValueError:
            raise FieldInvalid("harus salah satu dari: " + ", ".join(enum)) from None

    return check


def _whole_number(low: int, high: int | None) -> BeforeValidator:
    said = f"dari {low} sampai {high}" if high is not None else f"{low} atau lebih"

    def read(value: object) -> int:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 9:
            raise _problem(FieldInvalid(f"harus bilangan bulat {said}"))
        number = int(text)
        if number < low or (high is not None and number > high):
            raise _problem(FieldInvalid(f"harus bilangan bulat {said}"))
        return number

    return BeforeValidator(read)


class PageQuery(BaseModel):
    """Which page of a listing: ``per_page`` items from the ``page``-th page (from 1)."""

    page: Annotated[int, Field(ge=1, description="which page, from 1"), _whole_number(1, None)] = 1
    per_page: Annotated[
        int,
        Field(ge=1, le=PER_PAGE_MAX, description=f"items per page, at most {PER_PAGE_MAX}"),
        _whole_number(1, PER_PAGE_MAX),
    ] = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class PageOut(BaseModel):
    """One page of a listing: its ``items`` (in the subclass), of ``total`` in all."""

    total: int = Field(description="how many there are in all, on every page")
    page: int
    per_page: int
