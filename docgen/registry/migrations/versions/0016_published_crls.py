"""published_crls: the CRL lives in the registry, one for every instance of a deployment

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

Each instance used to issue a CRL of its own at start and at each revocation, all taking
numbers from one sequence, so two instances served different lists. Now the instance that
publishes stores the DER here (in the transaction that takes its number) and announces it; the
others load the newest. Empty after the upgrade: the first instance to start publishes one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_crls",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("published_crls")
