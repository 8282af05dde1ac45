"""documents: the text a listing's search looks in (number, names and NIPs of the data), and
indexes for listings newest first and by date; batches newest first

The search text of the documents made before is filled from their data by the names of its
fields, as the templates name them (``nama``, ``nama_...``; ``nip``, ``nip_...``, ``ni_pppk``,
``ni_pppk_...``, also inside list items): a migration cannot read the manifests, which live in
object storage.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CHUNK = 500


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_documents_created_at", "documents", ["created_at"])
    op.create_index("ix_documents_document_date", "documents", ["document_date"])
    op.create_index("ix_batches_created_at", "batches", ["created_at"])
    _fill_search_text()


def _fill_search_text() -> None:
    conn = op.get_bind()
    documents = sa.table(
        "documents",
        sa.column("id"),
        sa.column("number"),
        sa.column("data", sa.JSON()),
        sa.column("search_text"),
    )
    after = ""
    while True:
        rows = conn.execute(
            sa.select(documents.c.id, documents.c.number, documents.c.data)
            .where(documents.c.id > after)
            .order_by(documents.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        conn.execute(
            sa.update(documents)
            .where(documents.c.id == sa.bindparam("document_id"))
            .values(search_text=sa.bindparam("text")),
            [
                {"document_id": row.id, "text": _search_text(row.number, row.data or {})}
                for row in rows
            ],
        )
        after = rows[-1].id


def _search_text(number: str | None, data: Mapping[str, Any]) -> str:
    words = [number] if number else []
    words += _searchable(data)
    return "\n".join(word.lower() for word in words)


def _searchable(data: Mapping[str, Any]) -> Iterator[str]:
    for name, value in data.items():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from _searchable(item)
        elif isinstance(value, str) and value and _searched(name):
            yield value


def _searched(name: str) -> bool:
    return any(name == k or name.startswith(k + "_") for k in ("nama", "nip", "ni_pppk"))


def downgrade() -> None:
    op.drop_index("ix_batches_created_at", "batches")
    op.drop_index("ix_documents_document_date", "documents")
    op.drop_index("ix_documents_created_at", "documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("search_text")
