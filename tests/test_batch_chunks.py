"""Each chunk of a batch is registered exactly once: its table, and the chunks a registry from
before it gets for its unfinished batches."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import registry
from tests.postgres import database_url, upgrade

# --- the upgrade ----------------------------------------------------------------------------


def add_batch(db: psycopg.Connection[Any], status: str, rows: list[str]) -> str:
    """A batch as revision 0012 kept it, with rows of these statuses (rows 2, 3, ...)."""
    batch_id = uuid.uuid4().hex
    db.execute(
        "INSERT INTO batches (id, template_id, template_version, filename, source_key, "
        "source_sha256, signers, status, total, created_at) VALUES "
        "(%s, 'pakta-integritas', 1, 'daftar.csv', 'k', 's', '{}', %s, %s, now())",
        (batch_id, status, len(rows)),
    )
    db.cursor().executemany(
        "INSERT INTO batch_rows (batch_id, row, data, status, errors) "
        "VALUES (%s, %s, '{}', %s, '[]')",
        [(batch_id, i + 2, row_status) for i, row_status in enumerate(rows)],
    )
    return batch_id


def test_an_upgraded_registry_gets_the_chunks_of_its_unfinished_batches(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    upgrade(url, "0012")
    with registry(url) as db:
        # A waiting batch of 205 valid rows and one invalid (its 101st row); a running one
        # with two rows over (failed here: made ones would need documents) and one waiting;
        # a finished one.
        waiting = add_batch(db, "antre", ["menunggu"] * 100 + ["gagal"] + ["menunggu"] * 105)
        running = add_batch(db, "berjalan", ["gagal", "gagal", "menunggu"])
        finished = add_batch(db, "selesai", ["gagal"] * 3)
    upgrade(url, "head")
    with registry(url) as db:
        chunks = db.execute(
            "SELECT batch_id, chunk, status, attempts, pack_key, abandoned_packs::text "
            "FROM batch_chunks ORDER BY batch_id, chunk"
        ).fetchall()
        by_row: dict[Any, Any] = dict(
            db.execute(
                "SELECT row, chunk FROM batch_rows WHERE batch_id = %s", (waiting,)
            ).fetchall()
        )
        others = db.execute(
            "SELECT batch_id, row, chunk FROM batch_rows WHERE batch_id <> %s ORDER BY row",
            (waiting,),
        ).fetchall()
    assert sorted(chunks) == sorted(
        [(waiting, c, "menunggu", 0, None, "[]") for c in (0, 1, 2)]
        + [(running, 0, "menunggu", 0, None, "[]")]
    )
    # The valid rows in row order, 100 per chunk; the invalid row in none.
    assert [by_row[r] for r in range(2, 102)] == [0] * 100
    assert by_row[102] is None
    assert [by_row[r] for r in range(103, 208)] == [1] * 100 + [2] * 5
    assert sorted(others) == sorted(
        [(running, 2, None), (running, 3, None), (running, 4, 0)]
        + [(finished, r, None) for r in (2, 3, 4)]
    )
