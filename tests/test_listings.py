"""Listings for the office pages: `GET /api/v1/documents` (whatever the caller may read, searched
by number, name or NIP, filtered by status, template, unit and date, a page at a time, newest
first) and `GET /api/v1/batches` (the units' batches, paged the same way). A bad parameter is a
422 in Bahasa Indonesia. Migration 0009 fills the search text of the documents made before it.

Every document of this module has one word in its names that no other module uses (``TOKEN``),
so its searches know exactly what they must find in the suite's shared unit."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from docgen.registry.db import migrate
from tests.conftest import People, SignerAccount, pakta_data
from tests.people import Account
from tests.postgres import database_url, downgrade, registry
from tests.test_templates_content import mou_data

# NIPs no other module uses (born in November 1968, sequence 85x).
NIP_A = "196811042000031851"  # the pembuat pernyataan of two pakta
NIP_B = "196811052000032852"  # of a third pakta, and PIHAK PERTAMA of the MoU
NIP_C = "196811062001041853"  # PIHAK KEDUA of the MoU
NIP_D = "196811072001041854"  # of the other unit's pakta
NIP_E = "196811082001042855"  # of the batches' rows
TOKEN = f"Listing{uuid.uuid4().hex[:6]}"


@dataclass
class World:
    """What this module made: documents of the shared unit in the order they were made (two
    pakta of A, one of B, an MoU of B and C), one of another unit (D), batches."""

    d1: dict[str, Any]  # pakta of A, 1 March 2021, signed: SAH
    d2: dict[str, Any]  # pakta of A, 15 March 2021, waiting
    d3: dict[str, Any]  # pakta of B, 2 April 2021, revoked: DICABUT
    mou: dict[str, Any]  # MoU of B and C, 10 May 2021, waiting for both
    d5: dict[str, Any]  # pakta of D in the other unit, 1 June 2021
    other_unit: str
    other_operator: Account
    auditor: Account
    signers: dict[str, SignerAccount]
    b1: str  # the shared unit's batches: two rows, one of them bad
    b2: str
    b3: str  # the other unit's

    @property
    def shared(self) -> list[str]:
        """The shared unit's documents, newest first."""
        return [self.mou["id"], self.d3["id"], self.d2["id"], self.d1["id"]]


def made(client: httpx.Client, template: str, data: dict[str, object]) -> dict[str, Any]:
    response = client.post("/api/v1/documents", json={"template": template, "data": data})
    assert response.status_code == 201, response.text
    return dict(response.json())


def pakta(client: httpx.Client, nip: str, nama: str, tanggal: str) -> dict[str, Any]:
    return made(client, "pakta-integritas", pakta_data(nip=nip, nama=nama, tanggal=tanggal))


def staff_list(*rows: dict[str, object]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rows[0])
    for row in rows:
        writer.writerow(row.values())
    return out.getvalue().encode()


def batch(client: httpx.Client, *rows: dict[str, object]) -> str:
    """A batch of pakta from ``rows``, once it has finished."""
    response = client.post(
        "/api/v1/batches",
        data={"template": "pakta-integritas"},
        files={"file": ("daftar.csv", staff_list(*rows), "text/csv")},
    )
    assert response.status_code == 202, response.text
    batch_id = str(response.json()["id"])
    deadline = time.monotonic() + 300
    while client.get(f"/api/v1/batches/{batch_id}").json()["status"] != "selesai":
        assert time.monotonic() < deadline, batch_id
        time.sleep(0.2)
    return batch_id


