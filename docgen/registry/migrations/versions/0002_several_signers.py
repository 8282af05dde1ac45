"""several signers, template versions, revocation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_versions",
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("docx_key", sa.String(length=300), nullable=False),
        sa.Column("docx_version_id", sa.String(length=200), nullable=True),
        sa.Column("manifest_key", sa.String(length=300), nullable=False),
        sa.Column("manifest_version_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("template_id", "version"),
    )
    with op.batch_alter_table("signers") as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoke_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("documents") as batch_op:
        batch_op.add_column(sa.Column("replaced_by_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            "fk_documents_replaced_by_id", "documents", ["replaced_by_id"], ["id"]
        )
    with op.batch_alter_table("signature_slots") as batch_op:
        batch_op.add_column(sa.Column("expected_nip", sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column("assigned_signer_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_signature_slots_expected_nip", ["expected_nip"])
        batch_op.create_index("ix_signature_slots_assigned_signer_id", ["assigned_signer_id"])
        batch_op.create_foreign_key(
            "fk_signature_slots_assigned_signer_id", "signers", ["assigned_signer_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("signature_slots") as batch_op:
        batch_op.drop_constraint("fk_signature_slots_assigned_signer_id", type_="foreignkey")
        batch_op.drop_index("ix_signature_slots_assigned_signer_id")
        batch_op.drop_index("ix_signature_slots_expected_nip")
        batch_op.drop_column("assigned_signer_id")
        batch_op.drop_column("expected_nip")
    with op.batch_alter_table("documents") as batch_op:
        batch_op.drop_constraint("fk_documents_replaced_by_id", type_="foreignkey")
        batch_op.drop_column("replaced_by_id")
    with op.batch_alter_table("signers") as batch_op:
        batch_op.drop_column("revoke_reason")
        batch_op.drop_column("revoked_at")
    op.drop_table("template_versions")
