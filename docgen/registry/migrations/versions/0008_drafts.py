"""documents: drafts, which have no number and no verification code until they are issued,
and keep the signers the operator chose until then

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("number", existing_type=sa.String(100), nullable=True)
        batch.alter_column("verify_code", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("chosen_signers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM documents WHERE status = 'draf'")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("chosen_signers")
        batch.alter_column("verify_code", existing_type=sa.String(64), nullable=False)
        batch.alter_column("number", existing_type=sa.String(100), nullable=False)
