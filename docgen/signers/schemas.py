"""What goes in and out of the signers' routes."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator

from docgen.indonesia import validate_ni_pppk, validate_nik, validate_nip, validate_pangkat
from docgen.kit.types import Instant, PlainLines, PlainText
from docgen.people.schemas import EMAIL, USERNAME
from docgen.registry.models import Signer, Unit, User, column_length
from docgen.registry.statuses import SignerStatus

__all__ = [
    "PinChangeIn",
    "ReenrolIn",
    "SignerCreatedOut",
    "SignerIn",
    "SignerOut",
    "SignerRevokeIn",
]


# What people type for a number or a pangkat, spaces and words included ("19860926 201505 1
# 001", "Penata Muda Tingkat I (III/b)"): kept, once checked, as the 18 or 16 digits and the
# golongan their columns hold.
NUMBER_TYPED = 40
PANGKAT_TYPED = 100


def _pangkat(value: str | None) -> str | None:
    return None if value in (None, "") else validate_pangkat(value)


class SignerIn(BaseModel):
    """A person's identity as an operator or admin enters it; exactly one of ``nip``,
    ``ni_pppk`` or ``nik`` (the NIK for officials without a NIP, kept private). No PIN: the
    signer sets it when activating their account."""

    name: PlainText = Field(
        min_length=2,
        max_length=column_length(Signer.name),
        examples=["Drs. BUDI SANTOSO, M.Si."],
    )
    nip: str | None = Field(default=None, max_length=NUMBER_TYPED, examples=["198609262015051001"])
    ni_pppk: str | None = Field(default=None, max_length=NUMBER_TYPED)
    nik: str | None = Field(default=None, max_length=NUMBER_TYPED)
    jabatan: PlainText = Field(min_length=2, max_length=column_length(Signer.jabatan))
    pangkat: str | None = Field(default=None, max_length=PANGKAT_TYPED, examples=["III/a"])
    unit_id: PlainText = Field(min_length=1, max_length=column_length(Unit.id))
    username: str | None = Field(
        default=None,
        min_length=3,
        max_length=column_length(User.username),
        pattern=USERNAME,
        description="the signer's login name; their NIP / NI PPPK / NIK if empty",
    )
    email: PlainText | None = Field(
        default=None,
        max_length=column_length(User.email),
        pattern=EMAIL,
        description="where the activation link and their turns to sign go",
    )

    @field_validator("nip")
    @classmethod
    def _check_nip(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_nip(value)

    @field_validator("ni_pppk")
    @classmethod
    def _check_ni_pppk(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_ni_pppk(value)

    @field_validator("nik")
    @classmethod
    def _check_nik(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_nik(value)

    @field_validator("pangkat")
    @classmethod
    def _check_pangkat(cls, value: str | None) -> str | None:
        return _pangkat(value)

    @model_validator(mode="after")
    def _one_number(self) -> SignerIn:
        given = [n for n in (self.nip, self.ni_pppk, self.nik) if n]
        if len(given) != 1:
            raise ValueError("isi tepat satu dari nip, ni_pppk atau nik")
        return self

    @property
    def nomor_kind(self) -> str:
        return "nip" if self.nip else "ni_pppk" if self.ni_pppk else "nik"


class ReenrolIn(BaseModel):
    """A new enrolment of the same person: a new jabatan, pangkat, unit or name, or none (a
    forgotten PIN). The old certificate is revoked when the new one is activated."""

    name: PlainText | None = Field(
        default=None, min_length=2, max_length=column_length(Signer.name)
    )
    jabatan: PlainText | None = Field(
        default=None, min_length=2, max_length=column_length(Signer.jabatan)
    )
    pangkat: str | None = Field(default=None, max_length=PANGKAT_TYPED)
    unit_id: PlainText | None = Field(default=None, max_length=column_length(Unit.id))

    @field_validator("pangkat")
    @classmethod
    def _check_pangkat(cls, value: str | None) -> str | None:
        return _pangkat(value)


class SignerOut(BaseModel):
    id: str
    name: str
    nip: str | None
    ni_pppk: str | None
    nik: str | None = Field(description="only for admins and the signer's unit")
    jabatan: str
    pangkat: str | None
    unit: str
    unit_id: str | None
    status: SignerStatus
    replaces_id: str | None
    certificate_pem: str | None
    revoked_at: Instant | None
    revoke_reason: str | None

    @classmethod
    def of(cls, signer: Signer) -> SignerOut:
        pppk = signer.nomor_kind == "ni_pppk"
        return cls(
            id=signer.id,
            name=signer.name,
            nip=None if pppk else signer.nip,
            ni_pppk=signer.nip if pppk else None,
            nik=signer.nik,
            jabatan=signer.jabatan,
            pangkat=signer.pangkat,
            unit=signer.unit,
            unit_id=signer.unit_id,
            status=signer.status,
            replaces_id=signer.replaces_id,
            certificate_pem=signer.certificate_pem,
            revoked_at=signer.revoked_at,
            revoke_reason=signer.revoke_reason,
        )


class SignerCreatedOut(SignerOut):
    activation_url: str | None = Field(
        description="the one-time link for the signer; null while an admin must approve"
    )


class SignerRevokeIn(BaseModel):
    # The column is Text; a reason of a few lines is enough.
    reason: PlainLines = Field(min_length=3, max_length=1000, examples=["Pindah tugas"])


class PinChangeIn(BaseModel):
    pin: str = Field(max_length=64, description="the current PIN")
    new_pin: str = Field(max_length=64)
