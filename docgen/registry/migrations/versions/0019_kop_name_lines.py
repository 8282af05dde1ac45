"""unit_profiles.name_lines: the unit's name as its kop writes it, in one or two lines

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

A vertical agency writes its name and level in two lines ("BADAN PENGAWAS PEMILIHAN UMUM" /
"KABUPATEN CIREBON"); an empty list keeps the unit's registered name, as profiles written
before this revision had it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "unit_profiles",
        sa.Column("name_lines", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("unit_profiles", "name_lines")
