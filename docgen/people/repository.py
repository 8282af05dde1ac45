"""Queries of units, accounts, sessions, tokens and activation links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import DataInvalid, FieldProblem, NotFound
from docgen.registry.models import Activation, ApiToken, LoginSession, Unit, User

__all__ = [
    "activation",
    "by_username",
    "count_failed_login",
    "get_user",
    "session_user",
    "token_user",
    "units",
]


async def get_user(session: AsyncSession, user_id: str) -> User:
    """Raises NotFound."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("Pengguna tidak ditemukan")
    return user


async def by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def units(session: AsyncSession, unit_ids: Sequence[str], field: str) -> list[Unit]:
    """The units of ``unit_ids``, in order. Raises DataInvalid naming ``field``."""
    found = {u.id: u for u in await session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))}
    missing = [i for i in unit_ids if i not in found]
    if missing:
        raise DataInvalid([FieldProblem(field, f"unit tidak ditemukan: {', '.join(missing)}")])
    return [found[i] for i in unit_ids]


async def activation(session: AsyncSession, digest: str, now: datetime) -> Activation | None:
    """An unused, unexpired activation link."""
    return await session.scalar(
        select(Activation).where(
            Activation.token_sha256 == digest,
            Activation.used_at.is_(None),
            Activation.expires_at > now,
        )
    )


async def session_user(
    session: AsyncSession, digest: str, now: datetime
) -> tuple[User, str] | None:
    """The user of a live browser session, and its CSRF token."""
    row = (
        await session.execute(
            select(User, LoginSession.csrf)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.token_sha256 == digest, LoginSession.expires_at > now)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def token_user(session: AsyncSession, digest: str, now: datetime) -> User | None:
    """The user of a live API token."""
    return await session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_sha256 == digest,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
    )


async def count_failed_login(session: AsyncSession, user_id: str, now: datetime) -> int:
    """One more failed login, counted in the database itself (concurrent failures all count);
    returns the count."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1, last_failed_at=now)
        .returning(User.failed_logins)
    )
    return int(result.scalar_one())
