"""Times in the unit's zone (issue 20): a document of a WITA unit signed at a known UTC time
shows that time in WITA (UTC+8) in its PDF's signature appearance, on the public page and its
JSON, on the office's document page and the signer's history; a WIT unit's in WIT (UTC+9); a
WIB unit's as before. A signer locked after wrong PINs reads until when in their unit's zone. A
change of a unit's zone shows at once on what its documents show."""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.conftest import People, SignerAccount, pakta_data, sign_pakta
from tests.pdftools import raw_text
from tests.test_templates_content import nip_of
from tests.test_unit_profiles import put_profile

PAKTA = "pakta-integritas"
UNITS = {
    "WITA": ("Pemerintah Kabupaten Kutai Kartanegara", "Tenggarong", 970),
    "WIT": ("Pemerintah Kota Jayapura", "Jayapura", 971),
    "WIB": ("Bawaslu Kabupaten Cirebon", "Sumber", 972),
}
OFFSETS = {"WIB": 7, "WITA": 8, "WIT": 9}
BULAN = "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember"


def written(moment: datetime, zone: str) -> str:
    """A time as the tests expect to read it, computed here (not with signing.waktu): the UTC
    time plus the zone's hours, e.g. 07:05 UTC in WITA is '15:05 WITA'."""
    local = moment.astimezone(timezone(timedelta(hours=OFFSETS[zone])))
    month = BULAN.split()[local.month - 1]
    return f"{local.day} {month} {local.year} {local:%H:%M} {zone}"


class Signed:
    """A pakta of a unit in ``zone``, made by that unit's operator and signed."""

    def __init__(self, people: People, zone: str) -> None:
        name, place, nip_number = UNITS[zone]
        self.unit_id = people.unit(name)
        profile = {"place": place, "timezone": zone}
        assert put_profile(people.admin.client, self.unit_id, profile).status_code == 200
        self.operator = people.user("operator", [self.unit_id]).client
        nip = nip_of(nip_number)
        self.signer: SignerAccount = people.signer(
            nip, name=f"Penanda Tangan {zone}", unit_id=self.unit_id
        )
        made = self.operator.post(
            "/api/v1/documents", json={"template": PAKTA, "data": pakta_data(nip=nip)}
        )
        assert made.status_code == 201, made.text
        self.id = str(made.json()["id"])
        self.code = str(made.json()["verify_code"])
        signed = sign_pakta(self.signer, self.id)
        assert signed.status_code == 200, signed.text
        document = self.operator.get(f"/api/v1/documents/{self.id}").json()
        (slot,) = document["signers"]
        self.signed_at = datetime.fromisoformat(slot["signed_at"])
        pdf = self.operator.get(f"/api/v1/documents/{self.id}/pdf")
        assert pdf.status_code == 200, pdf.text
        self.pdf = pdf.content
        (signature,) = PdfFileReader(io.BytesIO(self.pdf)).embedded_regular_signatures
        # The time the appearance shows is the signature's own signing time.
        moment = signature.self_reported_timestamp
        assert moment is not None
        self.appearance_time = moment


@pytest.fixture(scope="module")
def signed(people: People) -> dict[str, Signed]:
    return {zone: Signed(people, zone) for zone in UNITS}


def test_the_helper_writes_times_as_people_read_them() -> None:
    at = datetime.fromisoformat("2024-06-27T07:05:00+00:00")
    assert written(at, "WIB") == "27 Juni 2024 14:05 WIB"
    assert written(at, "WITA") == "27 Juni 2024 15:05 WITA"
    assert written(at, "WIT") == "27 Juni 2024 16:05 WIT"


@pytest.mark.parametrize("zone", list(UNITS))
def test_the_signature_appearance_shows_the_units_zone(
    signed: dict[str, Signed], zone: str, tmp_path: Path
) -> None:
    document = signed[zone]
    text = raw_text(document.pdf, tmp_path)
    assert "Ditandatangani secara elektronik oleh" in text, text
    assert written(document.appearance_time, zone) in text, text
    assert set(re.findall(r"\d\d:\d\d (WIB|WITA|WIT)\b", text)) == {zone}, text


