"""paraf_steps, documents.chosen_paraf: verifikator who initial a document in order before its
signatures

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

One row per verifikator of a document (its step, the template's name of the step, state, when,
and a returned document's note); a draft keeps the verifikator it names in ``chosen_paraf``
until it is issued. Documents made before have no steps: nothing to fill. The two new document
statuses (``menunggu_paraf``, ``dikembalikan``) are values of a string column: no change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("chosen_paraf", sa.JSON(), nullable=True))
    op.create_table(
        "paraf_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "step"),
        sa.UniqueConstraint("document_id", "user_id"),
    )
    op.create_index("ix_paraf_steps_user_id", "paraf_steps", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_paraf_steps_user_id", table_name="paraf_steps")
    op.drop_table("paraf_steps")
    op.drop_column("documents", "chosen_paraf")
