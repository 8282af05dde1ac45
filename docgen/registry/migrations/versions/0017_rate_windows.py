"""rate_windows: requests per client and minute on the public routes, shared by every instance

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Each instance counts the requests it serves and adds them here about once a second, reading
back the sum of all instances, so a client's limit holds however a load balancer spreads it.
Rows older than two minutes are deleted as they go out of use.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("minute", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "minute"),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
