"""The registry: documents, their revisions and signature slots, signers, numbers, audit log,
template versions, batches, idempotency keys, the deployment's CA and its published CRLs."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    mapped_column,
    relationship,
)
from sqlalchemy.types import DateTime, TypeDecorator

from docgen.registry.statuses import (
    BatchStatus,
    ChunkStatus,
    DocumentStatus,
    ParafState,
    RevisionKind,
    Role,
    RowStatus,
    SignerStatus,
    SigningStatus,
)

E = TypeVar("E", bound=StrEnum)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, naive ones refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        # timestamptz comes back in the session's time zone: always UTC here, like what went in.
        return None if value is None else value.astimezone(UTC)


class Status(TypeDecorator[E]):
    """A ``StrEnum`` kept as its value in a string column (no database enum type, so a new
    status needs no migration): rows read back as members of the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


def column_length(attribute: InstrumentedAttribute[Any]) -> int:
    """The n of a ``String(n)`` column: the ``max_length`` of the schemas' field filling it.

    Raises:
        TypeError: not a column of a bounded string type.
    """
    kind = attribute.type
    if not isinstance(kind, String) or kind.length is None:
        raise TypeError(f"{attribute} is no String(n) column")
    return kind.length


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for inserts of many rows at once (keyed by column)."""
    return Base.metadata.tables[model.__tablename__]


def _in_effect(*conditions: str) -> dict[str, Any]:
    """A partial index's condition: only enrolments not revoked count."""
    return {"postgresql_where": text(" AND ".join(("status != 'dicabut'", *conditions)))}


class Unit(Base):
    """An organisation (OPD, instansi, sekretariat): documents, batches, operators, auditors and
    signers belong to one."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnitProfile(Base):
    """What a unit's documents take from it: the kop lines above its name, its name as the kop
    writes it (``name_lines``; empty: its registered name), its address and place, its time
    zone, and per template the numbering ``kode`` and ``unit``
    (``{"<template id>": {"kode": ..., "unit": ...}}``). A unit without a row has none of them
    and its documents keep the manifests' values."""

    __tablename__ = "unit_profiles"

    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)
    kop_lines: Mapped[list[str]] = mapped_column(JSON)
    name_lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(String(300))
    place: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(4))
    numbering: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnitEmblem(Base):
    """A unit's emblem (lambang daerah, logo instansi): checked PNG or SVG bytes, kept in the
    registry beside the profile (small and bounded; its own table so that reading a profile
    never reads the image)."""

    __tablename__ = "unit_emblems"

    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


user_units = Table(
    "user_units",
    Base.metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
)


