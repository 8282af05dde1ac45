"""The one sandboxed Jinja environment every template renders in, with its Indonesian filters,
and the ``ttd()`` marker of a signature's place.

Security: templates render in a ``SandboxedEnvironment`` (no ``__class__``/``__mro__`` walks to
Python internals) with autoescape on, so user text such as ``<script>&`` lands in ``<w:t>`` as
escaped character data and cannot break the document XML.

Operators: ``**`` is intercepted (as Jinja's sandbox documentation shows) and refused for an
exponent over ``MAX_EXPONENT``: ``2 ** 10 ** 10`` would hold the interpreter in one C call,
where no time limit of the render (:mod:`docgen.pipeline.bounds`) can stop it but by ending
the process.

Signature places: ``{{ ttd('<role>') }}`` emits the marker text ``#TTD:<role>#`` in a separate
run, white and 2 pt high, so it is invisible on paper but found by PDF text extraction. Templates
put it at the top-left corner of the empty signature area (at least 72 pt high).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from docgen import indonesia
from signing.prepare.anchors import anchor_marker

__all__ = ["MAX_EXPONENT", "jinja_environment", "ttd_markup"]

_ROLE_RE = re.compile(r"[a-z][a-z0-9_]*")
MAX_EXPONENT = 100


class _TemplateEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"**"})

    def call_binop(self, context: Context, operator: str, left: object, right: object) -> object:
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"pangkat lebih dari {MAX_EXPONENT} tidak diizinkan")
        return super().call_binop(context, operator, left, right)


def ttd_markup(role: str) -> Markup:
    """WordprocessingML that closes the current run, adds the hidden marker run, reopens a run.

    docxtpl places the result of ``{{ ... }}`` inside ``<w:t>``; Markup is inserted unescaped.
    """
    if not _ROLE_RE.fullmatch(role):
        raise ValueError(f"invalid role name {role!r}")
    return Markup(
        "</w:t></w:r>"
        '<w:r><w:rPr><w:color w:val="FFFFFF"/><w:sz w:val="4"/><w:szCs w:val="4"/></w:rPr>'
        f'<w:t xml:space="preserve">{anchor_marker(role)}</w:t></w:r>'
        '<w:r><w:t xml:space="preserve">'
    )


def _date_filter(fn: Callable[[date], str]) -> Callable[[object], str]:
    def apply(value: object) -> str:
        if not isinstance(value, date):
            raise TypeError(f"{fn.__name__} expects a date, got {type(value).__name__}")
        return fn(value)

    apply.__name__ = fn.__name__
    return apply


@functools.cache
def jinja_environment() -> SandboxedEnvironment:
    """The one sandboxed environment all templates render in (built on first use)."""
    env = _TemplateEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(
        {
            "tanggal": _date_filter(indonesia.tanggal),
            "tanggal_pendek": _date_filter(indonesia.tanggal_pendek),
            "tanggal_terbilang": _date_filter(indonesia.tanggal_terbilang),
            "terbilang": indonesia.terbilang,
            "jumlah_terbilang": indonesia.jumlah_terbilang,
            "bulan_romawi": indonesia.bulan_romawi,
            "nip": indonesia.format_nip,
            "pangkat": indonesia.pangkat_golongan,
            "kapital": indonesia.nama_gelar_kapital,
        }
    )
    return env
