"""documents: the e-Meterai a document carries (before which role) and, once affixed, its
serial number, time and provider

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

Columns of the document (one e-Meterai at most per document), all empty for the documents
made before: none of them carries one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("emeterai_before_role", sa.String(100), nullable=True))
        batch.add_column(sa.Column("emeterai_serial", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("emeterai_affixed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("emeterai_provider", sa.String(100), nullable=True))
        batch.add_column(sa.Column("emeterai_local", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("emeterai_local")
        batch.drop_column("emeterai_provider")
        batch.drop_column("emeterai_affixed_at")
        batch.drop_column("emeterai_serial")
        batch.drop_column("emeterai_before_role")
