"""The admin's pages, the signers' list and the account page, in a real browser (issue 17).

An admin makes a unit and an operator, who activates from the link shown, proposes two signers,
whom the admin approves; both activate in the browser. A broken template upload lists its
problems; the audit page shows the chain check and who did what; a signer changes password and
PIN and makes and revokes an API token; an operator may not open the admin's pages. Every page
is photographed at phone and desktop size under var/screenshots/.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response

from tests.conftest import PIN, REPO, Service
from tests.people import PASSWORD, Account, Otp, People

SHOTS = REPO / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# This module's NIPs: born 1963, sequence 3xx.
NIP_CAMAT = "196305121990031301"
NIP_SEKCAM = "196311022000032302"
NEW_PASSWORD = "Sandi-Baru-Kantor-2026!"
NEW_PIN = "975318"


def shoot(page: Page, name: str) -> None:
    """The page as it is now, at phone and at desktop size."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for kind, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{kind}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def submit(page: Page, button: str) -> Response:
    """Press the button of a form and wait for the page that answers."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button, exact=True).click()
    response = navigation.value
    assert response is not None
    return response


def log_in(page: Page, username: str, password: str, otp: Otp | None = None) -> None:
    page.goto("/masuk")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    if otp is not None:
        page.fill("input[name=otp]", otp.code())
    response = submit(page, "Masuk")
    assert response.status == 200, page.content()
    assert "/masuk" not in page.url


def log_out(page: Page) -> None:
    submit(page, "Keluar")
    assert "/masuk" in page.url


@pytest.fixture(scope="module")
def admin(people: People) -> Account:
    return people.admin


def new_page(browser: Browser, service: Service) -> Page:
    return browser.new_context(viewport=PHONE, base_url=service.url).new_page()


def test_admin_makes_unit_operator_and_signers(
    browser: Browser, service: Service, admin: Account
) -> None:
    page = new_page(browser, service)
    log_in(page, admin.username, PASSWORD, admin.otp)

    # A unit; its code again is refused beside the code field.
    code = f"KC{uuid.uuid4().hex[:6]}"
    page.goto("/admin/unit")
    page.get_by_label("Nama unit").fill("Kecamatan Candi")
    page.get_by_label("Kode").fill(code)
    assert submit(page, "Simpan unit").status == 200
    assert f"Unit Kecamatan Candi ({code}) dibuat" in page.locator(".flash").inner_text()
    assert page.locator("td[data-label=Kode]").all_inner_texts().count(code) == 1
    shoot(page, "adm-unit")
    page.get_by_label("Nama unit").fill("Kecamatan Candi Lagi")
    page.get_by_label("Kode").fill(code)
    assert submit(page, "Simpan unit").status == 409
    assert "sudah dipakai" in page.locator("#unit-code-error").inner_text()
    assert page.get_by_label("Kode").get_attribute("aria-invalid") == "true"

    # An operator of it, with an e-mail address: the link is shown once, and was mailed.
    operator_name = f"operator-{uuid.uuid4().hex[:6]}"
    page.goto("/admin/pengguna")
    page.get_by_label("Nama pengguna").fill(operator_name)
    page.get_by_label("Peran").select_option("operator")
    page.get_by_label(f"Kecamatan Candi ({code})").check()
    page.get_by_label("Surel").fill("operator.candi@example.test")
    assert submit(page, "Buat pengguna").status == 201
    assert "dikirim lewat surel ke operator.candi@example.test" in page.inner_text("main")
    link = page.locator("#activation-link").get_attribute("href")
    assert link and "/aktivasi/" in link
    shoot(page, "adm-pengguna")
    page.goto("/admin/pengguna")
    assert page.locator("#activation-link").count() == 0  # once only
    row = page.get_by_role("row").filter(has_text=operator_name)
    assert "belum aktif" in row.inner_text()

    # The operator activates in the browser (password, TOTP from the QR's URI) and logs in.
    operator = new_page(browser, service)
    operator.goto(link)
    otp = Otp(operator.locator(".hash").inner_text().strip())
    operator.fill("input[name=password]", PASSWORD)
    operator.fill("input[name=otp]", otp.code())
    submit(operator, "Aktifkan")
    assert "Akun aktif" in operator.inner_text("main")
    log_in(operator, operator_name, PASSWORD, otp)

    # An operator may not open the admin's pages.
    forbidden = operator.goto("/admin/unit")
    assert forbidden is not None and forbidden.status == 403
    assert "Tidak diizinkan" in operator.inner_text("main")
    shoot(operator, "adm-galat-403")

    # The operator proposes two signers: a wrong NIP first, shown beside its field.
    operator.goto("/penanda-tangan")
    operator.get_by_label("Nama lengkap dengan gelar").fill("Drs. Agus Salim, M.Si.")
    operator.get_by_label("Nomor induk", exact=True).fill("1963051219900313")
    operator.get_by_label("Jabatan", exact=True).fill("Camat Candi")
    assert submit(operator, "Usulkan penanda tangan").status == 422
    assert "18" in operator.locator("#signer-nomor-error").inner_text()
    assert operator.get_by_label("Jabatan", exact=True).input_value() == "Camat Candi"
    for name, nip, jabatan, pangkat in (
        ("Drs. Agus Salim, M.Si.", NIP_CAMAT, "Camat Candi", "IV/b"),
        ("Sri Wahyuni, S.Sos.", NIP_SEKCAM, "Sekretaris Kecamatan Candi", "III/d"),
    ):
        operator.get_by_label("Nama lengkap dengan gelar").fill(name)
        operator.get_by_label("Nomor induk", exact=True).fill(nip)
        operator.get_by_label("Jabatan", exact=True).fill(jabatan)
        operator.get_by_label("Pangkat/golongan").select_option(pangkat)
        assert submit(operator, "Usulkan penanda tangan").status == 200
        assert f"Usulan {name} menunggu persetujuan admin" in operator.inner_text(".flash")
    for nip in (NIP_CAMAT, NIP_SEKCAM):
        grouped = f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
        row = operator.get_by_role("row").filter(has_text=grouped)
        assert "menunggu persetujuan" in row.inner_text()
    assert operator.get_by_role("button", name="Setujui").count() == 0  # the admin's
    shoot(operator, "adm-penanda-tangan-operator")

    # The admin approves both: each answer shows the signer's link.
    links = {}
    page.goto("/penanda-tangan")
    for name in ("Drs. Agus Salim, M.Si.", "Sri Wahyuni, S.Sos."):
        assert submit(page, f"Setujui {name}").status == 200
        assert name in page.locator("#shown-title").inner_text()
        links[name] = page.locator("#activation-link").get_attribute("href")
    shoot(page, "adm-penanda-tangan")

    # Both activate in the browser (password and PIN) and log in with their NIP.
    for (name, link_), nip in zip(links.items(), (NIP_CAMAT, NIP_SEKCAM), strict=True):
        signer = new_page(browser, service)
        assert link_ is not None
        signer.goto(link_)
        signer.fill("input[name=password]", PASSWORD)
        signer.fill("input[name=pin]", PIN)
        submit(signer, "Aktifkan")
        assert "Akun aktif" in signer.inner_text("main"), name
        log_in(signer, nip, PASSWORD)
        signer.context.close()
    page.goto("/penanda-tangan")
    for nip in (NIP_CAMAT, NIP_SEKCAM):
        grouped = f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
        assert "aktif" in page.get_by_role("row").filter(has_text=grouped).inner_text()

    # The audit log: the chain is intact; the admin and the operator are named as actors.
    page.goto("/admin/audit")
    assert page.locator("#rantai").inner_text() == "Rantai audit utuh"
    actors = page.locator("td[data-label=Pelaku]").all_inner_texts()
    assert admin.username in actors and operator_name in actors
    shoot(page, "adm-audit")
    operator.context.close()
    page.context.close()


def test_broken_template_upload_lists_problems(
    browser: Browser, service: Service, admin: Account
) -> None:
    page = new_page(browser, service)
    log_in(page, admin.username, PASSWORD, admin.otp)
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


def test_account_page_password_pin_and_tokens(
    browser: Browser, service: Service, people: People
) -> None:
    nip = "196302151988031303"
    signer = people.signer(nip)
    page = new_page(browser, service)
    log_in(page, signer.username, PASSWORD)
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
    log_in(page, signer.username, NEW_PASSWORD)

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
