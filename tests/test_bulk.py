"""Bulk work through the running service: batches from a staff list, bulk signing, the ZIP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography import x509

from docgen.registry import audit
from docgen.registry.db import Database
from signing.validate.validation import validate_pdf
from tests.conftest import PIN, Service, pakta_data, signer_body
from tests.pdftools import pdfsig
from tests.test_templates_content import BA, nip_of, peserta

BA_TEMPLATE = "berita-acara-pelantikan"
PEOPLE_COLUMNS = ["peserta.nama", "peserta.nip", "peserta.pangkat", "peserta.jabatan"]


def staff_csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def inauguration_csv(count: int) -> bytes:
    """One berita acara per person inaugurated (the same official and witnesses sign all)."""
    fields = [k for k in BA if k != "peserta"]
    people = peserta(count)
    return staff_csv(
        fields + PEOPLE_COLUMNS,
        [[BA[k] for k in fields] + list(person.values()) for person in people],
    )


def pakta_csv(rows: list[dict[str, object]]) -> bytes:
    header = list(rows[0])
    return staff_csv(header, [[row[k] for k in header] for row in rows])


def post_batch(
    client: httpx.Client,
    content: bytes,
    template: str = BA_TEMPLATE,
    *,
    signers: dict[str, str] | None = None,
    dry_run: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        "/api/v1/batches",
        params={"dry_run": "true"} if dry_run else None,
        data={"template": template, "signers": json.dumps(signers or {})},
        files={"file": ("daftar.csv", content, "text/csv")},
        headers=headers,
    )


def wait_for(
    client: httpx.Client, batch_id: str, done: Any, timeout: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = client.get(f"/api/v1/batches/{batch_id}", params={"documents": "false"})
        batch: dict[str, Any] = progress.json()
        if done(batch):
            return dict(client.get(f"/api/v1/batches/{batch_id}").json())
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not get there: {batch}")


def generated(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    return wait_for(client, batch_id, lambda b: b["status"] == "selesai")


def bulk_sign(client: httpx.Client, batch_id: str, role: str, signer_id: str) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/batches/{batch_id}/signatures",
        json={"role": role, "signer_id": signer_id, "pin": PIN},
    )
    assert response.status_code == 202, response.text
    signing_id = response.json()["id"]
    batch = wait_for(
        client,
        batch_id,
        lambda b: next(s for s in b["signings"] if s["id"] == signing_id)["status"] != "berjalan",
    )
    return next(s for s in batch["signings"] if s["id"] == signing_id)


async def audit_chain_break(service: Service) -> int | None:
    """The id of the first audit entry that breaks the chain, if any."""
    db = Database(f"sqlite:///{service.data_dir / 'docgen.db'}")
    try:
        async with db.session() as session:
            return await audit.verify_chain(session)
    finally:
        await db.close()


def registry(service: Service) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{service.data_dir / 'docgen.db'}?mode=ro", uri=True)


def registry_rows(service: Service, sql: str, docs: list[dict[str, Any]]) -> list[Any]:
    """The rows of ``sql`` with the documents' ids in place of ``{ids}``."""
    ids = [d["id"] for d in docs]
    with registry(service) as db:
        return db.execute(sql.format(ids=",".join("?" * len(ids))), ids).fetchall()


@pytest.fixture(scope="module")
def inauguration_signers(service: Service) -> dict[str, str]:
    """The two witnesses (bound by the NIP in every row) and the inaugurating official."""
    with service.client() as client:

        def enrol(**body: object) -> str:
            response = client.post("/api/v1/signers", json=signer_body(**body))
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        return {
            "saksi_1": enrol(name=BA["nama_saksi_1"], nip=BA["nip_saksi_1"]),
            "saksi_2": enrol(name=BA["nama_saksi_2"], nip=BA["nip_saksi_2"]),
            "pejabat_pelantik": enrol(
                name=BA["nama_pejabat_pelantik"], nip=None, pangkat=None, jabatan="Bupati Sidoarjo"
            ),
        }


