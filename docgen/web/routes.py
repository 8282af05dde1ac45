"""The office pages' router: the start page, and each role's pages (one module each)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from docgen.people.policies import AnyCaller
from docgen.web import admin_pages, operator_pages, paraf_pages, signing_pages
from docgen.web.render import home_of

__all__ = ["office"]

office = APIRouter(include_in_schema=False)


@office.get("/")
async def home(caller: AnyCaller) -> RedirectResponse:
    """Whoever is logged in starts on their role's first page (nobody: the login page)."""
    assert caller.user is not None
    return RedirectResponse(home_of(caller.user.role), status_code=303)


office.include_router(admin_pages.router)
office.include_router(operator_pages.router)
office.include_router(paraf_pages.router)
# Last: its /dokumen/{document_id} would otherwise catch /dokumen/baru and the like.
office.include_router(signing_pages.router)