@pytest.mark.parametrize("zone", list(UNITS))
def test_the_public_page_and_its_json_show_the_units_zone(
    signed: dict[str, Signed], anonymous: httpx.Client, zone: str
) -> None:
    document = signed[zone]
    view = anonymous.get(f"/api/v1/verify/{document.code}")
    assert view.status_code == 200, view.text
    assert view.json()["document"]["timezone"] == zone
    # The JSON keeps its times in UTC; the page writes them in the unit's zone.
    assert datetime.fromisoformat(view.json()["signatures"][0]["signed_at"]) == document.signed_at
    page = anonymous.get(f"/v/{document.code}")
    assert page.status_code == 200
    assert f"Ditandatangani {written(document.signed_at, zone)}" in page.text, page.text


@pytest.mark.parametrize("zone", list(UNITS))
def test_the_office_pages_show_the_units_zone(signed: dict[str, Signed], zone: str) -> None:
    document = signed[zone]
    page = document.operator.get(f"/dokumen/{document.id}")
    assert page.status_code == 200, page.text
    assert f"Sudah menandatangani, {written(document.signed_at, zone)}" in page.text
    history = document.signer.client.get("/riwayat")
    assert history.status_code == 200, history.text
    assert written(document.signed_at, zone) in history.text


def test_a_locked_signer_reads_until_when_in_their_units_zone(
    people: People, signed: dict[str, Signed]
) -> None:
    unit = signed["WIT"]
    nip = nip_of(973)
    signer = people.signer(nip, name="Penanda Tangan Terkunci", unit_id=unit.unit_id)
    made = unit.operator.post(
        "/api/v1/documents", json={"template": PAKTA, "data": pakta_data(nip=nip)}
    )
    assert made.status_code == 201, made.text
    statuses = [signer.sign(made.json()["id"], pin="999999").status_code for _ in range(5)]
    assert statuses == [403] * 5
    locked = sign_pakta(signer, made.json()["id"])
    assert locked.status_code == 423, locked.text
    assert re.search(r" \d\d:\d\d WIT$", locked.json()["detail"]), locked.json()


def public_zone(anonymous: httpx.Client, code: str) -> str:
    return str(anonymous.get(f"/api/v1/verify/{code}").json()["document"]["timezone"])


def test_a_change_of_zone_shows_at_once(
    people: People, signed: dict[str, Signed], anonymous: httpx.Client
) -> None:
    """The WIB unit moves to WIT: its document's pages write WIT from then on (the signed PDF
    keeps what it showed when signed)."""
    document = signed["WIB"]
    place = UNITS["WIB"][1]
    changed = put_profile(
        people.admin.client, document.unit_id, {"place": place, "timezone": "WIT"}
    )
    assert changed.status_code == 200, changed.text
    try:
        office = document.operator.get(f"/dokumen/{document.id}").text
        assert written(document.signed_at, "WIT") in office
        # The public view is kept for up to 1.5 s (PublicViews), within the deployment's 2 s.
        deadline = time.monotonic() + 10
        while (zone := public_zone(anonymous, document.code)) != "WIT":
            assert time.monotonic() < deadline, zone
            time.sleep(0.2)
        page = anonymous.get(f"/v/{document.code}").text
        assert written(document.signed_at, "WIT") in page
    finally:
        put_profile(people.admin.client, document.unit_id, {"place": place, "timezone": "WIB"})


def test_a_revocation_after_signing_is_dated_in_the_units_zone(
    people: People, signed: dict[str, Signed], anonymous: httpx.Client
) -> None:
    """The WITA unit's signer leaves office: the public note, the page and the check of an
    uploaded copy say when, in WITA (last in this module: the signer stays revoked)."""
    document = signed["WITA"]
    revoked = people.revoke_signer(document.signer.signer_id, "Pindah tugas")
    assert revoked.status_code == 200, revoked.text
    at = datetime.fromisoformat(revoked.json()["revoked_at"])
    when = f"dicabut pada {written(at, 'WITA')}"
    deadline = time.monotonic() + 10
    while not (note := public_note(anonymous, document.code)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert when in note and "tetap sah" in note, note
    assert when in anonymous.get(f"/v/{document.code}").text
    report = anonymous.post(
        "/api/v1/verify", files={"file": ("pakta.pdf", document.pdf, "application/pdf")}
    )
    assert report.status_code == 200, report.text
    (checked,) = report.json()["signatures"]
    assert when in checked["reason"] and checked["reason"].startswith("Tanda tangan sah"), checked


def public_note(anonymous: httpx.Client, code: str) -> str | None:
    view = anonymous.get(f"/api/v1/verify/{code}").json()
    return view["signatures"][0]["note"]  # type: ignore[no-any-return]