@pytest.fixture(scope="module")
def signed_batch(
    service: Service, inauguration_signers: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """120 berita acara made from one CSV, signed by the witnesses and then the official."""
    with service.client() as client:
        response = post_batch(
            client,
            inauguration_csv(120),
            signers={"pejabat_pelantik": inauguration_signers["pejabat_pelantik"]},
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["total"] == 120 and accepted["status"] in ("antre", "berjalan")
        made = generated(client, accepted["id"])
        signings = [
            bulk_sign(client, accepted["id"], role, inauguration_signers[role])
            for role in ("saksi_2", "saksi_1", "pejabat_pelantik")  # witnesses in either order
        ]
        yield {"made": made, "signings": signings, "final": generated(client, accepted["id"])}


def test_a_batch_of_120_rows_makes_120_signed_documents(
    client: httpx.Client, signed_batch: dict[str, Any], service: Service
) -> None:
    made = signed_batch["made"]
    assert (made["done"], made["failed"], made["pending"]) == (120, 0, 0)
    assert made["errors"] == []
    for signing in signed_batch["signings"]:
        assert (signing["status"], signing["done"], signing["failed"]) == ("selesai", 120, 0)

    final = signed_batch["final"]
    docs = final["documents"]
    assert [d["row"] for d in docs] == list(range(2, 122))
    numbers = [d["number"] for d in docs]
    assert len(set(numbers)) == 120
    # Reserved in row order: consecutive numbers of one sequence.
    sequence = [int(n.split("/")[1]) for n in numbers]
    assert sequence == list(range(sequence[0], sequence[0] + 120))
    assert {d["status"] for d in docs} == {"sah"} and all(d["pending_roles"] == [] for d in docs)

    for doc in docs:
        code = doc["verify_url"].rsplit("/", 1)[1]
        view = client.get(f"/api/v1/verify/{code}").json()
        assert view["status"] == "sah" and view["document"]["number"] == doc["number"]
        assert [s["role"] for s in view["signatures"]] == ["saksi_1", "saksi_2", "pejabat_pelantik"]

    # Every document made and every signature is in the audit chain, which is intact.
    actions = registry_rows(
        service,
        "SELECT action, COUNT(*), COUNT(DISTINCT entity_id) FROM audit_log"
        " WHERE entity_id IN ({ids}) GROUP BY action ORDER BY action",
        docs,
    )
    assert actions == [("document.created", 120, 120), ("document.signed", 360, 120)]
    assert anyio.run(audit_chain_break, service) is None


def test_every_bulk_signed_pdf_validates(
    client: httpx.Client, signed_batch: dict[str, Any], service: Service, tmp_path: Path
) -> None:
    root_pem = client.get("/api/v1/trust/ca.pem").content
    trust = [x509.load_pem_x509_certificate(root_pem)]
    crls = [x509.load_der_x509_crl(client.get("/api/v1/trust/crl").content)]
    docs = signed_batch["final"]["documents"]
    people = peserta(120)
    for doc in docs:
        pdf = client.get(f"/api/v1/documents/{doc['id']}/pdf").content
        report = validate_pdf(pdf, trust, crls)
        assert report.valid and report.level == "B-LTA", (doc["number"], report)
        assert len(report.signatures) == 3
    # The independent validator on the first, the last and one in the middle.
    for doc in (docs[0], docs[59], docs[-1]):
        path = tmp_path / f"{doc['id']}.pdf"
        path.write_bytes(client.get(f"/api/v1/documents/{doc['id']}/pdf").content)
        workdir = tmp_path / doc["id"]
        workdir.mkdir()
        assert pdfsig(path, root_pem, workdir).count("Signature is Valid") >= 3
        person = people[doc["row"] - 2]
        assert person["nama"] in json.dumps(client.get(f"/api/v1/documents/{doc['id']}").json())


def test_each_chunk_of_revisions_is_one_pack_object_holding_them_as_issued(
    client: httpx.Client, signed_batch: dict[str, Any], service: Service
) -> None:
    batch = signed_batch["final"]
    docs = batch["documents"]
    objects = service.stored_objects(f"batches/{batch['id']}/")
    names = sorted(o.object_name.rsplit("/", 1)[1].rsplit("-", 1)[0] for o in objects)
    # The staff list; 120 rows made in chunks of 100; each role signed in chunks of 40.
    assert names == ["daftar.csv", *["dibuat"] * 2, *["ttd-pejabat_pelantik"] * 3] + [
        *["ttd-saksi_1"] * 3,
        *["ttd-saksi_2"] * 3,
    ]
    assert not any(service.stored_objects(f"documents/{d['id']}/") for d in docs)

    sources = registry_rows(
        service,
        "SELECT object_key, byte_offset FROM revisions WHERE seq = 1 AND document_id IN ({ids})",
        docs,
    )
    by_pack = {key: sum(1 for k, _ in sources if k == key) for key, _ in sources}
    assert sorted(by_pack.values()) == [20, 100]
    assert len(set(sources)) == 120  # each at its own offset

    raw = service.object_store()
    packs = {o.object_name: raw.get_object("docgen", o.object_name).read() for o in objects}
    for doc in (docs[0], docs[99], docs[100], docs[-1]):
        revisions = client.get(f"/api/v1/documents/{doc['id']}").json()["revisions"]
        assert [r["kind"] for r in revisions] == ["source", "prepared", *["signed"] * 3, "lta"]
        issued = [
            client.get(f"/api/v1/documents/{doc['id']}/revisions/{r['seq']}").content
            for r in revisions
        ]
        assert [hashlib.sha256(b).hexdigest() for b in issued] == [r["sha256"] for r in revisions]
        # Any ZIP tool finds them in the packs, under the document's id, byte for byte; the
        # official's signed revision is the beginning of the B-LTA one that extends it.
        members = {}
        for key, data in packs.items():
            if key.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for name in archive.namelist():
                        if name.startswith(f"{doc['id']}/"):
                            members[name.split("/", 1)[1]] = archive.read(name)
        assert sorted(members) == [
            "01-source.docx",
            "02-prepared.pdf",
            "03-signed-saksi_2.pdf",  # the witnesses signed in this order
            "04-signed-saksi_1.pdf",
            "06-lta.pdf",
        ]
        assert [members[n] for n in sorted(members)] == [*issued[:4], issued[5]]
        assert issued[5].startswith(issued[4]) and len(issued[5]) > len(issued[4])


def test_zip_holds_every_current_pdf_and_a_manifest_matching_the_registry(
    client: httpx.Client, signed_batch: dict[str, Any]
) -> None:
    batch = signed_batch["final"]
    response = client.get(batch["zip_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert names[0] == "daftar.csv" and len(names) == 121
    listing = list(csv.DictReader(io.StringIO(archive.read("daftar.csv").decode("utf-8-sig"))))
    assert len(listing) == 120
    people = peserta(120)
    for entry, doc, person in zip(listing, batch["documents"], people, strict=True):
        registered = client.get(f"/api/v1/documents/{doc['id']}").json()
        pdf = archive.read(entry["berkas"])
        assert hashlib.sha256(pdf).hexdigest() == entry["sha256"]
        assert entry["sha256"] == registered["revisions"][-1]["sha256"]
        assert entry["nomor"] == registered["number"] == doc["number"]
        assert entry["verify_url"] == registered["verify_url"]
        assert (entry["nama"], entry["nip"]) == (person["nama"], person["nip"])
        assert entry["status"] == "sah"


def test_bulk_signing_refusals(
    client: httpx.Client, service: Service, inauguration_signers: dict[str, str]
) -> None:
    response = post_batch(client, inauguration_csv(3))
    batch_id = response.json()["id"]
    generated(client, batch_id)

    def sign(role: str, signer: str, pin: str = PIN) -> httpx.Response:
        body = {"role": role, "signer_id": signer, "pin": pin}
        return client.post(f"/api/v1/batches/{batch_id}/signatures", json=body)

    wrong = sign("saksi_1", inauguration_signers["saksi_1"], pin="000000")
    assert wrong.status_code == 403 and wrong.json()["error"] == "WrongPin"
    # The official must wait for both witnesses: nothing to sign yet.
    early = sign("pejabat_pelantik", inauguration_signers["pejabat_pelantik"])
    assert early.status_code == 409 and "Belum gilirannya" in early.json()["detail"]
    # A witness's role is bound to the NIP in the rows: the other witness cannot sign it.
    other = sign("saksi_1", inauguration_signers["saksi_2"])
    assert other.status_code == 409 and "Penanda tangan tidak sesuai" in other.json()["detail"]
    assert client.post("/api/v1/batches/nope/signatures", json={
        "role": "saksi_1", "signer_id": inauguration_signers["saksi_1"], "pin": PIN,
    }).status_code == 404  # fmt: skip
    batch = client.get(f"/api/v1/batches/{batch_id}").json()
    assert batch["signings"] == []
    assert all(d["pending_roles"] == ["saksi_1", "saksi_2", "pejabat_pelantik"]
               for d in batch["documents"])  # fmt: skip


def test_dry_run_reports_every_bad_row_and_creates_nothing(
    client: httpx.Client, service: Service
) -> None:
    rows = [
        pakta_data(nama="Baik Sekali"),
        pakta_data(nip="198613262015051001"),  # month 13
        pakta_data(jabatan=""),
        pakta_data(tanggal="31/02/2024"),
        pakta_data(tanggal="kemarin", pangkat="III/e"),
    ]
    content = pakta_csv(rows)
    with registry(service) as db:
        before = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        numbers_before = db.execute("SELECT * FROM number_sequences").fetchall()
    objects_before = len(service.stored_objects("batches/"))

    response = post_batch(client, content, "pakta-integritas", dry_run=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["valid"], report["invalid"]) == (5, 1, 4)
    problems = {(p["row"], p["column"]): p["message"] for p in report["problems"]}
    assert set(problems) == {
        (3, "nip"),
        (4, "jabatan"),
        (5, "tanggal"),
        (6, "tanggal"),
        (6, "pangkat"),
    }
    assert "tanggal lahir pada NIP" in problems[(3, "nip")]
    assert problems[(4, "jabatan")] == "wajib diisi"
    assert "2024-02-31 tidak ada" in problems[(5, "tanggal")]
    assert "TTTT-BB-HH" in problems[(6, "tanggal")]

    with registry(service) as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == before
        assert db.execute("SELECT * FROM number_sequences").fetchall() == numbers_before
    assert len(service.stored_objects("batches/")) == objects_before


def test_a_real_run_makes_the_good_rows_and_reports_the_bad_ones(client: httpx.Client) -> None:
    rows = [pakta_data(nip=nip_of(i), nama=f"Pegawai {i}") for i in range(4)]
    rows[1]["nip"] = "12345"
    response = post_batch(client, pakta_csv(rows), "pakta-integritas")
    assert response.status_code == 202
    batch = generated(client, response.json()["id"])
    assert (batch["total"], batch["done"], batch["failed"]) == (4, 3, 1)
    assert [e["row"] for e in batch["errors"]] == [3]
    assert batch["errors"][0]["column"] == "nip"
    assert [d["row"] for d in batch["documents"]] == [2, 4, 5]


def test_a_file_that_does_not_fit_the_template_is_refused_whole(
    client: httpx.Client, service: Service
) -> None:
    with registry(service) as db:
        before = db.execute("SELECT count(*) FROM batches").fetchone()[0]
    response = post_batch(client, b"nama,nomor_hp\nBudi,0812\n", "pakta-integritas")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "StaffListInvalid"
    assert {"row": 1, "column": "nomor_hp", "message": "kolom tidak dikenal pada templat ini"} in (
        body["problems"]
    )
    for bad in (b"\x00\x01garbage", b"PK\x03\x04garbage"):
        assert post_batch(client, bad, "pakta-integritas").status_code == 422
    assert post_batch(client, b"nama\nBudi\n", "tidak-ada").status_code == 404
    unknown_signer = post_batch(
        client, pakta_csv([pakta_data()]), "pakta-integritas", signers={"pembuat_pernyataan": "x"}
    )
    assert unknown_signer.status_code == 422
    with registry(service) as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == before


def test_idempotency_keys_make_retries_safe(client: httpx.Client, service: Service) -> None:
    body = {"template": "pakta-integritas", "data": pakta_data(nip=nip_of(500))}
    key = {"Idempotency-Key": "pakta-500-attempt"}
    first = client.post("/api/v1/documents", json=body, headers=key)
    again = client.post("/api/v1/documents", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        "/api/v1/documents", json={**body, "data": pakta_data(nip=nip_of(501))}, headers=key
    )
    assert other.status_code == 422 and other.json()["error"] == "IdempotencyKeyReused"
    bad_key = client.post("/api/v1/documents", json=body, headers={"Idempotency-Key": "a b"})
    assert bad_key.status_code == 400

    content = pakta_csv([pakta_data(nip=nip_of(502))])
    batch_key = {"Idempotency-Key": "daftar-502"}
    with registry(service) as db:
        before = db.execute("SELECT count(*) FROM batches").fetchone()[0]
    one = post_batch(client, content, "pakta-integritas", headers=batch_key)
    two = post_batch(client, content, "pakta-integritas", headers=batch_key)
    assert one.status_code == two.status_code == 202
    assert one.json()["id"] == two.json()["id"]
    with registry(service) as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == before + 1
    # A failed request frees its key: the corrected retry goes through.
    broken = post_batch(client, b"nama\n", "pakta-integritas", headers={"Idempotency-Key": "k-9"})
    assert broken.status_code == 422
    fixed = post_batch(client, content, "pakta-integritas", headers={"Idempotency-Key": "k-9"})
    assert fixed.status_code == 202 and fixed.json()["id"] != one.json()["id"]
