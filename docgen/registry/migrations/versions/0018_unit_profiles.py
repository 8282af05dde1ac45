"""unit_profiles, unit_emblems: each unit's kop lines, address, place, time zone, numbering
codes per template, and its emblem

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

Two tables of their own beside ``units``: a unit gets a profile only when an admin writes one
(until then its documents keep the manifests' values, as before), and the emblem's bytes
(at most 512 KiB) are never read with the profile. Both start empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_profiles",
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("kop_lines", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=4), nullable=False),
        sa.Column("numbering", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("unit_id"),
    )
    op.create_table(
        "unit_emblems",
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("unit_id"),
    )


def downgrade() -> None:
    op.drop_table("unit_emblems")
    op.drop_table("unit_profiles")