@pytest.fixture(scope="module")
def world(people: People) -> World:
    operator = people.operator.client
    signers = {nip: people.signer(nip) for nip in (NIP_A, NIP_B, NIP_C, NIP_E)}
    other_unit = people.unit("Kecamatan Tanggulangin")
    signers[NIP_D] = people.signer(NIP_D, unit_id=other_unit)
    other_operator = people.user("operator", [other_unit])

    d1 = pakta(operator, NIP_A, f"Drs. Hartono {TOKEN}", "2021-03-01")
    d2 = pakta(operator, NIP_A, f"Drs. Hartono {TOKEN}", "2021-03-15")
    d3 = pakta(operator, NIP_B, f"Sri Wahyuni {TOKEN}", "2021-04-02")
    mou = made(
        operator,
        "nota-kesepahaman",
        mou_data(
            nip_pihak_pertama=NIP_B,
            nip_pihak_kedua=NIP_C,
            nama_pihak_kedua=f"Siti Aminah {TOKEN}",
            tanggal="2021-05-10",
            berlaku_sampai="2021-12-31",
        ),
    )
    d5 = pakta(other_operator.client, NIP_D, f"Bambang {TOKEN}", "2021-06-01")

    signed = signers[NIP_A].sign(d1["id"])
    assert signed.status_code == 200, signed.text
    revoked = operator.post(
        f"/api/v1/documents/{d3['id']}/revoke", json={"reason": "Terdapat kesalahan data"}
    )
    assert revoked.status_code == 200, revoked.text

    row = pakta_data(nip=NIP_E)
    b1 = batch(operator, row, pakta_data(nip="12345"))
    b2 = batch(operator, row)
    b3 = batch(other_operator.client, row)
    return World(
        d1={**d1, "status": "sah"},
        d2=d2,
        d3={**d3, "status": "dicabut"},
        mou=mou,
        d5=d5,
        other_unit=other_unit,
        other_operator=other_operator,
        auditor=people.user("auditor"),
        signers=signers,
        b1=b1,
        b2=b2,
        b3=b3,
    )


def listing(client: httpx.Client, path: str = "/api/v1/documents", **params: object) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(client: httpx.Client, **params: object) -> list[str]:
    body = listing(client, per_page=100, **params)
    assert body["total"] == len(body["items"]), body
    return [item["id"] for item in body["items"]]


# Who sees what ------------------------------------------------------------------------------


def test_each_role_lists_what_it_may_read(
    people: People, world: World, anonymous: httpx.Client
) -> None:
    operator = people.operator.client
    # The unit's operator and auditor: the unit's documents, newest first.
    assert ids(operator, q=TOKEN) == world.shared
    assert ids(world.auditor.client, q=TOKEN) == world.shared
    # An operator of another unit: nothing of the shared unit, their own unit's document.
    other = world.other_operator.client
    assert ids(other, q=TOKEN) == [world.d5["id"]]
    everything_of_theirs = listing(other, per_page=100)["items"]
    assert everything_of_theirs
    assert {item["unit_id"] for item in everything_of_theirs} == {world.other_unit}
    assert ids(other, q=TOKEN, unit_id=people.unit_id) == []
    # The admin: every unit's.
    assert ids(people.admin.client, q=TOKEN) == [world.d5["id"], *world.shared]
    # A signer: exactly the documents with a role bound to them, whatever the unit.
    assert ids(world.signers[NIP_A].client) == [world.d2["id"], world.d1["id"]]
    assert ids(world.signers[NIP_C].client) == [world.mou["id"]]
    assert ids(world.signers[NIP_B].client) == [world.mou["id"], world.d3["id"]]
    assert ids(world.signers[NIP_D].client) == [world.d5["id"]]
    # Nobody logged in: nothing.
    refused = anonymous.get("/api/v1/documents")
    assert refused.status_code == 401 and refused.json()["error"] == "NotAuthenticated"


def test_a_signers_pending_list_is_unchanged(world: World) -> None:
    signer = world.signers[NIP_A]
    pending = signer.client.get(f"/api/v1/signers/{signer.signer_id}/pending")
    assert pending.status_code == 200, pending.text
    assert [(p["document_id"], p["role"], p["ready"]) for p in pending.json()] == [
        (world.d2["id"], "pembuat_pernyataan", True)
    ]


