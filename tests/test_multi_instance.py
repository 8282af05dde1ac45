"""Two instances of docgen on one registry (one PostgreSQL database, one object store, one
server secret): writes split over both extend one audit chain, never two."""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx

from tests.conftest import People, Service, start_service, stop_service
from tests.test_bulk import audit_chain_break

CREATIONS = 40  # as in issue 18; 20 forked the chain there


def shared_parts(first: Service) -> dict[str, str]:
    """What a second instance needs to join ``first``'s deployment."""
    found = re.search(r"penyimpanan objek\s+: (\S+)", first.log.read_text())
    assert found
    keys = json.loads((first.data_dir / "s3" / "credentials.json").read_text())
    return {
        "DOCGEN_DATABASE_URL": first.database_url,
        "DOCGEN_S3_ENDPOINT": found[1],
        "DOCGEN_S3_ACCESS_KEY": keys["access_key"],
        "DOCGEN_S3_SECRET_KEY": keys["secret_key"],
    }


def test_concurrent_creations_over_two_instances_keep_one_audit_chain(tmp_path: Path) -> None:
    # One LibreOffice and one worker each: nothing here converts or signs.
    own = {
        "DOCGEN_SECRET_KEY": secrets.token_urlsafe(32),
        "DOCGEN_CONVERTER_WORKERS": "1",
        "DOCGEN_BULK_WORKERS": "1",
    }
    first_process, first = start_service(tmp_path / "first", **own)
    second_process = None
    try:
        second_process, second = start_service(tmp_path / "second", **own, **shared_parts(first))
        admin = People(first.url, first.data_dir).admin
        on_second = httpx.Client(
            base_url=second.url, timeout=120, headers=dict(admin.client.headers)
        )
        clients = [admin.client, on_second]
        tag = uuid.uuid4().hex[:6]
        together = threading.Barrier(CREATIONS)

        def create(i: int) -> httpx.Response:
            body = {"name": f"Unit {i}", "code": f"M{tag}{i:02d}"}
            together.wait()  # all at once, half on each instance
            return clients[i % 2].post("/api/v1/units", json=body)

        with ThreadPoolExecutor(CREATIONS) as pool:
            answers = list(pool.map(create, range(CREATIONS)))
        assert [a.status_code for a in answers] == [201] * CREATIONS, [a.text for a in answers]
        # Each instance sees every unit, whichever made it.
        for client in clients:
            codes = {u["code"] for u in client.get("/api/v1/units").json()}
            assert {f"M{tag}{i:02d}" for i in range(CREATIONS)} <= codes

        assert anyio.run(audit_chain_break, first) is None
        with first.registry() as db:
            forks = db.execute(
                "SELECT prev_hash FROM audit_log GROUP BY prev_hash HAVING count(*) > 1"
            ).fetchall()
            created = db.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'unit.created'"
            ).fetchone()
        assert forks == []
        assert created is not None and created[0] >= CREATIONS
        on_second.close()
    finally:
        if second_process is not None:
            stop_service(second_process)
        stop_service(first_process)
