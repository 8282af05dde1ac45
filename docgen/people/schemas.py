"""What goes in and out of the accounts' routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from docgen.kit.types import Instant, PlainText
from docgen.registry.models import (
    ApiToken,
    AuditEntry,
    Unit,
    UnitEmblem,
    UnitProfile,
    User,
    column_length,
)
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
    "EmblemOut",
    "NumberingCodes",
    "UnitIn",
    "UnitOut",
    "UnitProfileIn",
    "UnitProfileOut",
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


# A numbering code or unit code as it stands in a number: "800.1.12", "DISDIK", "438.5.3".
NUMBER_CODE = r"^[A-Za-z0-9._-]+$"
Timezone = Literal["WIB", "WITA", "WIT"]


class NumberingCodes(BaseModel):
    """The ``{kode}`` and ``{unit}`` of a template's numbers for one unit."""

    model_config = ConfigDict(extra="forbid")

    kode: str = Field(min_length=1, max_length=50, pattern=NUMBER_CODE, examples=["800.1.12"])
    unit: str = Field(min_length=1, max_length=50, pattern=NUMBER_CODE, examples=["DISDIK"])


class UnitProfileIn(BaseModel):
    """What a unit's documents take from it (issue 20: unit profiles)."""

    model_config = ConfigDict(extra="forbid")

    kop_lines: list[Annotated[PlainText, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list,
        max_length=2,
        description="the lines above the unit's name in the kop: none, one or two",
        examples=[["PEMERINTAH KABUPATEN PASURUAN"]],
    )
    name_lines: list[Annotated[PlainText, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list,
        max_length=2,
        description="the unit's name as the kop writes it, in one or two lines (a vertical "
        "agency: its name, then its level); empty: the unit's registered name",
        examples=[["BADAN PENGAWAS PEMILIHAN UMUM", "KABUPATEN CIREBON"]],
    )
    address: PlainText = Field(
        default="",
        max_length=column_length(UnitProfile.address),
        description="address, telephone, website and e-mail in one line",
    )
    place: PlainText = Field(
        default="",
        max_length=column_length(UnitProfile.place),
        description="where its documents are signed, when the data leaves it empty",
        examples=["Pasuruan"],
    )
    timezone: Timezone = "WIB"
    numbering: dict[Annotated[str, Field(max_length=64)], NumberingCodes] = Field(
        default_factory=dict,
        max_length=100,
        description="per template id, the numbering code and unit code of its numbers",
        examples=[{"pakta-integritas": {"kode": "800.1.12", "unit": "DISDIK"}}],
    )


class EmblemOut(BaseModel):
    content_type: str
    size: int
    sha256: str
    updated_at: Instant

    @classmethod
    def of(cls, emblem: UnitEmblem) -> EmblemOut:
        return cls.model_validate(emblem, from_attributes=True)


class UnitProfileOut(UnitProfileIn):
    unit_id: str
    emblem: EmblemOut | None = Field(
        default=None, description="the emblem, served at /api/v1/units/{id}/emblem"
    )


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=column_length(User.username), pattern=USERNAME)
    role: Role = Field(
        description="admin, operator, auditor or verifikator (signers: POST /signers)"
    )
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