def test_items_are_compact_and_agree_with_the_documents(people: People, world: World) -> None:
    items = {item["id"]: item for item in listing(people.admin.client, q=TOKEN)["items"]}
    for document in (world.d1, world.d2, world.d3, world.mou, world.d5):
        item = items[document["id"]]
        full = people.admin.client.get(f"/api/v1/documents/{document['id']}").json()
        assert set(item) == {
            "id",
            "number",
            "title",
            "template",
            "status",
            "document_date",
            "unit_id",
            "created_at",
            "pending_roles",
            "verify_url",
        }
        assert item["number"] == full["number"]
        assert item["title"] == full["title"]
        assert item["template"] == full["template"]
        assert item["status"] == full["status"] == document["status"]
        assert item["document_date"] == full["date"]
        assert item["pending_roles"] == full["pending_roles"]
        assert item["verify_url"] == full["verify_url"]
        assert datetime.fromisoformat(item["created_at"]) == datetime.fromisoformat(
            full["created_at"]
        )
    assert items[world.d1["id"]]["pending_roles"] == []
    assert items[world.mou["id"]]["pending_roles"] == ["pihak_pertama", "pihak_kedua"]
    assert items[world.d5["id"]]["unit_id"] == world.other_unit
    assert items[world.d2["id"]]["unit_id"] == people.unit_id
    assert items[world.d2["id"]]["document_date"] == "2021-03-15"


# Search -------------------------------------------------------------------------------------


def test_search_by_number(people: People, world: World) -> None:
    operator = people.operator.client
    assert ids(operator, q=world.d3["number"]) == [world.d3["id"]]
    assert ids(operator, q=world.mou["number"]) == [world.mou["id"]]
    # Not everything: a character LIKE treats as a wildcard is searched for as itself.
    assert ids(people.admin.client, q="%") == []
    assert ids(people.admin.client, q="_") == []


def test_search_by_name(people: People, world: World) -> None:
    operator = people.operator.client
    d1, d2 = world.d1["id"], world.d2["id"]
    assert ids(operator, q=f"hartono {TOKEN}") == [d2, d1]
    assert ids(operator, q=f"  HARTONO   {TOKEN.upper()} ") == [d2, d1]
    assert ids(operator, q=f"{TOKEN} wahyuni") == [world.d3["id"]]
    # A name in a field of its own (nama_pihak_kedua of the MoU).
    assert ids(operator, q=f"siti aminah {TOKEN}") == [world.mou["id"]]
    # Every word must match.
    assert ids(operator, q=f"hartono wahyuni {TOKEN}") == []
    # Words that are not a name, a NIP or the number are not searched.
    assert ids(operator, q=f"kepegawaian {TOKEN}") == []


def test_search_by_nip(people: People, world: World) -> None:
    operator = people.operator.client
    d1, d2 = world.d1["id"], world.d2["id"]
    assert ids(operator, q=NIP_A) == [d2, d1]
    # As a NIP is shown: grouped.
    assert ids(operator, q="19681104 200003 1 851") == [d2, d1]
    # Its start: the birth date.
    assert ids(operator, q="19681104") == [d2, d1]
    # A NIP anywhere in the data: PIHAK KEDUA's, PIHAK PERTAMA's.
    assert ids(operator, q=NIP_C) == [world.mou["id"]]
    assert ids(operator, q=NIP_B) == [world.mou["id"], world.d3["id"]]
    # The other unit's NIP finds nothing for this unit's operator.
    assert ids(operator, q=NIP_D) == []
    assert ids(people.admin.client, q=NIP_D) == [world.d5["id"]]


# Filters ------------------------------------------------------------------------------------


def test_filter_by_status(people: People, world: World) -> None:
    operator = people.operator.client
    assert ids(operator, q=TOKEN, status="sah") == [world.d1["id"]]
    assert ids(operator, q=TOKEN, status="dicabut") == [world.d3["id"]]
    assert ids(operator, q=TOKEN, status="menunggu_tanda_tangan") == [
        world.mou["id"],
        world.d2["id"],
    ]


def test_filter_by_template(people: People, world: World) -> None:
    operator = people.operator.client
    assert ids(operator, q=TOKEN, template="nota-kesepahaman") == [world.mou["id"]]
    assert ids(operator, q=TOKEN, template="pakta-integritas") == world.shared[1:]
    assert ids(operator, q=TOKEN, template="berita-acara-pelantikan") == []


