"""Unit profiles through the running service (issue 20, first slice): the admin writes a unit's
kop lines, address, place, time zone, numbering codes per template and emblem; documents and
batch rows of the unit take their numbers and an empty place from it."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import People, pakta_data
from tests.test_bulk import generated, pakta_csv
from tests.test_templates_content import nip_of

PAKTA = "pakta-integritas"
DISDIK = {
    "kop_lines": ["PEMERINTAH KABUPATEN PASURUAN"],
    "address": "Jalan Pahlawan Nomor 1, Pasuruan, Telepon (0343) 123456",
    "place": "Pasuruan",
    "timezone": "WITA",
    "numbering": {PAKTA: {"kode": "800.1.12", "unit": "DISDIK"}},
}
# 2024-06-27 (the tests' pakta date): June, "VI".
MONTH_YEAR = "VI/2024"


def png(width: int = 16, height: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def svg(body: str = '<circle cx="8" cy="8" r="6"/>', attributes: str = "") -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="16" height="16"{attributes}>{body}</svg>'
    ).encode()


def put_profile(client: httpx.Client, unit_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.put(f"/api/v1/units/{unit_id}/profile", json=body)


def put_emblem(
    client: httpx.Client, unit_id: str, content: bytes, name: str = "lambang.png"
) -> httpx.Response:
    kind = "image/svg+xml" if name.endswith(".svg") else "image/png"
    return client.put(f"/api/v1/units/{unit_id}/emblem", files={"file": (name, content, kind)})


def problems_of(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return [(p["field"], p["message"]) for p in response.json()["problems"]]


@pytest.fixture(scope="module")
def disdik(people: People) -> str:
    """The unit "Dinas Pendidikan" with its profile (numbering codes for the pakta)."""
    unit_id = people.unit("Dinas Pendidikan Kabupaten Pasuruan")
    response = put_profile(people.admin.client, unit_id, DISDIK)
    assert response.status_code == 200, response.text
    return unit_id


# --- the contract -------------------------------------------------------------------------


def test_the_admin_writes_a_profile_and_the_unit_reads_it(people: People) -> None:
    unit_id = people.unit("Bawaslu Kabupaten Cirebon")
    fresh = people.admin.client.get(f"/api/v1/units/{unit_id}/profile")
    assert fresh.status_code == 200, fresh.text
    assert fresh.json() == {
        "unit_id": unit_id,
        "kop_lines": [],
        "name_lines": [],
        "address": "",
        "place": "",
        "timezone": "WIB",
        "numbering": {},
        "emblem": None,
    }
    body = {
        "kop_lines": [],
        "name_lines": ["BADAN PENGAWAS PEMILIHAN UMUM", "KABUPATEN CIREBON"],
        "address": "Jalan Sunan Gunung Jati, Sumber",
        "place": "Sumber",
        "timezone": "WIB",
        "numbering": {"nota-kesepahaman": {"kode": "100.3.5", "unit": "BWS-CRB"}},
    }
    written = put_profile(people.admin.client, unit_id, body)
    assert written.status_code == 200, written.text
    assert written.json() == {**body, "unit_id": unit_id, "emblem": None}

    operator = people.user("operator", [unit_id]).client
    read = operator.get(f"/api/v1/units/{unit_id}/profile")
    assert read.status_code == 200 and read.json() == written.json()
    # Another unit's operator does not see it.
    other = people.operator.client.get(f"/api/v1/units/{unit_id}/profile")
    assert other.status_code == 404

    # A later write replaces the whole profile.
    again = put_profile(people.admin.client, unit_id, {"place": "Cirebon"})
    assert again.status_code == 200
    assert again.json()["place"] == "Cirebon" and again.json()["numbering"] == {}


def test_only_the_admin_changes_a_profile_or_an_emblem(
    people: People, anonymous: httpx.Client
) -> None:
    unit_id = people.unit_id
    for client, status in ((people.operator.client, 403), (anonymous, 401)):
        assert put_profile(client, unit_id, {"place": "Sidoarjo"}).status_code == status
        assert put_emblem(client, unit_id, png()).status_code == status
    assert anonymous.get(f"/api/v1/units/{unit_id}/profile").status_code == 401
    assert anonymous.get(f"/api/v1/units/{unit_id}/emblem").status_code == 401
    unknown = put_profile(people.admin.client, "0" * 32, {"place": "Sidoarjo"})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Unit tidak ditemukan"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"timezone": "XYZ"}, "timezone", "pilih 'WIB', 'WITA' atau 'WIT'"),
        ({"kop_lines": ["SATU", "DUA", "TIGA"]}, "kop_lines", "maksimal 2 isian"),
        ({"kop_lines": ["PEMERINTAH \u202eKABUPATEN"]}, "kop_lines.0", "U+202E"),
        ({"place": "Pasu\u200bruan"}, "place", "U+200B"),
        ({"address": "A" * 301}, "address", "maksimal 300 karakter"),
        (
            {"numbering": {"surat-tugas": {"kode": "800", "unit": "X"}}},
            "numbering.surat-tugas",
            "templat 'surat-tugas' tidak dikenal",
        ),
        (
            {"numbering": {PAKTA: {"kode": "800/1", "unit": "DISDIK"}}},
            "numbering.pakta-integritas.kode",
            "",
        ),
    ],
)
def test_a_profile_that_does_not_hold_is_refused_in_indonesian(
    people: People, change: dict[str, Any], field: str, message: str
) -> None:
    unit_id = people.unit("Unit Uji Profil")
    response = put_profile(people.admin.client, unit_id, {**DISDIK, **change})
    problems = problems_of(response)
    assert any(f == field and message in m for f, m in problems), problems
    # Nothing was kept.
    kept = people.admin.client.get(f"/api/v1/units/{unit_id}/profile").json()
    assert kept["place"] == "" and kept["numbering"] == {}


def test_the_profile_change_is_audited_naming_the_admin(people: People) -> None:
    unit_id = people.unit("Unit Uji Audit Profil")
    assert put_profile(people.admin.client, unit_id, DISDIK).status_code == 200
    assert put_emblem(people.admin.client, unit_id, png()).status_code == 200
    entries = [e for e in people.audit_log() if e["entity_id"] == unit_id]
    changed = [e for e in entries if e["action"] == "unit.profile_changed"]
    assert len(changed) == 1
    assert changed[0]["actor"] == people.admin.id
    assert changed[0]["details"]["numbering"] == DISDIK["numbering"]
    assert changed[0]["details"]["timezone"] == "WITA"
    [emblem] = [e for e in entries if e["action"] == "unit.emblem_changed"]
    assert emblem["actor"] == people.admin.id
    assert emblem["details"]["content_type"] == "image/png"


# --- the emblem ---------------------------------------------------------------------------


def test_a_png_emblem_is_kept_and_served_as_uploaded(people: People) -> None:
    unit_id = people.unit("Unit Uji Lambang PNG")
    content = png(120, 140)
    put = put_emblem(people.admin.client, unit_id, content)
    assert put.status_code == 200, put.text
    assert put.json()["content_type"] == "image/png" and put.json()["size"] == len(content)
    served = people.admin.client.get(f"/api/v1/units/{unit_id}/emblem")
    assert served.status_code == 200
    assert served.content == content
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    profile = people.admin.client.get(f"/api/v1/units/{unit_id}/profile").json()
    assert profile["emblem"]["sha256"] == put.json()["sha256"]


def test_an_svg_emblem_is_served_under_a_policy_that_runs_nothing(people: People) -> None:
    unit_id = people.unit("Unit Uji Lambang SVG")
    content = svg('<defs><path id="p" d="M0 0L8 8"/></defs><use xlink:href="#p"/>')
    assert put_emblem(people.admin.client, unit_id, content, "lambang.svg").status_code == 200
    served = people.admin.client.get(f"/api/v1/units/{unit_id}/emblem")
    assert served.status_code == 200 and served.content == content
    assert served.headers["content-type"].startswith("image/svg+xml")
    policy = served.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy


def test_a_unit_without_an_emblem_has_none_to_serve(people: People) -> None:
    unit_id = people.unit("Unit Tanpa Lambang")
    missing = people.admin.client.get(f"/api/v1/units/{unit_id}/emblem")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Unit ini belum memiliki lambang"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (svg("<script>alert(1)</script>"), "elemen <script>"),
        (
            svg('<foreignObject><p xmlns="http://www.w3.org/1999/xhtml">x</p></foreignObject>'),
            "elemen <foreignobject>",
        ),
        (svg(attributes=' onload="alert(1)"'), "atribut peristiwa (onload)"),
        (svg('<a><set attributeName="href" to="javascript:alert(1)"/></a>'), "elemen <set>"),
        (
            svg('<image xlink:href="https://contoh.go.id/a.png" width="8" height="8"/>'),
            "di luar dirinya",
        ),
        (
            svg('<rect width="8" height="8" style="fill: url(https://contoh.go.id/x)"/>'),
            "di luar dirinya",
        ),
        (svg("<style>@import url(https://contoh.go.id/x.css);</style>"), "di luar dirinya"),
        (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]>' + svg(), "dapat dibaca"),
        (b"\x89PNG\r\n\x1a\n" + b"bukan gambar" * 20, "bukan gambar PNG"),
        (b"GIF89a" + b"\x00" * 40, "dapat dibaca"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "dapat dibaca"),
    ],
)
def test_an_emblem_that_is_no_harmless_png_or_svg_is_refused(
    people: People, content: bytes, message: str
) -> None:
    unit_id = people.unit_id
    problems = problems_of(put_emblem(people.admin.client, unit_id, content, "lambang.svg"))
    assert [f for f, _ in problems] == ["file"]
    assert message in problems[0][1], problems


def test_an_emblem_over_the_bounds_is_refused(people: People) -> None:
    unit_id = people.unit_id
    too_big = put_emblem(people.admin.client, unit_id, png() + b"\x00" * (512 * 1024))
    assert too_big.status_code == 413 and too_big.json()["error"] == "UploadTooLarge"
    # Small in bytes, too many pixels: refused before it is decoded.
    huge = problems_of(put_emblem(people.admin.client, unit_id, png(3000, 3000)))
    assert "terlalu besar" in huge[0][1]


# --- numbers and places from the unit -----------------------------------------------------


def test_a_unit_with_its_own_codes_numbers_its_pakta_with_them(people: People, disdik: str) -> None:
    """Dinas Pendidikan's pakta take its kode and unit, in a sequence of their own; another
    unit without codes numbers with the manifest's kode and its own code (the manifest names no
    unit)."""
    operator = people.user("operator", [disdik]).client
    nip = nip_of(950)
    people.signer(nip, name="Dra. Sri Wahyuni")
    first = operator.post(
        "/api/v1/documents", json={"template": PAKTA, "data": pakta_data(nip=nip)}
    )
    assert first.status_code == 201, first.text
    assert first.json()["number"] == f"800.1.12/1/DISDIK/{MONTH_YEAR}"
    second = operator.post(
        "/api/v1/documents", json={"template": PAKTA, "data": pakta_data(nip=nip)}
    )
    assert second.json()["number"] == f"800.1.12/2/DISDIK/{MONTH_YEAR}"

    dinkes = people.unit("Dinas Kesehatan")
    other = people.user("operator", [dinkes]).client
    theirs = other.post("/api/v1/documents", json={"template": PAKTA, "data": pakta_data(nip=nip)})
    assert theirs.status_code == 201, theirs.text
    kode, urut, unit, month, year = str(theirs.json()["number"]).split("/")
    assert (kode, urut, unit) == ("800.1.12", "1", people.unit_code(dinkes))
    assert f"{month}/{year}" == MONTH_YEAR


def made_batch(operator: httpx.Client, rows: list[dict[str, object]]) -> dict[str, Any]:
    """A batch of pakta from ``rows``, made in the background and all done."""
    made = operator.post(
        "/api/v1/batches",
        data={"template": PAKTA},
        files={"file": ("daftar.csv", pakta_csv(rows), "text/csv")},
    )
    assert made.status_code == 202, made.text
    batch = generated(operator, made.json()["id"])
    assert batch["failed"] == 0, batch["errors"]
    return batch


def test_batch_rows_take_the_units_codes_and_place(people: People, disdik: str) -> None:
    operator = people.user("operator", [disdik]).client
    rows = [pakta_data(nip=nip_of(i), nama=f"Guru {i}", tempat="") for i in (951, 952)]
    for row in rows:
        people.signer(str(row["nip"]), name=row["nama"])
    dry = operator.post(
        "/api/v1/batches",
        params={"dry_run": "true"},
        data={"template": PAKTA},
        files={"file": ("daftar.csv", pakta_csv(rows), "text/csv")},
    )
    assert dry.status_code == 200 and dry.json()["invalid"] == 0, dry.text
    batch = made_batch(operator, rows)
    numbers = sorted(d["number"] for d in batch["documents"])
    assert all(n.startswith("800.1.12/") and n.endswith(f"/DISDIK/{MONTH_YEAR}") for n in numbers)
    for doc in batch["documents"]:
        registered = operator.get(f"/api/v1/documents/{doc['id']}").json()
        assert registered["data"]["tempat"] == "Pasuruan"


def test_the_units_place_fills_an_empty_place_and_only_then(people: People, disdik: str) -> None:
    operator = people.user("operator", [disdik]).client
    nip = nip_of(953)
    people.signer(nip, name="Ahmad Fauzi, S.Pd.")
    for tempat, want in (("", "Pasuruan"), ("Bangil", "Bangil")):
        made = operator.post(
            "/api/v1/documents",
            json={"template": PAKTA, "data": pakta_data(nip=nip, tempat=tempat)},
        )
        assert made.status_code == 201, made.text
        assert made.json()["data"]["tempat"] == want
    # A unit without a place: an empty place is still missing.
    other = people.user("operator", [people.unit("Dinas Sosial")]).client
    missing = other.post(
        "/api/v1/documents", json={"template": PAKTA, "data": pakta_data(nip=nip, tempat="")}
    )
    assert [f for f, _ in problems_of(missing)] == ["tempat"]


def test_a_draft_takes_the_units_place_and_its_number_on_issue(people: People, disdik: str) -> None:
    operator = people.user("operator", [disdik]).client
    nip = nip_of(954)
    people.signer(nip, name="Siti Aminah, S.Pd.")
    made = operator.post(
        "/api/v1/documents",
        json={"template": PAKTA, "data": pakta_data(nip=nip, tempat=""), "draft": True},
    )
    assert made.status_code == 201, made.text
    assert made.json()["data"]["tempat"] == "Pasuruan" and made.json()["number"] is None
    issued = operator.post(f"/api/v1/documents/{made.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    number = operator.get(f"/api/v1/documents/{made.json()['id']}").json()["number"]
    assert number.startswith("800.1.12/") and number.endswith(f"/DISDIK/{MONTH_YEAR}")
