"""Who is calling, and the one policy each route declares.

A caller is known by an API token (``Authorization: Bearer``) or by a browser session cookie;
a change made with a cookie must carry the session's CSRF token in ``X-CSRF-Token`` (a bearer
token cannot be sent by another site, so it needs none). Every route depends on exactly one of
the aliases below; ``Public`` marks the routes anyone may call.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from docgen.errors import Forbidden, NotAuthenticated
from docgen.kit.limits import MAX_FORM_FIELDS
from docgen.people.service import Accounts
from docgen.registry import audit
from docgen.registry.models import User
from docgen.registry.statuses import Role

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AdminCaller",
    "AnyCaller",
    "AuditCaller",
    "Caller",
    "Public",
    "ReaderCaller",
    "SignerCaller",
    "StaffCaller",
    "VerifikatorCaller",
    "accounts_of",
]

SESSION_COOKIE = "docgen_sesi"
CSRF_COOKIE = "docgen_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """Whoever made the request: a user (``None`` for the public) and their address."""

    user: User | None
    client: str | None
    unit_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return self.user.id if self.user else audit.PUBLIC

    @property
    def role(self) -> Role | None:
        return self.user.role if self.user else None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def unit_scope(self) -> frozenset[str] | None:
        """The units whose records the caller reads; None for all of them (admins)."""
        return None if self.is_admin else self.unit_ids

    def in_unit(self, unit_id: str | None) -> bool:
        """Whether the caller works for ``unit_id`` (admins for every unit)."""
        return self.is_admin or (unit_id is not None and unit_id in self.unit_ids)


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.parts.accounts
    return accounts


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _identify(request: Request) -> Caller:
    accounts = accounts_of(request)
    client = _client(request)
    user: User | None = None
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        user = await accounts.by_token(credentials.strip())
        if user is None:
            raise NotAuthenticated("Token tidak berlaku (salah, dicabut atau kedaluwarsa)")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        found = await accounts.by_session(cookie)
        if found is not None:
            user, csrf = found
            if request.method not in _SAFE_METHODS and not secrets.compare_digest(
                await _csrf_sent(request), csrf
            ):
                raise Forbidden("Token CSRF tidak ada atau salah; muat ulang halaman")
    if user is not None and user.disabled:
        user = None
    caller = Caller(user, client, frozenset(user.unit_ids) if user else frozenset())
    # Every audit entry this request writes names the caller.
    audit.set_actor(audit.Actor(caller.id, client))
    return caller


async def _csrf_sent(request: Request) -> str:
    """The CSRF token of the request: the header (scripts), or the form's ``csrf`` field."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        # The form is parsed once per request: this bound holds for the page that reads it.
        value = (await request.form(max_fields=MAX_FORM_FIELDS)).get("csrf")
        sent = value if isinstance(value, str) else None
    return sent or ""


def allow(*roles: Role) -> Callable[[Request], Awaitable[Caller]]:
    """A policy: a logged-in user with one of ``roles`` (401 for nobody, 403 for others)."""

    async def policy(request: Request) -> Caller:
        caller = await _identify(request)
        if caller.user is None:
            raise NotAuthenticated()
        if caller.user.role not in roles:
            raise Forbidden("Peran Anda tidak diizinkan melakukan ini")
        return caller

    policy.__name__ = "allow_" + "_".join(r.value for r in roles)
    return policy


async def _public(request: Request) -> Caller:
    # Anyone: no cookie or token is read, so a stale session never gets in the way.
    caller = Caller(None, _client(request))
    audit.set_actor(audit.Actor(audit.PUBLIC, caller.client))
    return caller


ALL_ROLES = tuple(Role)

Public = Annotated[Caller, Depends(_public)]
AnyCaller = Annotated[Caller, Depends(allow(*ALL_ROLES))]
AdminCaller = Annotated[Caller, Depends(allow(Role.ADMIN))]
StaffCaller = Annotated[Caller, Depends(allow(Role.ADMIN, Role.OPERATOR))]
SignerCaller = Annotated[Caller, Depends(allow(Role.SIGNER))]
ReaderCaller = Annotated[Caller, Depends(allow(Role.ADMIN, Role.OPERATOR, Role.AUDITOR))]
AuditCaller = Annotated[Caller, Depends(allow(Role.ADMIN, Role.AUDITOR))]
VerifikatorCaller = Annotated[Caller, Depends(allow(Role.VERIFIKATOR))]
