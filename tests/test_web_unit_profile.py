"""The admin's page of a unit's profile, in a real browser (issue 20): kop lines, address, place,
time zone and numbering codes saved through the API's service (the API reads them back, the
audit log names the admin); a value that does not hold is refused beside its field in
Indonesian and nothing is kept; an emblem uploaded with its preview, a harmful SVG refused.
Photographed at phone and desktop size under var/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import PHONE, log_in, shoot, submit
from tests.conftest import Service
from tests.people import Account, People
from tests.test_unit_profiles import png, svg

# Labelled by title and id: uploaded templates may share a title.
PAKTA_TITLE = "Pakta Integritas Netralitas ASN (pakta-integritas)"
UNIT = "Pemerintah Kabupaten Kutai Kartanegara Uji Halaman"


@pytest.fixture(scope="module")
def admin(people: People) -> Account:
    return people.admin


@pytest.fixture()
def page(browser: Browser, service: Service, admin: Account) -> Iterator[Page]:
    """The admin, logged in, in a phone-sized browser."""
    context = browser.new_context(viewport=PHONE, base_url=service.url)
    page = context.new_page()
    log_in(page, admin.username, admin.otp)
    yield page
    context.close()


def open_profile(page: Page, unit_name: str) -> None:
    """From the list of units to the unit's profile page."""
    page.goto("/admin/unit")
    with page.expect_navigation():
        page.get_by_role("link", name=f"Profil {unit_name}", exact=True).click()
    assert page.get_by_role("heading", name=f"Profil {unit_name}").is_visible()


def test_the_admin_sets_kop_lines_zone_and_codes(
    page: Page, people: People, admin: Account
) -> None:
    unit_id = people.unit(UNIT)
    open_profile(page, UNIT)
    page.get_by_label("Baris kop 1", exact=True).fill("PEMERINTAH KABUPATEN KUTAI KARTANEGARA")
    page.get_by_label("Baris kop 2", exact=True).fill("SEKRETARIAT DAERAH")
    page.get_by_label("Baris nama 1", exact=True).fill("BAGIAN ORGANISASI")
    page.get_by_label("Alamat", exact=True).fill("Jalan Wolter Monginsidi Nomor 1, Tenggarong")
    page.get_by_label("Tempat", exact=True).fill("Tenggarong")
    page.get_by_label("Zona waktu", exact=True).select_option("WITA")
    page.get_by_label(f"Kode {PAKTA_TITLE}", exact=True).fill("800.1.12")
    page.get_by_label(f"Kode unit {PAKTA_TITLE}", exact=True).fill("SETDA-KK")
    assert submit(page, "Simpan profil").status == 200
    assert "Profil unit disimpan" in page.content()
    # The page shows what was saved.
    assert page.get_by_label("Baris kop 1", exact=True).input_value() == (
        "PEMERINTAH KABUPATEN KUTAI KARTANEGARA"
    )
    assert page.get_by_label("Zona waktu", exact=True).input_value() == "WITA"
    assert page.get_by_label(f"Kode unit {PAKTA_TITLE}", exact=True).input_value() == "SETDA-KK"
    shoot(page, "adm-unit-profil")

    # The API reads what the page wrote: the same service, the same audit.
    saved = admin.client.get(f"/api/v1/units/{unit_id}/profile").json()
    assert saved["kop_lines"] == ["PEMERINTAH KABUPATEN KUTAI KARTANEGARA", "SEKRETARIAT DAERAH"]
    assert saved["name_lines"] == ["BAGIAN ORGANISASI"]
    assert saved["address"] == "Jalan Wolter Monginsidi Nomor 1, Tenggarong"
    assert saved["place"] == "Tenggarong" and saved["timezone"] == "WITA"
    assert saved["numbering"] == {"pakta-integritas": {"kode": "800.1.12", "unit": "SETDA-KK"}}
    changed = [
        e
        for e in people.audit_log()
        if e["entity_id"] == unit_id and e["action"] == "unit.profile_changed"
    ]
    assert len(changed) == 1 and changed[0]["actor"] == admin.id

    # A bound that does not hold: each problem beside its field, in Indonesian; nothing kept.
    page.get_by_label("Baris kop 1", exact=True).fill("")  # one line only: it becomes the first
    page.get_by_label("Baris kop 2", exact=True).fill("PEMERINTAH\u202e KABUPATEN")
    page.get_by_label("Tempat", exact=True).fill("Tenggar\u200bong")
    page.get_by_label(f"Kode {PAKTA_TITLE}", exact=True).fill("800/1")
    page.get_by_label(f"Kode unit {PAKTA_TITLE}", exact=True).fill("")
    assert submit(page, "Simpan profil").status == 422
    assert "Profil tidak disimpan" in page.get_by_role("alert").inner_text()
    problems = {
        field: page.locator(f"#{field}-error").inner_text()
        for field in ("profil-kop-2", "profil-tempat", "nomor-pakta-integritas-kode")
    }
    assert "U+202E" in problems["profil-kop-2"], problems
    assert "U+200B" in problems["profil-tempat"], problems
    assert problems["nomor-pakta-integritas-kode"] == "bentuknya tidak sesuai", problems
    assert page.locator("#nomor-pakta-integritas-unit-error").inner_text() == "minimal 1 karakter"
    assert page.get_by_label("Baris kop 2", exact=True).get_attribute("aria-invalid") == "true"
    # What was typed stays in the form to be corrected.
    assert page.get_by_label("Tempat", exact=True).input_value() == "Tenggar\u200bong"
    shoot(page, "adm-unit-profil-masalah")
    kept = admin.client.get(f"/api/v1/units/{unit_id}/profile").json()
    assert kept == saved


