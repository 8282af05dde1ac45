"""Queries of signers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import NotFound
from docgen.registry.models import Signer

__all__ = ["get", "revoked"]


async def get(session: AsyncSession, signer_id: str) -> Signer:
    """Raises NotFound."""
    signer = await session.get(Signer, signer_id)
    if signer is None:
        raise NotFound("Penanda tangan tidak ditemukan")
    return signer


async def revoked(session: AsyncSession) -> list[Signer]:
    """Every signer whose certificate is revoked."""
    return list(await session.scalars(select(Signer).where(Signer.revoked_at.is_not(None))))
