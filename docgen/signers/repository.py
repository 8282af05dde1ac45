"""Queries of signers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import NotFound
from docgen.registry.models import DeploymentAuthority, PublishedCrl, Signer, User
from docgen.registry.statuses import SignerStatus

__all__ = [
    "DEPLOYMENT",
    "account_of",
    "authority",
    "former_account",
    "get",
    "in_effect",
    "lock",
    "lock_authority",
    "names",
    "newest_crl",
    "newest_crl_number",
    "replacement_of",
    "reset_pin_tries",
    "revoked",
    "take_pin_try",
]


async def get(session: AsyncSession, signer_id: str) -> Signer:
    """Raises NotFound."""
    signer = await session.get(Signer, signer_id)
    if signer is None:
        raise NotFound("Penanda tangan tidak ditemukan")
    return signer


async def names(session: AsyncSession, signer_ids: Iterable[str | None]) -> dict[str, str]:
    """The names of these signers (signer id -> name); ``None`` and unknown ids are left out."""
    wanted = {i for i in signer_ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(Signer.id, Signer.name).where(Signer.id.in_(wanted)))
    return dict(rows.tuples().all())


async def revoked(session: AsyncSession) -> list[Signer]:
    """Every signer whose certificate is revoked."""
    return list(await session.scalars(select(Signer).where(Signer.revoked_at.is_not(None))))


async def newest_crl(session: AsyncSession) -> PublishedCrl | None:
    """The CRL published last (the highest number); None before the first."""
    return await session.scalar(select(PublishedCrl).order_by(PublishedCrl.number.desc()).limit(1))


async def newest_crl_number(session: AsyncSession) -> int:
    """The number of the CRL published last; 0 before the first."""
    return int(await session.scalar(select(func.max(PublishedCrl.number))) or 0)


async def in_effect(
    session: AsyncSession, *, nip: str | None = None, nik: str | None = None
) -> Signer | None:
    """The enrolment in effect (not revoked, not a pending replacement) of a number."""
    query = select(Signer).where(
        Signer.status != SignerStatus.DICABUT, Signer.replaces_id.is_(None)
    )
    if nip is not None:
        query = query.where(Signer.nip == nip)
    elif nik is not None:
        query = query.where(Signer.nik == nik)
    else:
        return None
    return await session.scalar(query)


async def replacement_of(session: AsyncSession, signer_id: str) -> Signer | None:
    """The re-enrolment waiting to take over from ``signer_id``."""
    return await session.scalar(
        select(Signer).where(Signer.replaces_id == signer_id, Signer.status != SignerStatus.DICABUT)
    )


async def former_account(session: AsyncSession, *, nip: str | None, nik: str | None) -> User | None:
    """The account of a person whose enrolment under this number was revoked."""
    number = Signer.nip == nip if nip is not None else Signer.nik == nik
    return await session.scalar(
        select(User)
        .join(Signer, User.signer_id == Signer.id)
        .where(number, Signer.status == SignerStatus.DICABUT)
        .limit(1)
    )


async def account_of(session: AsyncSession, signer_id: str) -> User | None:
    """The signer account whose enrolment this is (or which it will replace)."""
    return await session.scalar(select(User).where(User.signer_id == signer_id))


async def take_pin_try(
    session: AsyncSession, signer_id: str, max_attempts: int, now: datetime
) -> int | None:
    """Count one PIN try unless the signer is locked or ``max_attempts`` tries are already
    under way or failed; returns the try's number (1-based), None when refused."""
    result = await session.execute(
        update(Signer)
        .where(
            Signer.id == signer_id,
            Signer.failed_pins < max_attempts,
            or_(Signer.locked_until.is_(None), Signer.locked_until <= now),
        )
        .values(failed_pins=Signer.failed_pins + 1)
        .returning(Signer.failed_pins)
    )
    attempt = result.scalar_one_or_none()
    return None if attempt is None else int(attempt)


async def lock(session: AsyncSession, signer_id: str, until: datetime) -> None:
    await session.execute(
        update(Signer).where(Signer.id == signer_id).values(failed_pins=0, locked_until=until)
    )


async def reset_pin_tries(session: AsyncSession, signer_id: str) -> None:
    await session.execute(update(Signer).where(Signer.id == signer_id).values(failed_pins=0))


DEPLOYMENT = "deployment"  # the id of the one row of certificate_authority


async def authority(session: AsyncSession) -> DeploymentAuthority | None:
    """The deployment's CA as the registry keeps it, read afresh (None before the first start)."""
    return await session.get(DeploymentAuthority, DEPLOYMENT, populate_existing=True)


async def lock_authority(session: AsyncSession) -> None:
    """Hold the deployment's CA for this transaction: one instance at a time makes or adopts it
    (the mode conflicts with itself, not with plain reads)."""
    await session.execute(text("LOCK TABLE certificate_authority IN SHARE ROW EXCLUSIVE MODE"))
