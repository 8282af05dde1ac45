"""batch_signings.holder and lease_until: a bulk signing runs under a lease its process renews

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

A running bulk signing is its holder's (``host:pid:random`` of the process that checked the
PIN, where its key lives) for as long as the holder renews ``lease_until``; one whose lease ran
out is interrupted (``terputus``), and posting it again signs the rest. At most one signing of
a role by one signer runs in a batch at once (a partial unique index).

Signings still running when this is applied have neither: the services that ran them are
stopped for the migration, and their keys went with them, so they are marked ``terputus``
here, as a start-up used to mark them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch_signings", sa.Column("holder", sa.String(length=300), nullable=True))
    op.add_column(
        "batch_signings", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE batch_signings SET status = 'terputus', finished_at = now() "
        "WHERE status = 'berjalan'"
    )
    op.create_index(
        "uq_batch_signings_running",
        "batch_signings",
        ["batch_id", "role", "signer_id"],
        unique=True,
        postgresql_where=sa.text("status = 'berjalan'"),
    )


def downgrade() -> None:
    op.drop_index("uq_batch_signings_running", "batch_signings")
    op.drop_column("batch_signings", "lease_until")
    op.drop_column("batch_signings", "holder")
