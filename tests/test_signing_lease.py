"""Bulk signing under a lease in the registry: what the schema keeps (no service needed)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.postgres import database_url, registry, upgrade
from tests.test_batch_chunks import add_batch

LEASE = 3  # seconds: renewed every second


def test_the_upgrade_ends_the_signings_left_running_and_allows_one_running_per_role(
    tmp_path: Path,
) -> None:
    url = database_url(tmp_path)
    upgrade(url, "0013")
    with registry(url) as db:
        batch_id = add_batch(db, "selesai", [])
        db.execute(
            "INSERT INTO signers (id, name, nomor_kind, jabatan, unit, status, failed_pins, "
            "created_at) VALUES ('s1', 'Saksi', 'nip', 'Camat', 'Kecamatan', 'aktif', 0, now())"
        )
        for signing_id, status in (("left", "berjalan"), ("over", "selesai")):
            db.execute(
                "INSERT INTO batch_signings (id, batch_id, role, signer_id, status, total, "
                "done, failed, errors, created_at) "
                "VALUES (%s, %s, 'saksi_1', 's1', %s, 3, 1, 0, '[]', now())",
                (signing_id, batch_id, status),
            )
    upgrade(url, "head")
    with registry(url) as db:
        ended = db.execute(
            "SELECT id, status, finished_at IS NOT NULL, holder, lease_until "
            "FROM batch_signings ORDER BY id"
        ).fetchall()
        assert ended == [
            ("left", "terputus", True, None, None),
            ("over", "selesai", False, None, None),
        ]
        running = (
            "INSERT INTO batch_signings (id, batch_id, role, signer_id, status, total, done, "
            "failed, errors, created_at, holder, lease_until) "
            "VALUES (%s, %s, 'saksi_1', 's1', 'berjalan', 3, 0, 0, '[]', now(), 'h', now())"
        )
        db.execute(running, ("again", batch_id))
        with pytest.raises(psycopg.errors.UniqueViolation, match="uq_batch_signings_running"):
            db.execute(running, ("twice", batch_id))
