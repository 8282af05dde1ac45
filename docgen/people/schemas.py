"""What goes in and out of the accounts' routes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from docgen.kit.types import Instant, PlainText
from docgen.registry.models import ApiToken, AuditEntry, Unit, User, column_length
from docgen.registry.statuses import Role

__all__ = [
    "ActivationIn",
    "ActivationOut",
    "AuditEntryOut",
    "AuditOut",
    "LoginIn",
    "MeOut",
    "PasswordChangeIn",
    "TokenIn",
    "TokenNewOut",
    "TokenOut",
    "UnitIn",
    "UnitOut",
    "UserCreatedOut",
    "UserIn",
    "UserOut",
]

# A login name or a unit code: letters, digits and ``._-`` (no space, nothing hidden).
USERNAME = r"^[A-Za-z0-9._-]+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class LoginIn(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)
    otp: str | None = Field(default=None, max_length=10, description="the TOTP code, if asked")


class TokenIn(LoginIn):
    name: PlainText = Field(
        min_length=1, max_length=column_length(ApiToken.name), examples=["SIMPEG BKPSDM"]
    )


class TokenNewOut(BaseModel):
    token: str = Field(description="shown once; send as `Authorization: Bearer <token>`")
    id: str
    name: str
    expires_at: Instant


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: Instant
    expires_at: Instant
    revoked_at: Instant | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls.model_validate(token, from_attributes=True)


class UnitIn(BaseModel):
    name: PlainText = Field(
        min_length=2, max_length=column_length(Unit.name), examples=["BKPSDM Kabupaten Sidoarjo"]
    )
    code: str = Field(
        min_length=1, max_length=column_length(Unit.code), pattern=USERNAME, examples=["BKPSDM"]
    )


class UnitOut(BaseModel):
    id: str
    name: str
    code: str

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls(id=unit.id, name=unit.name, code=unit.code)


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=column_length(User.username), pattern=USERNAME)
    role: Role = Field(description="admin, operator or auditor (signers: POST /signers)")
    unit_ids: list[Annotated[PlainText, Field(max_length=column_length(Unit.id))]] = Field(
        default_factory=list, max_length=100
    )
    email: PlainText | None = Field(
        default=None,
        max_length=column_length(User.email),
        pattern=EMAIL,
        description="where the activation link goes",
    )


class UserOut(BaseModel):
    id: str
    username: str
    role: Role
    email: str | None
    unit_ids: list[str]
    signer_id: str | None
    active: bool = Field(description="the account has been activated")
    totp: bool = Field(description="a TOTP second factor is set")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            email=user.email,
            unit_ids=user.unit_ids,
            signer_id=user.signer_id,
            active=user.password_hash is not None,
            totp=user.totp_secret is not None,
        )


class UserCreatedOut(BaseModel):
    id: str
    activation_url: str


class MeOut(UserOut):
    csrf_token: str | None = Field(description="for cookie sessions: send as X-CSRF-Token")


class ActivationOut(BaseModel):
    username: str
    role: Role
    otpauth_uri: str | None = Field(description="scan with an authenticator app")
    totp_required: bool
    pin_required: bool = Field(description="a signer chooses the PIN of their key here")


class ActivationIn(BaseModel):
    password: str = Field(max_length=200)
    pin: str | None = Field(default=None, max_length=64)
    otp: str | None = Field(default=None, max_length=10)


class PasswordChangeIn(BaseModel):
    old_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


class AuditEntryOut(BaseModel):
    id: int
    at: Instant
    action: str
    entity: str
    entity_id: str
    details: dict[str, Any]
    actor: str | None = Field(description="a user id, publik or sistem")
    client: str | None
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls.model_validate(entry, from_attributes=True)


class AuditOut(BaseModel):
    chain_intact: bool
    broken_at: int | None = Field(description="the first entry that breaks the chain")
    entries: list[AuditEntryOut]
