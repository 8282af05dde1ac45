"""audit_log: one entry per prev_hash, so two writers can never fork the chain

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Fails on a registry whose chain already forked: that needs a person, not a migration.
    op.create_unique_constraint("audit_log_prev_hash_key", "audit_log", ["prev_hash"])


def downgrade() -> None:
    op.drop_constraint("audit_log_prev_hash_key", "audit_log", type_="unique")
