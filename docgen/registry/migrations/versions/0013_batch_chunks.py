"""batch_chunks: each chunk of a batch claimed, made and registered once; batch_rows.chunk

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09

Batches still waiting or running get their chunks here, so an upgraded deployment resumes them:
their waiting rows, in row order, in chunks of 100 (``DOCGEN_BATCH_CHUNK_ROWS``'s default when
this was written). Rows already made before the upgrade belong to no chunk.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_CHUNK_ROWS = 100

_ROWS_INTO_CHUNKS = f"""
UPDATE batch_rows SET chunk = numbered.chunk
FROM (
    SELECT r.id, (row_number() OVER (PARTITION BY r.batch_id ORDER BY r.row) - 1)
        / {_CHUNK_ROWS} AS chunk
    FROM batch_rows r JOIN batches b ON b.id = r.batch_id
    WHERE b.status IN ('antre', 'berjalan') AND r.status = 'menunggu'
) AS numbered
WHERE batch_rows.id = numbered.id
"""

_CHUNKS = """
INSERT INTO batch_chunks (batch_id, chunk, status, attempts, abandoned_packs, updated_at)
SELECT batch_id, chunk, 'menunggu', 0, '[]'::json, now()
FROM (SELECT DISTINCT batch_id, chunk FROM batch_rows WHERE chunk IS NOT NULL) AS chunks
"""


def upgrade() -> None:
    op.create_table(
        "batch_chunks",
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("chunk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pack_key", sa.String(length=300), nullable=True),
        sa.Column("abandoned_packs", sa.JSON(), nullable=False),
        sa.Column("claimed_by", sa.String(length=300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"]),
        sa.PrimaryKeyConstraint("batch_id", "chunk"),
    )
    op.add_column("batch_rows", sa.Column("chunk", sa.Integer(), nullable=True))
    op.execute(_ROWS_INTO_CHUNKS)
    op.execute(_CHUNKS)


def downgrade() -> None:
    op.drop_column("batch_rows", "chunk")
    op.drop_table("batch_chunks")
