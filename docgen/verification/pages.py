"""Server-rendered public pages (Bahasa Indonesia, phone-first)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from docgen.indonesia import tanggal
from signing.waktu import Zona, format_waktu


def waktu(iso: str, zona: Zona | str = Zona.WIB) -> str:
    """'2024-06-27T07:05:00+00:00' -> '27 Juni 2024 14:05 WIB' (in WITA: '15:05 WITA')."""
    return format_waktu(datetime.fromisoformat(iso), Zona(zona))


class Pages:
    def __init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader(Path(__file__).resolve().parent / "web"),
            autoescape=select_autoescape(["html"]),
        )

    def verify(self, view: dict[str, Any] | None) -> str:
        return self._env.get_template("verify.html").render(
            v=_with_dates(view) if view is not None else None
        )

    def upload(self, report: dict[str, Any] | None = None, error: str | None = None) -> str:
        if report is not None:
            document = report["document"]
            # An uploaded copy of a document issued here shows its times in its unit's zone;
            # a PDF from elsewhere belongs to no unit of ours.
            zona = document["document"]["timezone"] if document is not None else Zona.WIB
            signatures = [
                {**s, "timestamp_text": waktu(s["timestamp"], zona) if s["timestamp"] else None}
                for s in report["signatures"]
            ]
            report = {
                **report,
                "signatures": signatures,
                "document": _with_dates(document) if document is not None else None,
            }
        return self._env.get_template("upload.html").render(r=report, error=error)


def _with_dates(view: dict[str, Any]) -> dict[str, Any]:
    """A document's view (``VerificationOut`` as JSON) with its dates written out, its times in
    the zone of its unit."""
    document = dict(view["document"])
    zona = document["timezone"]
    document["date_text"] = tanggal(date.fromisoformat(document["date"]))
    if document["revoked_at"]:
        document["revoked_at_text"] = waktu(document["revoked_at"], zona)
    signatures = [
        {**s, "signed_at_text": waktu(s["signed_at"], zona) if s["signed_at"] else None}
        for s in view["signatures"]
    ]
    emeterai = view.get("emeterai")
    if emeterai and emeterai["affixed_at"]:
        emeterai = {**emeterai, "affixed_at_text": waktu(emeterai["affixed_at"], zona)}
    return {**view, "document": document, "signatures": signatures, "emeterai": emeterai}