def test_filter_by_date_and_unit(people: People, world: World) -> None:
    operator = people.operator.client
    assert ids(operator, q=TOKEN, date_from="2021-03-10", date_to="2021-04-30") == [
        world.d3["id"],
        world.d2["id"],
    ]
    # Both ends count.
    assert ids(operator, q=TOKEN, date_from="2021-03-01", date_to="2021-03-15") == [
        world.d2["id"],
        world.d1["id"],
    ]
    assert ids(operator, q=TOKEN, date_from="2021-05-01") == [world.mou["id"]]
    assert ids(operator, q=TOKEN, date_to="2021-03-14") == [world.d1["id"]]
    assert ids(people.admin.client, q=TOKEN, unit_id=world.other_unit) == [world.d5["id"]]
    assert ids(people.admin.client, q=TOKEN, unit_id=people.unit_id) == world.shared


def test_empty_parameters_of_a_form_filter_nothing(people: People, world: World) -> None:
    blank = {"status": "", "template": "", "unit_id": "", "date_from": "", "date_to": ""}
    assert ids(people.operator.client, q=TOKEN, **blank) == world.shared
    admin_all = listing(people.admin.client, per_page=1)
    assert listing(people.admin.client, q="", per_page=1, **blank)["total"] == admin_all["total"]


# Paging -------------------------------------------------------------------------------------


