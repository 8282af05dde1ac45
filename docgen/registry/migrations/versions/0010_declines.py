"""documents: a signer may decline to sign, with a reason the operator sees

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("declined_role", sa.String(100), nullable=True))
        batch.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("decline_reason")
        batch.drop_column("declined_role")
        batch.drop_column("declined_at")