def test_the_admin_uploads_an_emblem_and_a_harmful_svg_is_refused(
    page: Page, people: People, admin: Account
) -> None:
    name = "Pemerintah Kota Jayapura Uji Lambang"
    unit_id = people.unit(name)
    open_profile(page, name)
    assert page.locator("#lambang-kosong").inner_text() == "Unit ini belum memiliki lambang."
    content = png(64, 80)
    page.get_by_label("Berkas lambang").set_input_files(
        {"name": "lambang.png", "mimeType": "image/png", "buffer": content}
    )
    assert submit(page, "Unggah lambang").status == 200
    assert "Lambang unit disimpan" in page.content()
    preview = page.get_by_role("img", name=f"Lambang {name}")
    preview.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 64", arg=preview.element_handle()
    )
    assert admin.client.get(f"/api/v1/units/{unit_id}/emblem").content == content
    shoot(page, "adm-unit-lambang")

    page.get_by_label("Berkas lambang").set_input_files(
        {
            "name": "lambang.svg",
            "mimeType": "image/svg+xml",
            "buffer": svg("<script>alert(1)</script>"),
        }
    )
    assert submit(page, "Unggah lambang").status == 422
    problem = page.locator("#lambang-berkas-error").inner_text()
    assert "elemen <script>" in problem, problem
    assert page.get_by_label("Berkas lambang").get_attribute("aria-invalid") == "true"
    # The emblem kept is the PNG, still shown.
    assert admin.client.get(f"/api/v1/units/{unit_id}/emblem").content == content
    assert page.get_by_role("img", name=f"Lambang {name}").is_visible()
    uploads = [
        e
        for e in people.audit_log()
        if e["entity_id"] == unit_id and e["action"] == "unit.emblem_changed"
    ]
    assert [e["actor"] for e in uploads] == [admin.id]


def test_only_the_admin_opens_or_changes_a_units_profile(people: People) -> None:
    operator = people.operator.client
    unit_id = people.unit_id
    page = operator.get(f"/admin/unit/{unit_id}")
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    refused = operator.post(f"/admin/unit/{unit_id}/profil", data={"timezone": "WIT"})
    assert refused.status_code == 403
    emblem = operator.post(
        f"/admin/unit/{unit_id}/lambang", files={"file": ("l.png", png(), "image/png")}
    )
    assert emblem.status_code == 403
    unknown = people.admin.client.get(f"/admin/unit/{'0' * 32}")
    assert unknown.status_code == 404 and "Unit tidak ditemukan" in unknown.text
