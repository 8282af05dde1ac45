"""people: units, accounts, sessions, tokens, activations; signers enrolled, approved and
activated; documents and batches of a unit; audit entries with their actor

Existing signers keep their sealed keys and certificates and get a signer account without a
password: an activation link sets it. Where several enrolments in effect share a NIP, the newest
stays and the older ones are revoked (one signer per number from now on). Unsigned slots named
by a NIP only are bound to the signer of that NIP.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_IN_EFFECT = "status != 'dicabut' AND replaces_id IS NULL"


def _where(condition: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("code", sa.String(50), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("signers") as batch:
        batch.add_column(sa.Column("nik", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("nomor_kind", sa.String(10), nullable=False, server_default="nip")
        )
        batch.add_column(sa.Column("unit_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("status", sa.String(30), nullable=False, server_default="aktif"))
        batch.add_column(sa.Column("replaces_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("entered_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(32), nullable=True))
        batch.alter_column("certificate_pem", existing_type=sa.Text(), nullable=True)
        batch.alter_column("sealed_key", existing_type=sa.LargeBinary(), nullable=True)
        batch.create_foreign_key("fk_signers_unit_id", "units", ["unit_id"], ["id"])
        batch.create_foreign_key("fk_signers_replaces_id", "signers", ["replaces_id"], ["id"])
        batch.create_index("ix_signers_unit_id", ["unit_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_step", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signer_id", sa.String(32), sa.ForeignKey("signers.id"), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "user_units",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("unit_id", sa.String(32), sa.ForeignKey("units.id"), primary_key=True),
    )
    op.create_table(
        "activations",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_activations_user_id", "activations", ["user_id"])
    op.create_table(
        "login_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    for table in ("documents", "batches"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("unit_id", sa.String(32), nullable=True))
            batch.add_column(sa.Column("created_by", sa.String(32), nullable=True))
            batch.create_foreign_key(f"fk_{table}_unit_id", "units", ["unit_id"], ["id"])
            batch.create_index(f"ix_{table}_unit_id", ["unit_id"])
    with op.batch_alter_table("batch_rows") as batch:
        batch.add_column(sa.Column("signers", sa.JSON(), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("actor", sa.String(40), nullable=True))
        batch.add_column(sa.Column("client", sa.String(64), nullable=True))
    _existing_signers()
    op.create_index(
        "uq_signers_nip_in_effect", "signers", ["nip"], unique=True, **_where(_IN_EFFECT)
    )
    op.create_index(
        "uq_signers_nik_in_effect", "signers", ["nik"], unique=True, **_where(_IN_EFFECT)
    )
    op.create_index(
        "uq_signers_replaces_in_effect",
        "signers",
        ["replaces_id"],
        unique=True,
        **_where("status != 'dicabut'"),
    )


def _existing_signers() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC).replace(microsecond=0)
    signers = conn.execute(
        sa.text("SELECT id, nip, revoked_at FROM signers ORDER BY created_at DESC, id")
    ).fetchall()
    seen: set[str] = set()
    for signer_id, nip, revoked_at in signers:
        if revoked_at is not None:
            conn.execute(
                sa.text("UPDATE signers SET status = 'dicabut' WHERE id = :id"), {"id": signer_id}
            )
            continue
        if nip is not None and nip in seen:
            conn.execute(
                sa.text(
                    "UPDATE signers SET status = 'dicabut', revoked_at = :now, revoke_reason = "
                    "'Pendaftaran ganda NIP yang sama; yang terbaru tetap berlaku' WHERE id = :id"
                ),
                {"id": signer_id, "now": now},
            )
            continue
        if nip is not None:
            seen.add(nip)
        conn.execute(
            sa.text(
                "INSERT INTO users (id, username, role, signer_id, totp_step, failed_logins, "
                "disabled, created_at) VALUES (:id, :username, 'signer', :signer, 0, 0, "
                ":disabled, :now)"
            ),
            {
                "id": uuid.uuid4().hex,
                "username": nip or f"penanda-tangan-{signer_id[:8]}",
                "signer": signer_id,
                "disabled": False,
                "now": now,
            },
        )
    # Unsigned slots named by a NIP only: bound to the signer in effect with that NIP.
    conn.execute(
        sa.text(
            "UPDATE signature_slots SET assigned_signer_id = (SELECT s.id FROM signers s "
            "WHERE s.nip = signature_slots.expected_nip AND s.status != 'dicabut') "
            "WHERE assigned_signer_id IS NULL AND signed_at IS NULL AND expected_nip IS NOT NULL"
        )
    )


def downgrade() -> None:
    op.drop_index("uq_signers_replaces_in_effect", "signers")
    op.drop_index("uq_signers_nik_in_effect", "signers")
    op.drop_index("uq_signers_nip_in_effect", "signers")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("client")
        batch.drop_column("actor")
    with op.batch_alter_table("batch_rows") as batch:
        batch.drop_column("signers")
    for table in ("batches", "documents"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_unit_id")
            batch.drop_constraint(f"fk_{table}_unit_id", type_="foreignkey")
            batch.drop_column("created_by")
            batch.drop_column("unit_id")
    for table in ("api_tokens", "login_sessions", "activations", "user_units", "users"):
        op.drop_table(table)
    with op.batch_alter_table("signers") as batch:
        batch.drop_index("ix_signers_unit_id")
        batch.drop_constraint("fk_signers_replaces_id", type_="foreignkey")
        batch.drop_constraint("fk_signers_unit_id", type_="foreignkey")
        for column in ("approved_by", "entered_by", "replaces_id", "status", "unit_id"):
            batch.drop_column(column)
        batch.drop_column("nomor_kind")
        batch.drop_column("nik")
    op.drop_table("units")
