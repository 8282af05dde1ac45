"""certificate_authority: the deployment's one root CA and TSA, keys sealed under the server secret

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10

Empty after the upgrade: the first instance to start adopts the CA of its data directory (an
existing deployment keeps its root, so what it signed stays valid) or makes one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_authority",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("root_pem", sa.Text(), nullable=False),
        sa.Column("root_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("tsa_pem", sa.Text(), nullable=False),
        sa.Column("tsa_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("certificate_authority")
