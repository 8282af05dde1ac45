"""What the public sees: a document by its verification code, and the check of an uploaded PDF.
No NIK anywhere, NIP masked but its last 4 digits."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from docgen.emeterai.schemas import EMeteraiOut
from docgen.kit.types import Instant
from docgen.registry.statuses import DocumentStatus, RevisionKind
from signing.waktu import Zona

__all__ = [
    "CertificateOut",
    "IssuerOut",
    "PublicDocumentOut",
    "PublicSignatureOut",
    "ReplacementOut",
    "SignatureCheckOut",
    "UploadCheckOut",
    "UploadedRevisionOut",
    "Verdict",
    "VerificationOut",
]


class Verdict(StrEnum):
    """What an uploaded PDF is, in the one word its page shows largest."""

    ASLI = "asli"  # the current, complete, unrevoked document we issued, every signature sound
    BELUM_LENGKAP = "belum_lengkap"  # ours, but not every signer has signed the document yet
    BUKAN_VERSI_TERAKHIR = "bukan_versi_terakhir"  # an earlier revision of a complete document
    DICABUT = "dicabut"  # ours, revoked
    DITOLAK = "ditolak"  # ours, declined by a signer
    TANDA_TANGAN_SAH = "tanda_tangan_sah"  # not issued here, but every signature holds
    TIDAK_SAH = "tidak_sah"  # a signature fails, the file changed after signing, or none at all


class IssuerOut(BaseModel):
    """Who issued the document."""

    instansi: str | None = Field(description="the agency of the deployment (DOCGEN_INSTANSI)")
    unit: str | None = Field(description="the unit the document belongs to")


class CertificateOut(BaseModel):
    """A signer's certificate, for the technical details."""

    subject: str
    issuer: str
    serial: str = Field(description="hexadecimal")


class PublicDocumentOut(BaseModel):
    type: str
    title: str
    number: str
    date: str = Field(description="YYYY-MM-DD")
    template: str
    issued_at: Instant
    revoked_at: Instant | None
    revoke_reason: str | None
    timezone: Zona = Field(
        description="the time zone of the document's unit (WIB, WITA or WIT): the page and "
        "the notes write times in it; the times here are UTC"
    )


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
    certificate: CertificateOut | None = Field(description="once signed")


class VerificationOut(BaseModel):
    """A document as a citizen may see it."""

    status: DocumentStatus
    status_label: str = Field(examples=["SAH"])
    document: PublicDocumentOut
    issuer: IssuerOut
    replaced_by: ReplacementOut | None
    signatures: list[PublicSignatureOut]
    emeterai: EMeteraiOut | None = Field(
        default=None, description="the e-Meterai the document carries (null: none)"
    )
    level: str | None = Field(description="PAdES level of the current revision (B-T, B-LTA)")
    pending_roles: list[str]
    sha256: str = Field(description="of the current PDF revision")
    verify_url: str
    download_url: str | None = Field(
        description="the public PDF: once every signer has signed, or revoked (marked so)"
    )


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
    """Is this PDF ours, is it intact, is it the document in force?"""

    verdict: Verdict
    verdict_label: str = Field(examples=["ASLI"])
    verdict_text: str = Field(description="the verdict in one or two sentences")
    issued_here: bool
    sha256: str
    revision: UploadedRevisionOut | None
    is_latest: bool
    document: VerificationOut | None
    valid: bool
    level: str | None
    document_timestamp: str | None
    signatures: list[SignatureCheckOut]
