"""Every status word the registry keeps, each defined once. Values are what the database holds
and what the API shows (Bahasa Indonesia, except the revision kinds, which name PDF stages)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BatchStatus",
    "ChunkStatus",
    "ParafState",
    "Role",
    "SignerStatus",
    "DocumentStatus",
    "RevisionKind",
    "RowStatus",
    "SigningStatus",
    "SlotStatus",
]


class DocumentStatus(StrEnum):
    DRAF = "draf"  # editable, deletable, no number, nothing public; issuing opens it for signing
    # Issued, its verifikator initial it in order first (``docgen.paraf``): nobody signs yet.
    MENUNGGU_PARAF = "menunggu_paraf"
    MENUNGGU = "menunggu_tanda_tangan"  # issued, waiting for (more) signatures
    SAH = "sah"  # every signer signed; the B-LTA revision is the current one
    DICABUT = "dicabut"  # revoked; every revision stays retrievable and verifiable
    DITOLAK = "ditolak"  # a signer declined to sign it, with a reason; it can only be revoked
    # A verifikator returned it to its operator with a note: nobody initials or signs it any
    # more; the operator revokes it and makes a corrected one.
    DIKEMBALIKAN = "dikembalikan"


class ParafState(StrEnum):
    """Of one verifikator's step of a document (``docgen.paraf``)."""

    MENUNGGU = "menunggu"  # not initialled yet (their turn, or a step before theirs is open)
    DIPARAF = "diparaf"  # initialled
    DIKEMBALIKAN = "dikembalikan"  # returned to the operator, with a note


class SlotStatus(StrEnum):
    """Of one signer role of a document (derived: a slot is signed when it has a time)."""

    SIGNED = "signed"
    PENDING = "pending"


class RevisionKind(StrEnum):
    """The stages a document goes through, in the order they are made."""

    SOURCE = "source"  # the rendered DOCX
    PREPARED = "prepared"  # the PDF with QR code, footer and empty signature fields
    SIGNED = "signed"  # after one signature
    EMETERAI = "emeterai"  # after the e-Meterai was affixed (a signature of its provider's)
    LONG_TERM = "lta"  # certificates, revocation data and a document time stamp (PAdES B-LTA)


class BatchStatus(StrEnum):
    ANTRE = "antre"  # accepted, no chunk of it claimed yet
    BERJALAN = "berjalan"  # its documents are being made
    SELESAI = "selesai"  # every row is done or failed


class ChunkStatus(StrEnum):
    """Of a chunk of a batch's rows, made and registered together
    (``docgen.batches.making``)."""

    MENUNGGU = "menunggu"  # not claimed yet
    BERJALAN = "berjalan"  # claimed: its pack is being made (or its maker died; claimed again)
    SELESAI = "selesai"  # its rows are registered, each done or failed
    GAGAL = "gagal"  # it could not be made at all (its rows say why)


class RowStatus(StrEnum):
    MENUNGGU = "menunggu"
    SELESAI = "selesai"
    GAGAL = "gagal"


class SigningStatus(StrEnum):
    """Of a bulk signing."""

    BERJALAN = "berjalan"
    SELESAI = "selesai"
    TERPUTUS = "terputus"  # the service stopped in the middle: posting it again signs the rest
    GAGAL = "gagal"  # stopped by an unexpected failure
    DIHENTIKAN = "dihentikan"  # the signer's certificate was revoked in the middle


class Role(StrEnum):
    """What a user account may do (``docgen.people.policies``)."""

    ADMIN = "admin"  # the deployment: units, users, templates, approvals
    OPERATOR = "operator"  # prepares documents and batches of their units
    SIGNER = "signer"  # one person: signs what is bound to them
    AUDITOR = "auditor"  # reads documents and the audit log of their units
    # Initials (paraf) the documents that name them, in order, before the signatures.
    VERIFIKATOR = "verifikator"


class SignerStatus(StrEnum):
    """Of a signer enrolment: entered, approved by an admin, activated by the signer."""

    MENUNGGU_PERSETUJUAN = "menunggu_persetujuan"  # entered by an operator, awaiting an admin
    MENUNGGU_AKTIVASI = "menunggu_aktivasi"  # approved; the signer has not set a PIN yet
    AKTIF = "aktif"  # key and certificate made; may sign
    DICABUT = "dicabut"  # certificate revoked (left office, replaced, forgotten PIN) or refused
