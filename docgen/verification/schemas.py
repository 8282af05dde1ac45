"""What the public sees: a document by its verification code, and the check of an uploaded PDF.
No NIK anywhere, NIP masked but its last 4 digits."""

from __future__ import annotations

from pydantic import BaseModel, Field

from docgen.kit.types import Instant
from docgen.registry.statuses import DocumentStatus, RevisionKind

__all__ = [
    "PublicDocumentOut",
    "PublicSignatureOut",
    "ReplacementOut",
    "SignatureCheckOut",
    "UploadCheckOut",
    "UploadedRevisionOut",
    "VerificationOut",
]


class PublicDocumentOut(BaseModel):
    type: str
    title: str
    number: str
    date: str = Field(description="YYYY-MM-DD")
    template: str
    issued_at: Instant
    revoked_at: Instant | None
    revoke_reason: str | None


class ReplacementOut(BaseModel):
    """The document that replaces a revoked one."""

    number: str
    title: str
    verify_url: str


class PublicSignatureOut(BaseModel):
    role: str
    label: str
    name: str | None
    jabatan: str | None
    nip: str | None = Field(description="masked: only the last 4 digits show")
    signed_at: Instant | None
    certificate_revoked_at: Instant | None
    valid: bool = Field(
        description="signed, and not after its certificate was revoked (as its time stamp shows)"
    )
    note: str | None = Field(description="how a revocation of the certificate bears on it")


class VerificationOut(BaseModel):
    """A document as a citizen may see it."""

    status: DocumentStatus
    status_label: str = Field(examples=["SAH"])
    document: PublicDocumentOut
    replaced_by: ReplacementOut | None
    signatures: list[PublicSignatureOut]
    level: str | None = Field(description="PAdES level of the current revision (B-T, B-LTA)")
    pending_roles: list[str]
    sha256: str = Field(description="of the current PDF revision")
    verify_url: str
    download_url: str


class SignatureCheckOut(BaseModel):
    """The verdict on one signature of an uploaded PDF."""

    field: str
    signer: str | None
    intact: bool
    trusted: bool
    timestamp: str | None = Field(description="of the signature time stamp, ISO 8601")
    modified_after: bool
    reason: str
    level: str
    certified: bool
    revoked_at: str | None


class UploadedRevisionOut(BaseModel):
    seq: int
    kind: RevisionKind


class UploadCheckOut(BaseModel):
    """Is this PDF ours, is it intact?"""

    issued_here: bool
    sha256: str
    revision: UploadedRevisionOut | None
    is_latest: bool
    document: VerificationOut | None
    valid: bool
    level: str | None
    document_timestamp: str | None
    signatures: list[SignatureCheckOut]
