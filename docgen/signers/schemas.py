"""What goes in and out of the signers' routes."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from docgen.indonesia import validate_nomor_induk, validate_pangkat
from docgen.kit.types import Instant

__all__ = ["SignerIn", "SignerOut", "SignerRevokeIn"]


class SignerIn(BaseModel):
    name: str = Field(min_length=2, max_length=200, examples=["Drs. BUDI SANTOSO, M.Si."])
    nip: str | None = Field(default=None, examples=["198609262015051001"])
    jabatan: str = Field(min_length=2, max_length=200)
    pangkat: str | None = Field(default=None, examples=["III/a"])
    unit: str = Field(min_length=2, max_length=200)
    pin: str = Field(min_length=6, max_length=64, description="at least 6 characters")

    @field_validator("nip")
    @classmethod
    def _nip(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_nomor_induk(value)

    @field_validator("pangkat")
    @classmethod
    def _pangkat(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_pangkat(value)


class SignerOut(BaseModel):
    id: str
    name: str
    nip: str | None
    jabatan: str
    pangkat: str | None
    unit: str
    certificate_pem: str
    revoked_at: Instant | None
    revoke_reason: str | None


class SignerRevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, examples=["Pindah tugas"])
