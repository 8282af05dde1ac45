"""batch rows: the data as checked when the batch was accepted, so a row is validated once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_rows") as batch:
        batch.add_column(sa.Column("clean", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_rows") as batch:
        batch.drop_column("clean")
