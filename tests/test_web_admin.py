"""The admin's pages, the signers' list and the account page, in a real browser (issue 17).

A broken template upload lists its problems, a good one becomes version 1 then 2 of its id; the
admin rejects a proposed signer, sends a new activation link, revokes a certificate; a signer
changes password and PIN and makes and revokes an API token; an operator may not open the
admin's pages. (Units, users, signer approvals
and the audit log are walked through in test_web_journey.py, in the order an office meets them.)
Every page is photographed at phone and desktop size under var/screenshots/.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page

from tests.browser import PHONE, log_in, shoot, submit
from tests.conftest import PIN, REPO, Service
from tests.people import PASSWORD, Account, People

NEW_PASSWORD = "Sandi-Baru-Kantor-2026!"
NEW_PIN = "975318"


def log_out(page: Page) -> None:
    submit(page, "Keluar")
    assert "/masuk" in page.url


@pytest.fixture(scope="module")
def admin(people: People) -> Account:
    return people.admin


def new_page(browser: Browser, service: Service) -> Page:
    return browser.new_context(viewport=PHONE, base_url=service.url).new_page()


def test_broken_template_upload_lists_problems(
    browser: Browser, service: Service, admin: Account
) -> None:
    page = new_page(browser, service)
    log_in(page, admin.username, admin.otp)
    page.goto("/admin/templat")
    assert page.locator("td[data-label=Templat] code", has_text="pakta-integritas").count() == 1
    manifest = b'id = "Bukan Id!"\ntitle = ""\n[[fields]]\nname = 3\n'
    docx = (REPO / "templates" / "pakta-integritas" / "template.docx").read_bytes()
    page.get_by_label("manifest.toml").set_input_files(
        {"name": "manifest.toml", "mimeType": "application/toml", "buffer": manifest}
    )
    page.get_by_label("Berkas DOCX").set_input_files(
        {"name": "template.docx", "mimeType": "application/octet-stream", "buffer": docx}
    )
    assert submit(page, "Unggah templat").status == 422
    places = page.locator("#masalah td[data-label=Tempat]").all_inner_texts()
    messages = page.locator("#masalah td[data-label=Masalah]").all_inner_texts()
    assert places and len(places) == len(messages)
    assert any(p.startswith("manifest.toml") for p in places), places
    assert all(m.strip() for m in messages)
    shoot(page, "adm-templat")
    page.context.close()


def test_a_good_upload_becomes_the_next_version(
    browser: Browser, service: Service, admin: Account
) -> None:
    page = new_page(browser, service)
    log_in(page, admin.username, admin.otp)
    template_id = f"pakta-uji-{uuid.uuid4().hex[:6]}"
    folder = REPO / "templates" / "pakta-integritas"
    manifest = (folder / "manifest.toml").read_text(encoding="utf-8")
    manifest = re.sub(r'^id = ".*"$', f'id = "{template_id}"', manifest, count=1, flags=re.M)
    page.goto("/admin/templat")
    for version in (1, 2):
        page.get_by_label("manifest.toml").set_input_files(
            {"name": "manifest.toml", "mimeType": "application/toml", "buffer": manifest.encode()}
        )
        page.get_by_label("Berkas DOCX").set_input_files(
            {
                "name": "template.docx",
                "mimeType": "application/octet-stream",
                "buffer": (folder / "template.docx").read_bytes(),
            }
        )
        assert submit(page, "Unggah templat").status == 200
        assert f"{template_id} versi {version}" in page.inner_text(".flash")
        row = page.get_by_role("row").filter(has=page.locator("code", has_text=template_id))
        assert row.locator("td[data-label='Versi terbaru']").inner_text().startswith(str(version))
    links = row.locator("td[data-label='Semua versi (DOCX)'] a")
    assert links.all_inner_texts() == ["v1", "v2"]
    docx = page.request.get(str(links.nth(0).get_attribute("href")))
    assert docx.status == 200 and docx.body()[:2] == b"PK"
    shoot(page, "adm-templat-versi")
    page.context.close()


def test_admin_rejects_renews_a_link_and_revokes(
    browser: Browser, service: Service, admin: Account, people: People
) -> None:
    proposed = {}
    for name, nip in (
        ("Drs. Hadi Purnomo", "196304101989031304"),
        ("Ani Rahmawati, S.E.", "196305201990032305"),
    ):
        made = people.operator.client.post(
            "/api/v1/signers",
            json={"name": name, "nip": nip, "jabatan": "Kepala Seksi", "unit_id": people.unit_id},
        )
        assert made.status_code == 201, made.text
        proposed[name] = made.json()["id"]
    active = people.signer("196306301991031306", name="Ir. Bambang Sutrisno")
    page = new_page(browser, service)
    log_in(page, admin.username, admin.otp)
    page.goto("/penanda-tangan")

    def row(name: str) -> Locator:
        return page.get_by_role("row").filter(has_text=name)

    # A proposal rejected with a reason: no reason first, then one.
    rejected = row("Drs. Hadi Purnomo")
    rejected.get_by_text("Tolak", exact=True).click()
    rejected.get_by_label("Alasan").fill("Bukan pejabat unit ini")
    with page.expect_navigation():
        rejected.get_by_role("button", name="Tolak usulan").click()
    assert "Drs. Hadi Purnomo: ditolak atau dicabut" in page.inner_text(".flash")
    assert "dicabut" in row("Drs. Hadi Purnomo").inner_text()
    assert "Bukan pejabat unit ini" in row("Drs. Hadi Purnomo").inner_text()
    assert row("Drs. Hadi Purnomo").get_by_role("button").count() == 0

    # Approved, then a new link: the first no longer opens, the new one does.
    assert submit(page, "Setujui Ani Rahmawati, S.E.").status == 200
    first = str(page.locator("#activation-link").get_attribute("href"))
    assert submit(page, "Tautan aktivasi baru untuk Ani Rahmawati, S.E.").status == 200
    second = str(page.locator("#activation-link").get_attribute("href"))
    assert second != first
    assert page.request.get(first).status == 404
    assert page.request.get(second).status == 200
    shoot(page, "adm-penanda-tangan-tautan")

    # An active signer's certificate revoked: the entry says so, and it signs nothing more.
    page.goto("/penanda-tangan")
    revoked = row("Ir. Bambang Sutrisno")
    revoked.get_by_text("Cabut", exact=True).click()
    revoked.get_by_label("Alasan").fill("Pindah tugas ke kabupaten lain")
    with page.expect_navigation():
        revoked.get_by_role("button", name="Cabut sertifikat").click()
    assert "dicabut" in row("Ir. Bambang Sutrisno").inner_text()
    entry = people.admin.client.get(f"/api/v1/signers/{active.signer_id}").json()
    assert entry["status"] == "dicabut"
    page.context.close()


def test_account_page_password_pin_and_tokens(
    browser: Browser, service: Service, people: People
) -> None:
    nip = "196302151988031303"
    signer = people.signer(nip)
    page = new_page(browser, service)
    log_in(page, signer.username)
    page.goto("/akun")

    # A wrong current password is told beside its field; then the change, and a login with it.
    page.get_by_label("Kata sandi sekarang").fill("salah-sekali-1234")
    page.get_by_label("Kata sandi baru").fill(NEW_PASSWORD)
    assert submit(page, "Ganti kata sandi").status == 422
    assert page.locator("#pw-old-error").inner_text() == "kata sandi lama salah"
    page.get_by_label("Kata sandi sekarang").fill(PASSWORD)
    page.get_by_label("Kata sandi baru").fill(NEW_PASSWORD)
    submit(page, "Ganti kata sandi")
    assert page.inner_text(".flash") == "Kata sandi diganti"
    log_out(page)
    log_in(page, signer.username, password=NEW_PASSWORD)

    # A new PIN for the same key: the old one no longer signs anything.
    page.goto("/akun")
    page.get_by_label("PIN sekarang").fill(PIN)
    page.get_by_label("PIN baru").fill(NEW_PIN)
    submit(page, "Ganti PIN")
    assert page.inner_text(".flash") == "PIN diganti"
    page.get_by_label("PIN sekarang").fill(PIN)
    page.get_by_label("PIN baru").fill("864213")
    assert submit(page, "Ganti PIN").status == 403
    assert page.locator("#pin-old-error").is_visible()
    page.goto("/akun")

    # An API token, shown once, works until it is revoked.
    page.get_by_label("Nama token").fill("SIMPEG uji")
    assert submit(page, "Buat token").status == 201
    token = page.locator("#token-baru").inner_text().strip()
    shoot(page, "adm-akun")
    me = httpx.get(
        f"{service.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert me.status_code == 200 and me.json()["username"] == signer.username
    page.goto("/akun")
    assert page.locator("#token-baru").count() == 0
    submit(page, "Cabut token SIMPEG uji")
    assert page.inner_text(".flash") == "Token dicabut"
    me = httpx.get(
        f"{service.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert me.status_code == 401
    page.context.close()


def test_admin_pages_refuse_others(people: People, anonymous: httpx.Client) -> None:
    """Nobody is sent to the login page; an API client with another role gets the JSON 403."""
    went = anonymous.get("/admin/audit")
    assert went.status_code == 303 and went.headers["location"] == "/masuk?lanjut=/admin/audit"
    refused = people.operator.client.post("/admin/unit", data={"name": "X", "code": "X"})
    assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"
    page = people.operator.client.get("/admin/pengguna")
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    admin_only = people.operator.client.post(f"/penanda-tangan/{uuid.uuid4().hex}/setujui")
    assert admin_only.status_code == 403
