"""Queries of the recorded template versions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import Conflict
from docgen.registry.models import TemplateVersion

__all__ = ["add_version", "all_versions", "highest_version"]


async def all_versions(session: AsyncSession) -> list[TemplateVersion]:
    """Every recorded upload, by id and version."""
    found = await session.scalars(
        select(TemplateVersion).order_by(TemplateVersion.template_id, TemplateVersion.version)
    )
    return list(found)


async def highest_version(session: AsyncSession, template_id: str) -> int:
    """The highest recorded version of ``template_id``; 0 when none is."""
    highest = await session.scalar(
        select(func.max(TemplateVersion.version)).where(TemplateVersion.template_id == template_id)
    )
    return int(highest or 0)


async def add_version(session: AsyncSession, version: TemplateVersion) -> None:
    """Record an upload in the caller's transaction.

    Raises Conflict: another process recorded the same id and version first.
    """
    session.add(version)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"Templat {version.template_id} versi {version.version} baru saja dicatat oleh "
            "proses lain; coba unggah lagi"
        ) from exc
