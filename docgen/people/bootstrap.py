"""Accounts made on the server itself, against the registry (``docgen users add``): the first
admin of a new deployment needs no running service and no one to approve it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from sqlalchemy import select

from docgen.errors import DocgenError
from docgen.kit.links import Links
from docgen.notifications import Notifier
from docgen.people.service import Accounts, LoginPolicy
from docgen.registry import audit
from docgen.registry.db import Database, require_current_schema, running_registry
from docgen.registry.models import Unit
from docgen.registry.statuses import Role
from docgen.settings import Settings

__all__ = ["add_user"]


async def add_user(
    settings: Settings, username: str, role: str, password: str | None, unit_codes: Sequence[str]
) -> dict[str, Any]:
    """Create the account; returns ``{"id", "otpauth_uri"}`` (and ``activation_url`` when no
    password was given). Raises ValueError with a message in Bahasa Indonesia; SchemaNotCurrent
    before `docgen migrate`."""
    try:
        chosen = Role(role)
    except ValueError:
        raise ValueError("peran harus admin, operator atau auditor") from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with running_registry(settings) as registry:
        await anyio.to_thread.run_sync(require_current_schema, registry)
        db = Database.of(registry, settings)
        links = Links(settings.base_url)
        try:
            async with Notifier.of(settings, db, links).running() as notifier:
                return await _add_user(
                    Accounts(db, links, LoginPolicy.of(settings), notifier),
                    username,
                    chosen,
                    password,
                    unit_codes,
                )
        finally:
            await db.close()


async def _add_user(
    accounts: Accounts, username: str, chosen: Role, password: str | None, unit_codes: Sequence[str]
) -> dict[str, Any]:
    db = accounts.db
    try:
        async with db.session() as session:
            units = list(await session.scalars(select(Unit).where(Unit.code.in_(unit_codes))))
        missing = set(unit_codes) - {u.code for u in units}
        if missing:
            raise ValueError(f"unit tidak ditemukan: {', '.join(sorted(missing))}")
        unit_ids = [u.id for u in units]
        with audit.acting(audit.Actor(audit.SYSTEM, "cli")):
            if password is None:
                user_id, url = await accounts.create_user(username, chosen, unit_ids)
                return {"id": user_id, "otpauth_uri": None, "activation_url": url}
            user, uri = await accounts.create_active_user(username, chosen, password, unit_ids)
        return {"id": user.id, "otpauth_uri": uri}
    except DocgenError as exc:
        problems = getattr(exc, "problems", [])
        raise ValueError("; ".join([exc.detail, *(p.message for p in problems)])) from None
