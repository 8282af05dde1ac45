"""How an office page is drawn: one layout with the navigation of the caller's role, the CSRF
token every form carries, and a one-time message after a change (``?pesan=``).

Times: ``{{ moment|waktu(zona) }}`` writes a time in a zone (a ``Zona`` or its name); a time of
a document or a batch is written in its unit's zone (``docgen.people.profiles.zones_of``), a
time that belongs to no unit (the audit log, an API token) in WIB, the zone named after it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from docgen.indonesia import format_nip, tanggal
from docgen.people.policies import CSRF_COOKIE, Caller
from docgen.registry.statuses import Role
from signing.waktu import Zona, format_waktu

__all__ = ["NAVIGATION", "ROLE_LABELS", "Office", "home_of"]

_HERE = Path(__file__).resolve().parent

ROLE_LABELS = {
    Role.ADMIN: "Admin",
    Role.OPERATOR: "Operator",
    Role.SIGNER: "Penanda tangan",
    Role.AUDITOR: "Auditor",
    Role.VERIFIKATOR: "Verifikator",
}

# (label, path) of each role's menu, in order; the first is the role's start page.
NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.ADMIN: [
        ("Dokumen", "/dokumen"),
        ("Batch", "/batch"),
        ("Penanda tangan", "/penanda-tangan"),
        ("Pengguna", "/admin/pengguna"),
        ("Unit", "/admin/unit"),
        ("Templat", "/admin/templat"),
        ("Audit", "/admin/audit"),
    ],
    Role.OPERATOR: [
        ("Dokumen", "/dokumen"),
        ("Batch", "/batch"),
        ("Penanda tangan", "/penanda-tangan"),
    ],
    Role.SIGNER: [("Kotak masuk", "/kotak-masuk"), ("Riwayat", "/riwayat")],
    Role.AUDITOR: [("Dokumen", "/dokumen"), ("Audit", "/admin/audit")],
    Role.VERIFIKATOR: [("Paraf", "/paraf")],
}


def home_of(role: Role) -> str:
    """Where a role starts: the first page of its menu."""
    return NAVIGATION[role][0][1]


class Office:
    """Renders the office pages (``docgen/web/templates``), on the public pages' base."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader([_HERE / "templates", _HERE.parent / "verification" / "web"]),
            autoescape=select_autoescape(["html"]),
        )
        self._env.filters["nip"] = _grouped_nip
        self._env.filters["tanggal"] = _tanggal
        self._env.filters["waktu"] = _waktu

    def page(
        self,
        request: Request,
        caller: Caller,
        template: str,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        user = caller.user
        role = user.role if user else None
        here = request.url.path
        html = self._env.get_template(template).render(
            user=user,
            role_label=ROLE_LABELS[role] if role else "",
            nav=[
                {"label": label, "path": path, "current": here.startswith(path)}
                for label, path in (NAVIGATION[role] if role else [])
            ],
            csrf=request.cookies.get(CSRF_COOKIE, ""),
            pesan=request.query_params.get("pesan"),
            **context,
        )
        return HTMLResponse(html, status_code=status_code)


def _grouped_nip(value: str | None) -> str:
    if not value:
        return ""
    try:
        return format_nip(value)
    except ValueError:
        return value


def _waktu(moment: datetime, zona: Zona | str | None = None) -> str:
    return format_waktu(moment, Zona(zona) if zona else Zona.WIB)


def _tanggal(value: str | None) -> str:
    from datetime import date

    return tanggal(date.fromisoformat(value)) if value else ""
