"""Accounts: units, users, activation links, logins, browser sessions and API tokens.

Every counter (failed logins) changes in the database with one statement, so concurrent
requests on any instance all count. Secrets (passwords, session cookies, tokens, links) are
kept only as hashes.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import Conflict, DataInvalid, FieldProblem, LoginFailed, NotFound
from docgen.kit.links import Links
from docgen.notifications import Notifier
from docgen.people import repository
from docgen.people.security import (
    Passwords,
    TotpCheck,
    new_token,
    new_totp_secret,
    otpauth_uri,
    password_problem,
    token_digest,
)
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import (
    Activation,
    ApiToken,
    LoginSession,
    Unit,
    User,
    utcnow,
)
from docgen.registry.statuses import Role
from docgen.settings import Settings

__all__ = ["Accounts", "ActivationView", "LoginPolicy", "NewSession"]

TOKEN_PREFIX = "dg_"


@dataclass(frozen=True)
class LoginPolicy:
    session_hours: int
    token_days: int
    activation_hours: int
    signer_totp: bool
    slow_after: int
    max_failures: int
    lock_minutes: int
    passwords: Passwords

    @classmethod
    def of(cls, settings: Settings) -> LoginPolicy:
        return cls(
            session_hours=settings.session_hours,
            token_days=settings.token_days,
            activation_hours=settings.activation_hours,
            signer_totp=settings.signer_totp,
            slow_after=settings.login_slow_after,
            max_failures=settings.login_max_failures,
            lock_minutes=settings.login_lock_minutes,
            passwords=Passwords(settings.password_time_cost, settings.password_memory_kib),
        )

    def totp_required(self, role: Role) -> bool:
        # A verifikator's paraf opens a document for signing: as strong a login as staff's.
        staff = (Role.ADMIN, Role.OPERATOR, Role.VERIFIKATOR)
        return role in staff or (role == Role.SIGNER and self.signer_totp)


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class ActivationView:
    """What an activation link shows before it is used."""

    user: User
    totp_secret: str | None
    totp_required: bool

    @property
    def otpauth_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        return otpauth_uri(self.totp_secret, self.user.username)


class Accounts:
    def __init__(self, db: Database, links: Links, policy: LoginPolicy, notifier: Notifier) -> None:
        self.db = db
        self.links = links
        self.policy = policy
        self.notifier = notifier

    # Units and users ------------------------------------------------------------------------

    async def create_unit(self, name: str, code: str) -> Unit:
        """Raises Conflict (409: the code is taken)."""
        async with self.db.writing() as session:
            if await session.scalar(select(Unit).where(Unit.code == code)) is not None:
                raise Conflict(f"Kode unit {code!r} sudah dipakai")
            unit = Unit(id=uuid.uuid4().hex, name=name, code=code)
            session.add(unit)
            await audit.record(session, "unit.created", "unit", unit.id, name=name, code=code)
            await session.commit()
        return unit

    async def add_user(
        self,
        session: AsyncSession,
        username: str,
        role: Role,
        unit_ids: Sequence[str],
        *,
        signer_id: str | None = None,
        email: str | None = None,
    ) -> User:
        """A new account, not yet activated, in the caller's transaction.

        Raises Conflict (409: the username is taken), DataInvalid (an unknown unit).
        """
        if await repository.by_username(session, username) is not None:
            raise Conflict(f"Nama pengguna {username!r} sudah dipakai")
        units = await repository.units(session, unit_ids, "unit_ids")
        user = User(
            id=uuid.uuid4().hex,
            username=username,
            role=role,
            email=email,
            units=units,
            signer_id=signer_id,
            totp_step=0,
            failed_logins=0,
            disabled=False,
        )
        session.add(user)
        await audit.record(
            session, "user.created", "user", user.id, username=username, role=role.value
        )
        return user

    async def create_user(
        self, username: str, role: Role, unit_ids: Sequence[str], email: str | None = None
    ) -> tuple[str, str]:
        """A new account's id and activation URL. Signers are enrolled (``docgen.signers``).

        Raises Conflict, DataInvalid.
        """
        if role == Role.SIGNER:
            message = "penanda tangan didaftarkan melalui /api/v1/signers"
            raise DataInvalid([FieldProblem("role", message)])
        if role in (Role.OPERATOR, Role.AUDITOR, Role.VERIFIKATOR) and not unit_ids:
            message = "operator, auditor dan verifikator memerlukan unit"
            raise DataInvalid([FieldProblem("unit_ids", message)])
        async with self.db.writing() as session:
            user = await self.add_user(session, username, role, unit_ids, email=email)
            url = await self.new_activation(session, user)
            await session.commit()
        return user.id, url

    async def new_activation(self, session: AsyncSession, user: User) -> str:
        """A one-time activation link for ``user`` (earlier unused links stop working), in the
        caller's transaction; returns its URL. It goes to the user's e-mail address, if they
        have one, once the transaction commits."""
        now = utcnow()
        await session.execute(
            update(Activation)
            .where(Activation.user_id == user.id, Activation.used_at.is_(None))
            .values(used_at=now)
        )
        token, digest = new_token()
        session.add(
            Activation(
                token_sha256=digest,
                user_id=user.id,
                totp_secret=new_totp_secret(),
                expires_at=now + timedelta(hours=self.policy.activation_hours),
            )
        )
        await audit.record(session, "user.activation_issued", "user", user.id)
        url = self.links.activation_url(token)
        self.notifier.activation(session, user.id, url)
        return url

    async def reissue_activation(self, user_id: str) -> str:
        """A new activation link (e.g. a forgotten password). Raises NotFound."""
        async with self.db.writing() as session:
            user = await repository.get_user(session, user_id)
            url = await self.new_activation(session, user)
            await session.commit()
        return url

    async def create_active_user(
        self, username: str, role: Role, password: str, unit_ids: Sequence[str]
    ) -> tuple[User, str | None]:
        """An account active at once (the first admin, from the server's own command line),
        and the otpauth URI of its TOTP secret where one is required. Raises Conflict,
        DataInvalid."""
        if role == Role.SIGNER:
            raise DataInvalid([FieldProblem("role", "penanda tangan didaftarkan melalui API")])
        problem = password_problem(password, username)
        if problem:
            raise DataInvalid([FieldProblem("password", problem)])
        secret = new_totp_secret() if self.policy.totp_required(role) else None
        password_hash = await self.policy.passwords.hash(password)
        async with self.db.writing() as session:
            user = await self.add_user(session, username, role, unit_ids)
            user.password_hash = password_hash
            user.totp_secret = secret
            await session.commit()
        return user, otpauth_uri(secret, username) if secret else None

    async def pending_first_admin(self) -> str | None:
        """While no admin has activated an account: an activation link for one (``admin``),
        made if needed, for the start-up banner. None once an admin exists."""
        async with self.db.writing() as session:
            admins = list(await session.scalars(select(User).where(User.role == Role.ADMIN)))
            if any(a.password_hash for a in admins):
                return None
            user = admins[0] if admins else await self.add_user(session, "admin", Role.ADMIN, [])
            url = await self.new_activation(session, user)
            await session.commit()
        return url

    # Activation -----------------------------------------------------------------------------

    async def activation(self, token: str) -> ActivationView:
        """Raises NotFound (unknown, used or expired: one answer)."""
        async with self.db.session() as session:
            found = await repository.activation(session, token_digest(token), utcnow())
            if found is None:
                raise NotFound("Tautan aktivasi tidak ditemukan, sudah dipakai atau kedaluwarsa")
            user = await repository.get_user(session, found.user_id)
        return ActivationView(user, found.totp_secret, self.policy.totp_required(user.role))

    async def activate(
        self,
        token: str,
        password: str,
        otp: str | None,
        within: Callable[[AsyncSession, User], Awaitable[None]] | None = None,
    ) -> User:
        """Use the link: set the password and, with a right first code, the TOTP secret;
        ``within`` adds to the same transaction (a signer's key). The link then answers 404.

        Raises NotFound, DataInvalid (a weak password, a missing or wrong code).
        """
        view = await self.activation(token)
        user = view.user
        problems = []
        problem = password_problem(password, user.username)
        if problem:
            problems.append(FieldProblem("password", problem))
        step = None
        if view.totp_secret and (otp or view.totp_required):
            step = TotpCheck.step(view.totp_secret, otp, 0, utcnow())
            if step is None:
                problems.append(FieldProblem("otp", "kode autentikator salah atau kedaluwarsa"))
        if problems:
            raise DataInvalid(problems)
        password_hash = await self.policy.passwords.hash(password)
        async with self.db.writing() as session:
            used = await session.execute(
                update(Activation)
                .where(Activation.token_sha256 == token_digest(token), Activation.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if used.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("Tautan aktivasi tidak ditemukan, sudah dipakai atau kedaluwarsa")
            current = await repository.get_user(session, user.id)
            # A new password ends whatever was open with the old one.
            await session.execute(delete(LoginSession).where(LoginSession.user_id == current.id))
            await session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == current.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            current.password_hash = password_hash
            current.failed_logins = 0
            current.locked_until = None
            if step is not None:
                current.totp_secret = view.totp_secret
                current.totp_step = step
            # From here on the new account's owner acts (a signer's key is made in ``within``).
            with audit.acting(audit.Actor(current.id, audit.current_actor().client)):
                if within is not None:
                    await within(session, current)
                await audit.record(session, "user.activated", "user", current.id)
            await session.commit()
        return current

    # Logging in -----------------------------------------------------------------------------

    async def login(self, username: str, password: str, otp: str | None) -> User:
        """The user, if everything is right. Failures in a row are counted: after
        ``slow_after`` each try must wait longer (doubling from 1 s), after ``max_failures``
        the account is locked for ``lock_minutes``. Raises LoginFailed (one answer for all)."""
        policy = self.policy
        now = utcnow()
        async with self.db.session() as session:
            user = await repository.by_username(session, username)
        if user is None or user.disabled or not user.password_hash:
            await self.policy.passwords.verify(None, password)
            raise LoginFailed()
        if user.locked_until is not None and user.locked_until > now:
            raise LoginFailed()
        extra = user.failed_logins - policy.slow_after
        if extra >= 0 and user.last_failed_at is not None:
            wait = timedelta(seconds=min(2**extra, 60))
            if now < user.last_failed_at + wait:
                raise LoginFailed()
        right = await self.policy.passwords.verify(user.password_hash, password)
        step = None
        if right and user.totp_secret:
            step = TotpCheck.step(user.totp_secret, otp, user.totp_step, now)
            right = step is not None
        elif right and policy.totp_required(user.role):
            right = False  # an account that must have a second factor and has none
        async with self.db.writing() as session:
            if not right:
                failed = await repository.count_failed_login(session, user.id, now)
                await audit.record(session, "user.login_failed", "user", user.id)
                if failed >= policy.max_failures:
                    await session.execute(
                        update(User)
                        .where(User.id == user.id)
                        .values(
                            failed_logins=0,
                            locked_until=now + timedelta(minutes=policy.lock_minutes),
                        )
                    )
                    await audit.record(session, "user.locked", "user", user.id)
                await session.commit()
                raise LoginFailed()
            values: dict[str, object] = {"failed_logins": 0, "last_failed_at": None}
            query = update(User).where(User.id == user.id)
            if step is not None:
                # A code is good once, also when two logins race with it.
                query = query.where(User.totp_step < step)
                values["totp_step"] = step
            if (await session.execute(query.values(**values))).rowcount != 1:  # type: ignore[attr-defined]
                raise LoginFailed()
            await session.commit()
        return user

    async def start_session(self, user: User) -> NewSession:
        cookie, digest = new_token()
        csrf = secrets.token_urlsafe(24)
        expires_at = utcnow() + timedelta(hours=self.policy.session_hours)
        async with self.db.writing() as session:
            session.add(
                LoginSession(token_sha256=digest, user_id=user.id, csrf=csrf, expires_at=expires_at)
            )
            with audit.acting(audit.Actor(user.id, audit.current_actor().client)):
                await audit.record(session, "user.logged_in", "user", user.id)
            await session.commit()
        return NewSession(cookie, csrf, expires_at)

    async def end_session(self, cookie: str) -> None:
        async with self.db.writing() as session:
            await session.execute(
                delete(LoginSession).where(LoginSession.token_sha256 == token_digest(cookie))
            )
            await session.commit()

    async def by_session(self, cookie: str) -> tuple[User, str] | None:
        async with self.db.session() as session:
            return await repository.session_user(session, token_digest(cookie), utcnow())

    async def by_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        async with self.db.session() as session:
            return await repository.token_user(session, token_digest(token), utcnow())

    # API tokens -----------------------------------------------------------------------------

    async def new_api_token(self, user: User, name: str) -> tuple[ApiToken, str]:
        token, digest = new_token(TOKEN_PREFIX)
        row = ApiToken(
            id=uuid.uuid4().hex,
            user_id=user.id,
            name=name,
            token_sha256=digest,
            expires_at=utcnow() + timedelta(days=self.policy.token_days),
        )
        async with self.db.writing() as session:
            session.add(row)
            with audit.acting(audit.Actor(user.id, audit.current_actor().client)):
                await audit.record(session, "token.created", "token", row.id, name=name)
            await session.commit()
        return row, token

    async def api_tokens(self, user: User) -> list[ApiToken]:
        async with self.db.session() as session:
            return list(
                await session.scalars(
                    select(ApiToken)
                    .where(ApiToken.user_id == user.id)
                    .order_by(ApiToken.created_at.desc())
                )
            )

    async def revoke_api_token(self, user: User, token_id: str) -> None:
        """Raises NotFound (not one of the user's live tokens)."""
        async with self.db.writing() as session:
            revoked = await session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    ApiToken.user_id == user.id,
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            if revoked.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("Token tidak ditemukan")
            await audit.record(session, "token.revoked", "token", token_id)
            await session.commit()

    async def change_password(self, user: User, old: str, new: str) -> None:
        """Raises DataInvalid (the old password is wrong, the new one weak)."""
        async with self.db.session() as session:
            current = await repository.get_user(session, user.id)
        if not await self.policy.passwords.verify(current.password_hash, old):
            raise DataInvalid([FieldProblem("old_password", "kata sandi lama salah")])
        problem = password_problem(new, user.username)
        if problem:
            raise DataInvalid([FieldProblem("new_password", problem)])
        password_hash = await self.policy.passwords.hash(new)
        async with self.db.writing() as session:
            await session.execute(
                update(User).where(User.id == user.id).values(password_hash=password_hash)
            )
            await audit.record(session, "user.password_changed", "user", user.id)
            await session.commit()

    async def users(self) -> list[User]:
        async with self.db.session() as session:
            return list(await session.scalars(select(User).order_by(User.created_at)))

    async def units(self) -> list[Unit]:
        async with self.db.session() as session:
            return list(await session.scalars(select(Unit).order_by(Unit.name)))