def test_pages_newest_first(people: People, world: World) -> None:
    admin = people.admin.client
    everything = [world.d5["id"], *world.shared]
    pages = [listing(admin, q=TOKEN, per_page=2, page=n) for n in (1, 2, 3, 4)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    assert {p["total"] for p in pages} == {5}
    assert [(p["page"], p["per_page"]) for p in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]
    assert [item["id"] for p in pages for item in p["items"]] == everything
    created = [datetime.fromisoformat(item["created_at"]) for p in pages for item in p["items"]]
    assert created == sorted(created, reverse=True)
    # Without paging parameters: the first page of 20.
    first = listing(admin, q=TOKEN)
    assert (first["page"], first["per_page"], first["total"]) == (1, 20, 5)
    assert [item["id"] for item in first["items"]] == everything


# Bad parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"per_page": "0"}, "per_page", "bilangan bulat dari 1 sampai 100"),
        ({"per_page": "1000"}, "per_page", "bilangan bulat dari 1 sampai 100"),
        ({"per_page": "dua"}, "per_page", "bilangan bulat dari 1 sampai 100"),
        ({"page": "0"}, "page", "bilangan bulat 1 atau lebih"),
        ({"page": "-1"}, "page", "bilangan bulat 1 atau lebih"),
        ({"date_from": "kemarin"}, "date_from", "TTTT-BB-HH"),
        ({"date_to": "27-06-2024"}, "date_to", "TTTT-BB-HH"),
        ({"date_from": "2021-02-30"}, "date_from", "tidak ada"),
        ({"status": "selesai"}, "status", "harus salah satu dari: draf"),
        ({"q": "x" * 201}, "q", "paling panjang 200 karakter"),
        (
            {"date_from": "2021-05-01", "date_to": "2021-04-30"},
            "date_to",
            "tidak boleh sebelum tanggal awal",
        ),
    ],
)
def test_bad_parameters_are_422_in_indonesian(
    client: httpx.Client, params: dict[str, str], field: str, words: str
) -> None:
    response = client.get("/api/v1/documents", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "DataInvalid"
    assert body["detail"] == f"Data tidak valid: {field}"
    assert [p["field"] for p in body["problems"]] == [field]
    assert words in body["problems"][0]["message"]


@pytest.mark.parametrize("per_page", ["0", "1000"])
def test_bad_batch_paging_is_422(client: httpx.Client, per_page: str) -> None:
    response = client.get("/api/v1/batches", params={"per_page": per_page})
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert problems == [{"field": "per_page", "message": "harus bilangan bulat dari 1 sampai 100"}]


# Batches ------------------------------------------------------------------------------------


def batch_ids(client: httpx.Client, **params: object) -> list[str]:
    return [b["id"] for b in listing(client, "/api/v1/batches", **params)["items"]]


def test_batches_of_the_units_newest_first(
    people: People, world: World, anonymous: httpx.Client
) -> None:
    operator = people.operator.client
    first = listing(operator, "/api/v1/batches", per_page=2)
    assert [b["id"] for b in first["items"]] == [world.b2, world.b1]
    assert (first["page"], first["per_page"]) == (1, 2)
    assert batch_ids(operator, per_page=1, page=2) == [world.b1]
    b1 = first["items"][1]
    assert b1 == {
        "id": world.b1,
        "template": "pakta-integritas",
        "filename": "daftar.csv",
        "status": "selesai",
        "total": 2,
        "done": 1,
        "failed": 1,
        "created_at": b1["created_at"],
        "unit_id": people.unit_id,
    }
    assert first["items"][0]["done"] == 1 and first["items"][0]["failed"] == 0
    # Every page of the unit's batches: theirs only, and all of them.
    seen = batch_ids(operator, per_page=100)
    assert len(seen) == first["total"]
    assert {world.b1, world.b2} <= set(seen) and world.b3 not in seen
    # The unit's auditor sees the same; the other unit's operator only theirs; the admin all.
    assert batch_ids(world.auditor.client, per_page=100) == seen
    other = listing(world.other_operator.client, "/api/v1/batches")
    assert [b["id"] for b in other["items"]] == [world.b3] and other["total"] == 1
    everything = listing(people.admin.client, "/api/v1/batches", per_page=100)
    assert {world.b1, world.b2, world.b3} <= {b["id"] for b in everything["items"]}
    assert everything["total"] >= first["total"] + 1
    # Signers sign batches but do not list them; nobody logged in gets nothing.
    refused = world.signers[NIP_E].client.get("/api/v1/batches")
    assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"
    assert anonymous.get("/api/v1/batches").status_code == 401


# Migration 0009 ---------------------------------------------------------------------------


@pytest.fixture()
def registry_at_0008(tmp_path: Path) -> str:
    """A registry as revision 0008 left it (migrated to the newest, then down again)."""
    url = database_url(tmp_path)
    migrate(url)
    downgrade(url, "0008")
    return url


def test_migration_fills_the_search_text_of_earlier_documents(registry_at_0008: str) -> None:
    berita_acara = {
        "nama_pejabat_pelantik": "Drs. Hartono, M.Si.",
        "nip_pejabat_pelantik": NIP_A,
        "nama_saksi_1": "Sri Wahyuni",
        "nip_saksi_1": "",
        "jabatan_saksi_1": "Kepala Bagian Umum",
        "peserta": [
            {"nama": "Bambang Wijaya", "nip": NIP_B, "jabatan": "Camat"},
            {"nama": "Dewi Lestari", "nip": NIP_C, "jabatan": "Sekretaris Camat"},
        ],
        "tempat": "Sidoarjo",
    }
    rows = [
        ("ba", "800.1.3.3/7/BKPSDM/VI/2024", berita_acara, "menunggu_tanda_tangan"),
        ("draf", None, {"nama": "Siti Aminah", "ni_pppk": "199001012024211001"}, "draf"),
    ]
    with registry(registry_at_0008) as conn:
        for document_id, number, data, status in rows:
            conn.execute(
                "INSERT INTO documents (id, template_id, template_version, template_sha256, "
                "document_type, title, number, document_date, data, verify_code, status, "
                "created_at) VALUES (%s, 't', 1, %s, 'jenis', 'Judul', %s, '2024-06-27', %s, %s, "
                "%s, '2024-06-27 08:00:00.000000+00:00')",
                (
                    document_id,
                    "0" * 64,
                    number,
                    json.dumps(data),
                    None if number is None else uuid.uuid4().hex,
                    status,
                ),
            )
    migrate(registry_at_0008)
    with registry(registry_at_0008) as conn:
        found = dict(conn.execute("SELECT id, search_text FROM documents").fetchall())
    assert found["ba"].split("\n") == [
        "800.1.3.3/7/bkpsdm/vi/2024",
        "drs. hartono, m.si.",
        NIP_A,
        "sri wahyuni",
        "bambang wijaya",
        NIP_B,
        "dewi lestari",
        NIP_C,
    ]
    assert found["draf"].split("\n") == ["siti aminah", "199001012024211001"]