class Signer(Base):
    """One enrolment of a person who signs: their identity as an admin approved it, and once
    they activated it, their key (sealed under their PIN) and certificate."""

    __tablename__ = "signers"
    __table_args__ = (
        # One enrolment in effect per number; a re-enrolment waits beside it (``replaces_id``).
        Index("uq_signers_nip_in_effect", "nip", unique=True, **_in_effect("replaces_id IS NULL")),
        Index("uq_signers_nik_in_effect", "nik", unique=True, **_in_effect("replaces_id IS NULL")),
        Index("uq_signers_replaces_in_effect", "replaces_id", unique=True, **_in_effect()),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # NIP or NI PPPK (``nomor_kind`` says which); officials without one have a NIK instead.
    nip: Mapped[str | None] = mapped_column(String(18), index=True)
    nik: Mapped[str | None] = mapped_column(String(16))
    nomor_kind: Mapped[str] = mapped_column(String(10), default="nip", server_default="nip")
    jabatan: Mapped[str] = mapped_column(String(200))
    pangkat: Mapped[str | None] = mapped_column(String(10))
    unit: Mapped[str] = mapped_column(String(200))  # the unit's name, as in the certificate
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[SignerStatus] = mapped_column(
        Status(SignerStatus, 30), default=SignerStatus.AKTIF, server_default="aktif"
    )
    # The enrolment this one takes over when activated (a new jabatan, a forgotten PIN).
    replaces_id: Mapped[str | None] = mapped_column(ForeignKey("signers.id"))
    entered_by: Mapped[str | None] = mapped_column(String(32))
    approved_by: Mapped[str | None] = mapped_column(String(32))
    # Both made at activation: nobody but the signer ever knows the PIN.
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    # The private key sealed under a key derived from the PIN and the server secret.
    sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A revoked certificate is listed in the CRL; the signer can no longer sign.
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def nomor(self) -> str | None:
        """The number that identifies the person: NIP, NI PPPK or NIK."""
        return self.nip or self.nik


class User(Base):
    """An account: who logs in, with which role, for which units."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(Status(Role, 20))
    # Where activation links and notifications go; None: handed over by other means.
    email: Mapped[str | None] = mapped_column(String(254))
    # argon2id; None until the account is activated.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted: a code is good once.
    totp_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    # The enrolment of a signer account (the newest one in effect).
    signer_id: Mapped[str | None] = mapped_column(ForeignKey("signers.id"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    units: Mapped[list[Unit]] = relationship(secondary=user_units, lazy="selectin")
    signer: Mapped[Signer | None] = relationship(lazy="selectin")

    @property
    def unit_ids(self) -> list[str]:
        return [unit.id for unit in self.units]


class Activation(Base):
    """A one-time link to set a password (and a signer's PIN); kept as its SHA-256."""

    __tablename__ = "activations"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    # The TOTP secret offered with the link, in effect once the first code is given.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A browser session: the cookie's SHA-256, and the CSRF token that goes with it."""

    __tablename__ = "login_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token of an integration, acting as the user who made it; kept as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int]
    template_sha256: Mapped[str] = mapped_column(String(64))
    document_type: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    # Both None while the document is a draft: no number is used, nothing is public.
    number: Mapped[str | None] = mapped_column(String(100), unique=True)
    document_date: Mapped[str] = mapped_column(String(10), index=True)
    data: Mapped[dict[str, Any]]
    # The number and the names and NIPs of the data, lower-cased: what a listing's search looks
    # in, the same on every backend (the data is JSON, which each backend searches its own way).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    verify_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[DocumentStatus] = mapped_column(Status(DocumentStatus, 30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # The document that replaces a revoked one, if any.
    replaced_by_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    # None for documents made before units existed: only admins (and their signers) see them.
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(32))
    # A signer who declined to sign: when, which role, and why (for the operator).
    declined_at: Mapped[datetime | None]
    declined_role: Mapped[str | None] = mapped_column(String(100))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # A draft's signers chosen per role ({role: signer id}), bound when it is issued.
    chosen_signers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A draft's verifikator (user ids, in order), whose paraf steps it gets when issued.
    chosen_paraf: Mapped[list[str] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime | None]
    # An e-Meterai the document carries (None: none): affixed before this role signs; once
    # affixed, its serial number, when, and by which provider (local: not Peruri's, no stamp
    # duty paid).
    emeterai_before_role: Mapped[str | None] = mapped_column(String(100))
    emeterai_serial: Mapped[str | None] = mapped_column(String(64))
    emeterai_affixed_at: Mapped[datetime | None]
    emeterai_provider: Mapped[str | None] = mapped_column(String(100))
    emeterai_local: Mapped[bool | None]

    revisions: Mapped[list[Revision]] = relationship(
        back_populates="document", order_by="Revision.seq", lazy="selectin"
    )
    slots: Mapped[list[SignatureSlot]] = relationship(
        # (roles of one turn share an order: then as the template lists them)
        back_populates="document",
        order_by="[SignatureSlot.order, SignatureSlot.id]",
        lazy="selectin",
    )
    paraf_steps: Mapped[list[ParafStep]] = relationship(
        back_populates="document", order_by="ParafStep.step", lazy="selectin"
    )

    @property
    def issued_number(self) -> str:
        """The number of an issued document. Raises ValueError for a draft (it has none)."""
        if self.number is None:
            raise ValueError(f"document {self.id} is a draft: no number")
        return self.number

    @property
    def issued_code(self) -> str:
        """The verification code of an issued document. Raises ValueError for a draft."""
        if self.verify_code is None:
            raise ValueError(f"document {self.id} is a draft: no verification code")
        return self.verify_code


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    seq: Mapped[int]
    kind: Mapped[RevisionKind] = mapped_column(Status(RevisionKind, 20))
    object_key: Mapped[str] = mapped_column(String(300))
    version_id: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    # Where the revision's bytes start in the object: 0 unless it shares one (a bulk chunk's
    # pack, or the revision that extends it). "offset" is an SQL keyword, hence the column name.
    offset: Mapped[int] = mapped_column("byte_offset", default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship(back_populates="revisions")


class SignatureSlot(Base):
    """One signer role of a document: its field, and who signed it when."""

    __tablename__ = "signature_slots"
    __table_args__ = (UniqueConstraint("document_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    role: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200))
    order: Mapped[int]
    field_name: Mapped[str] = mapped_column(String(100))
    page: Mapped[int]
    # Who may sign: the signer bound to the role when the document was made (by the NIP / NI
    # PPPK in its data, or chosen); ``expected_nip`` is the number the data names.
    expected_nip: Mapped[str | None] = mapped_column(String(18), index=True)
    assigned_signer_id: Mapped[str | None] = mapped_column(ForeignKey("signers.id"), index=True)
    signer_id: Mapped[str | None] = mapped_column(ForeignKey("signers.id"))
    signed_at: Mapped[datetime | None]
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id"))

    document: Mapped[Document] = relationship(back_populates="slots")
    signer: Mapped[Signer | None] = relationship(foreign_keys=[signer_id], lazy="selectin")


class ParafStep(Base):
    """One verifikator's paraf of a document, in order (``step`` 1, 2, ...): named when the
    document is made, each initials it (or returns it to the operator with a note) in turn,
    all before the first signature (``docgen.paraf``)."""

    __tablename__ = "paraf_steps"
    __table_args__ = (
        UniqueConstraint("document_id", "step"),
        UniqueConstraint("document_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    step: Mapped[int]
    # The template's name of the step (e.g. "Kepala Subbagian Umum"), or "Verifikator <n>".
    label: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[ParafState] = mapped_column(Status(ParafState, 20))
    done_at: Mapped[datetime | None]
    # Why it was returned (for the operator); None for a paraf.
    note: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship(back_populates="paraf_steps")
    user: Mapped[User] = relationship(lazy="selectin")


class DeploymentAuthority(Base):
    """The deployment's internal CA: its root and TSA certificates, their keys sealed under the
    server secret. One row (``id`` "deployment"): made or adopted by the first instance to
    start, the same for every instance after it."""

    __tablename__ = "certificate_authority"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    root_pem: Mapped[str] = mapped_column(Text)
    root_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    tsa_pem: Mapped[str] = mapped_column(Text)
    tsa_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # "dibuat" (made by the instance that started first) or "diadopsi" (an instance's data dir
    # CA from before, kept so that what it signed stays valid).
    origin: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublishedCrl(Base):
    """A CRL the deployment published (DER, signed by its CA): the one with the highest number
    is current on every instance. Numbers come from the ``crl`` number sequence, so they only
    grow, and a CRL with a higher number never lists fewer certificates."""

    __tablename__ = "published_crls"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column()


class TemplateVersion(Base):
    """An uploaded version of a template; its manifest and DOCX live in object storage."""

    __tablename__ = "template_versions"

    template_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    docx_key: Mapped[str] = mapped_column(String(300))
    docx_version_id: Mapped[str | None] = mapped_column(String(200))
    manifest_key: Mapped[str] = mapped_column(String(300))
    manifest_version_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NumberSequence(Base):
    """Last number handed out per scope (template code, unit and year)."""

    __tablename__ = "number_sequences"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    last: Mapped[int]


class AuditEntry(Base):
    """Append-only, hash-chained log of every state change."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]
    # Unique: two writers that read the same head cannot both append (no silent fork).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who did it (a user id, "publik" or "sistem") and from where; None on entries from before
    # accounts existed, whose hashes do not cover them.
    actor: Mapped[str | None] = mapped_column(String(40))
    client: Mapped[str | None] = mapped_column(String(64))


class Batch(Base):
    """A bulk job: one document per row of an uploaded staff list (CSV or XLSX)."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int]
    filename: Mapped[str] = mapped_column(String(300))
    # The uploaded file as received, kept in object storage for the record.
    source_key: Mapped[str] = mapped_column(String(300))
    source_sha256: Mapped[str] = mapped_column(String(64))
    # Per role, the signer chosen for every document of the batch.
    signers: Mapped[dict[str, Any]]
    status: Mapped[BatchStatus] = mapped_column(Status(BatchStatus, 20))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(32))
    total: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]


class BatchRow(Base):
    """One row of a batch: its data, its reserved number, and the document made from it."""

    __tablename__ = "batch_rows"
    __table_args__ = (UniqueConstraint("batch_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    row: Mapped[int]  # the row number the operator sees in the spreadsheet (header = 1)
    data: Mapped[dict[str, Any]]  # as read from the file
    # The data as checked when the batch was accepted (dates as ISO text), so the row is
    # validated once; None for a row with problems (and rows accepted before migration 0005).
    clean: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Reserved when the batch is accepted, so a resumed batch reuses it: never a second number.
    number: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[RowStatus] = mapped_column(Status(RowStatus, 20), index=True)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    # The signer bound to each role of this row's document ({role: signer id}).
    signers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Its chunk (``BatchChunk.chunk``); None for a row with problems, made by no chunk.
    chunk: Mapped[int | None]


class BatchChunk(Base):
    """A chunk of a batch's valid rows (consecutive, in row order): made together, stored as
    one pack object and registered in one transaction, exactly once (``docgen.batches.making``).

    ``pack_key`` is the key the current attempt stores its pack under; the keys of earlier
    attempts, whose packs may lie in storage unregistered (object lock keeps them), are listed
    in ``abandoned_packs``: every pack under the batch's prefix is named here.
    """

    __tablename__ = "batch_chunks"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[ChunkStatus] = mapped_column(Status(ChunkStatus, 20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pack_key: Mapped[str | None] = mapped_column(String(300))
    abandoned_packs: Mapped[list[str]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(300))  # host:pid of the last claim
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BatchSigning(Base):
    """One bulk signing of a batch: one signer signs one role of every waiting document.

    A running one whose lease ran out is interrupted, whether or not anything marked it so yet
    (``docgen.batches.repository.state``)."""

    __tablename__ = "batch_signings"
    __table_args__ = (
        # One running signing of a role by one signer per batch: a second post is refused.
        Index(
            "uq_batch_signings_running",
            "batch_id",
            "role",
            "signer_id",
            unique=True,
            postgresql_where=text("status = 'berjalan'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    role: Mapped[str] = mapped_column(String(100))
    signer_id: Mapped[str] = mapped_column(ForeignKey("signers.id"))
    status: Mapped[SigningStatus] = mapped_column(Status(SigningStatus, 20))
    total: Mapped[int]
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # While it runs: the process that holds its key (``host:pid:random``), and until when its
    # lease holds unless renewed (``docgen.batches.signing``).
    holder: Mapped[str | None] = mapped_column(String(300))
    lease_until: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A client's Idempotency-Key: a retried request gets the resource the first one made."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(30), primary_key=True)  # documents | batches
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    # Empty while the first request is still being served.
    resource_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateWindow(Base):
    """How many requests one client made to one group of public routes in one minute, summed
    over every instance (each adds what it counted about once a second)."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # <group>:<client address>
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # since the Unix epoch
    hits: Mapped[int] = mapped_column(Integer)
