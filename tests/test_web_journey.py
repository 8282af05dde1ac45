"""The office from the first account to a citizen's check, in a real browser (Debian's chromium
through Playwright), in the order an office meets it (issue 17):

1. an admin makes a unit and its operator; the operator proposes two signers and the admin
   approves them; all three activate from the links their mail brought (a real SMTP server on
   loopback, tests/mail.py);
2. the operator fills an MoU in the form, sees a field error beside its field, fixes it, previews
   the draft as page images marked DRAF, and issues it;
3. the camat signs on a desktop (a wrong PIN first), the ketua on a phone, from the link in her
   mail; the operator sees the document complete, and is told so by mail;
4. a citizen scans the QR of the signed PDF and sees SAH on a phone.

Each step builds on the one before (the module's ``Journey``). Every page is photographed at phone
and desktop size under var/screenshots/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from tests.browser import DESKTOP, PHONE, fill, log_in, pages_shown, shoot, status_of, submit
from tests.conftest import PIN
from tests.mail import Office, address, body, links_in
from tests.pdftools import qr_codes_per_page
from tests.people import PASSWORD, Account, Otp
from tests.test_templates_content import SCOPE, grouped, mou_data

# This module's NIPs: born 1963, sequence 3xx.
NIP_CAMAT = "196305121990031301"
NIP_KETUA = "196311022000032302"
NAMA_CAMAT = "Drs. Agus Salim, M.Si."
NAMA_KETUA = "Sri Wahyuni, S.Sos."

WAIT_MS = 180_000  # LibreOffice converts the MoU; a signature adds its long-term revision


@dataclass
class Journey:
    """What each step leaves to the next: the browsers, who was made, the document."""

    office: Office
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    mailbox: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    pages: dict[str, Page] = field(default_factory=dict)
    operator_name: str = ""
    document_id: str = ""
    number: str = ""

    def who(self, role: str) -> str:
        """The mailbox of ``role`` in this run (the session's inbox is shared)."""
        return f"{role}-{self.mailbox}"

    def page(self, viewport: ViewportSize) -> Page:
        context = self.browser.new_context(
            viewport=viewport, base_url=self.office.service.url, locale="id-ID"
        )
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        return page

    def link_mailed_to(self, role: str, count: int = 1) -> str:
        """The one link in the ``count``-th message to ``role``."""
        (link,) = links_in(self.office.inbox.wait(self.who(role), count)[count - 1])
        return link


@pytest.fixture(scope="module")
def journey(browser: Browser, mail_office: Office) -> Iterator[Journey]:
    journey = Journey(mail_office, browser)
    yield journey
    for context in journey.contexts:
        context.close()


def test_1_admin_sets_up_the_unit_and_everyone_activates_from_their_mail(
    journey: Journey,
) -> None:
    admin: Account = journey.office.people.admin
    page = journey.pages["admin"] = journey.page(PHONE)
    log_in(page, admin.username, admin.otp)

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

    # An operator of it: the link is shown once, and the same link arrives by mail.
    journey.operator_name = f"operator-{journey.mailbox}"
    page.goto("/admin/pengguna")
    page.get_by_label("Nama pengguna").fill(journey.operator_name)
    page.get_by_label("Peran").select_option("operator")
    page.get_by_label(f"Kecamatan Candi ({code})").check()
    page.get_by_label("Surel").fill(address(journey.who("operator")))
    assert submit(page, "Buat pengguna").status == 201
    assert f"dikirim lewat surel ke {address(journey.who('operator'))}" in page.inner_text("main")
    shown = page.locator("#activation-link").get_attribute("href")
    shoot(page, "adm-pengguna")
    page.goto("/admin/pengguna")
    assert page.locator("#activation-link").count() == 0  # once only
    row = page.get_by_role("row").filter(has_text=journey.operator_name)
    assert "belum aktif" in row.inner_text()
    mailed = journey.link_mailed_to("operator")
    assert mailed == shown and "/aktivasi/" in mailed

    # The operator activates from the mail (password, TOTP from the QR's URI) and logs in.
    operator = journey.pages["operator"] = journey.page(DESKTOP)
    operator.goto(mailed)
    otp = Otp(operator.locator(".hash").inner_text().strip())
    operator.fill("input[name=password]", PASSWORD)
    operator.fill("input[name=otp]", otp.code())
    submit(operator, "Aktifkan")
    assert "Akun aktif" in operator.inner_text("main")
    log_in(operator, journey.operator_name, otp)

    # An operator may not open the admin's pages.
    forbidden = operator.goto("/admin/unit")
    assert forbidden is not None and forbidden.status == 403
    assert "Tidak diizinkan" in operator.inner_text("main")
    shoot(operator, "adm-galat-403")

    # The operator proposes two signers: a wrong NIP first, shown beside its field.
    operator.goto("/penanda-tangan")
    operator.get_by_label("Nama lengkap dengan gelar").fill(NAMA_CAMAT)
    operator.get_by_label("Nomor induk", exact=True).fill("1963051219900313")
    operator.get_by_label("Jabatan", exact=True).fill("Camat Candi")
    assert submit(operator, "Usulkan penanda tangan").status == 422
    assert "18" in operator.locator("#signer-nomor-error").inner_text()
    assert operator.get_by_label("Jabatan", exact=True).input_value() == "Camat Candi"
    for role, name, nip, jabatan, pangkat in (
        ("camat", NAMA_CAMAT, NIP_CAMAT, "Camat Candi", "IV/b"),
        ("ketua", NAMA_KETUA, NIP_KETUA, "Ketua Panwaslu Kecamatan Candi", "III/d"),
    ):
        operator.get_by_label("Nama lengkap dengan gelar").fill(name)
        operator.get_by_label("Nomor induk", exact=True).fill(nip)
        operator.get_by_label("Jabatan", exact=True).fill(jabatan)
        operator.get_by_label("Pangkat/golongan").select_option(pangkat)
        operator.get_by_label("Surel").fill(address(journey.who(role)))
        assert submit(operator, "Usulkan penanda tangan").status == 200
        assert f"Usulan {name} menunggu persetujuan admin" in operator.inner_text(".flash")
    for nip in (NIP_CAMAT, NIP_KETUA):
        row = operator.get_by_role("row").filter(has_text=grouped(nip))
        assert "menunggu persetujuan" in row.inner_text()
    assert operator.get_by_role("button", name="Setujui").count() == 0  # the admin's
    shoot(operator, "adm-penanda-tangan-operator")
    journey.office.settle()
    assert journey.office.inbox.to(journey.who("camat")) == []  # nothing before the approval

    # The admin approves both: each answer shows the signer's link, which is also mailed.
    page.goto("/penanda-tangan")
    for role, name in (("camat", NAMA_CAMAT), ("ketua", NAMA_KETUA)):
        assert submit(page, f"Setujui {name}").status == 200
        assert name in page.locator("#shown-title").inner_text()
        assert journey.link_mailed_to(role) == page.locator("#activation-link").get_attribute(
            "href"
        )
    shoot(page, "adm-penanda-tangan")

    # Both activate from their mail (password and PIN) and log in with their NIP: the camat
    # on a desktop, the ketua on her phone.
    for role, nip, viewport in (("camat", NIP_CAMAT, DESKTOP), ("ketua", NIP_KETUA, PHONE)):
        signer = journey.pages[role] = journey.page(viewport)
        signer.goto(journey.link_mailed_to(role))
        signer.fill("input[name=password]", PASSWORD)
        signer.fill("input[name=pin]", PIN)
        submit(signer, "Aktifkan")
        assert "Akun aktif" in signer.inner_text("main"), role
        log_in(signer, nip)
        assert signer.url.endswith("/kotak-masuk")
    page.goto("/penanda-tangan")
    for nip in (NIP_CAMAT, NIP_KETUA):
        assert "aktif" in page.get_by_role("row").filter(has_text=grouped(nip)).inner_text()

    # The audit log: the chain is intact; the admin and the operator are named as actors.
    page.goto("/admin/audit")
    assert page.locator("#rantai").inner_text() == "Rantai audit utuh"
    actors = page.locator("td[data-label=Pelaku]").all_inner_texts()
    assert admin.username in actors and journey.operator_name in actors
    shoot(page, "adm-audit")


def test_2_operator_fills_the_mou_previews_the_draft_and_issues_it(journey: Journey) -> None:
    page = journey.pages["operator"]
    page.goto("/dokumen")
    page.get_by_role("link", name="Dokumen baru").click()
    page.wait_for_url("**/dokumen/baru")
    shoot(page, "operator-dokumen-baru")
    page.get_by_role("link", name="Nota Kesepahaman").click()
    page.wait_for_url("**/dokumen/baru/nota-kesepahaman")
    # Every input has its label; the NIP's help shows its digits grouped.
    assert page.get_by_label("Tentang").count() == 1
    assert page.locator("#f-berlaku_sampai").get_attribute("type") == "date"

    # Four scope items, three rows at first: one more row without JavaScript's help.
    assert page.locator('[name^="ruang_lingkup["]').count() == 3
    page.locator("#f-ruang_lingkup").get_by_role("button", name="Tambah baris").click()
    page.wait_for_load_state()
    assert page.locator('[name^="ruang_lingkup["]').count() == 4

    data = mou_data(
        nama_pihak_pertama=NAMA_CAMAT,
        nip_pihak_pertama=grouped(NIP_CAMAT)[:-1],  # a digit short
        pangkat_pihak_pertama="IV/b",
        nama_pihak_kedua=NAMA_KETUA,
        jabatan_pihak_kedua="Ketua Panwaslu Kecamatan Candi",
    )
    fill(page, {k: v for k, v in data.items() if k != "ruang_lingkup"})
    for i, item in enumerate(SCOPE, start=1):
        page.locator(f'[name="ruang_lingkup[{i}]"]').fill(item)
    # PIHAK PERTAMA is bound by the NIP typed above; PIHAK KEDUA has none: chosen here, from
    # the unit's signers, by name.
    first = page.get_by_label("PIHAK PERTAMA", exact=True)
    assert first.input_value() == ""
    assert "Sesuai NIP" in first.locator("option:checked").inner_text()
    second = page.get_by_label("PIHAK KEDUA", exact=True)
    (ketua_option,) = second.locator("option", has_text=NAMA_KETUA).all()
    second.select_option(str(ketua_option.get_attribute("value")))

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Simpan draf").click()
    assert answer.value.status == 422
    error = page.locator("#f-nip_pihak_pertama-error")
    assert "18 digit" in error.inner_text()
    nip_input = page.locator("#f-nip_pihak_pertama")
    assert nip_input.get_attribute("aria-invalid") == "true"
    # The error sits right after its field, and everything typed is still there.
    assert nip_input.evaluate("e => e.nextElementSibling.id") == "f-nip_pihak_pertama-error"
    assert page.locator("#f-tentang").input_value() == data["tentang"]
    assert page.locator('[name="ruang_lingkup[4]"]').input_value() == SCOPE[3]
    assert second.input_value() == ketua_option.get_attribute("value")
    shoot(page, "operator-formulir-galat")

    nip_input.fill(grouped(NIP_CAMAT))
    page.get_by_role("button", name="Simpan draf").click()
    page.wait_for_url(re.compile(r"/dokumen/[0-9a-f]{32}\?pesan="))
    journey.document_id = re.search(r"/dokumen/([0-9a-f]{32})", page.url)[1]  # type: ignore[index]

    # The draft's form, filled from it: the NIP shown grouped, the chosen signer selected; a
    # row removed without JavaScript, the title changed, saved again.
    page.goto(f"/dokumen/{journey.document_id}/ubah")
    assert page.locator("#f-nip_pihak_pertama").input_value() == grouped(NIP_CAMAT)
    assert second.input_value() == ketua_option.get_attribute("value")
    assert page.locator('[name="pangkat_pihak_pertama"]').input_value() == "IV/b"
    page.locator("#f-ruang_lingkup").get_by_role("button", name="Hapus baris 4").click()
    page.wait_for_load_state()
    page.locator("#f-tentang").fill("Kerja Sama Pengawasan Pemilihan Kepala Daerah Tahun 2024")
    shoot(page, "operator-ubah-draf")
    page.get_by_role("button", name="Simpan draf").click()
    page.wait_for_url(re.compile(rf"/dokumen/{journey.document_id}\?pesan="))
    assert (
        "Kerja Sama Pengawasan Pemilihan Kepala Daerah"
        in page.get_by_role("heading", level=1).inner_text()
    )

    # The draft: previewed as page images, marked DRAF, with no number and nothing public.
    assert status_of(page) == "draf"
    assert "pratinjau DRAF" in page.locator("#halaman").inner_text()
    assert pages_shown(page) >= 2
    assert page.get_by_role("link", name="Unduh PDF terbaru").count() == 0
    assert page.locator("dl.facts dd").first.inner_text() == "belum ada (draf)"
    assert "Cek keaslian" not in page.locator("dl.facts").inner_text()
    shoot(page, "operator-draf")
    journey.office.settle()
    assert len(journey.office.inbox.to(journey.who("camat"))) == 1  # a draft tells nobody

    # Issued: it takes its number and waits for the camat.
    page.get_by_role("button", name="Terbitkan").click()
    page.wait_for_url("**pesan=*")
    assert status_of(page) == "menunggu_tanda_tangan"
    journey.number = page.locator("dl.facts dd").first.inner_text()
    assert re.fullmatch(r"\S+/\S+", journey.number), journey.number
    assert "Cek keaslian" in page.locator("dl.facts").inner_text()
    rows = page.locator("tr.slot")
    assert NAMA_CAMAT in rows.nth(0).inner_text()
    assert "Giliran berikutnya" in rows.nth(0).inner_text()
    assert NAMA_KETUA in rows.nth(1).inner_text()

    # The listing finds it by its number, by a name in it and by the NIP typed in groups.
    for query in (journey.number, NAMA_KETUA.split(",")[0].lower(), grouped(NIP_CAMAT)):
        page.goto("/dokumen")
        page.get_by_label("Cari").fill(query)
        page.get_by_role("button", name="Cari").click()
        page.wait_for_url("**/dokumen?**")
        found = page.locator(f'a[href="/dokumen/{journey.document_id}"]')
        assert found.count() == 1, query
    assert found.inner_text() == journey.number
    shoot(page, "operator-dokumen")
    # Filters: its status finds it, another does not; a date range backwards is refused.
    link = f'a[href="/dokumen/{journey.document_id}"]'
    page.goto(f"/dokumen?q={journey.number}&status=draf")
    assert page.locator(link).count() == 0
    page.goto(f"/dokumen?q={journey.number}&status=menunggu_tanda_tangan&template=nota-kesepahaman")
    assert page.locator(link).count() == 1
    page.goto("/dokumen?date_from=2024-06-28&date_to=2024-06-26")
    assert "tidak boleh sebelum tanggal awal" in page.locator("#f-date_to-error").inner_text()


def test_3_the_camat_signs_on_a_desktop_and_the_ketua_on_her_phone(journey: Journey) -> None:
    document_page = f"{journey.office.service.url}/dokumen/{journey.document_id}"
    # The camat is told it is his turn; the ketua is not told yet.
    turn = journey.office.inbox.wait(journey.who("camat"), 2)[1]
    assert journey.number in body(turn) and links_in(turn) == [document_page]
    journey.office.settle()
    assert len(journey.office.inbox.to(journey.who("ketua"))) == 1  # her activation link only

    # The camat's inbox: the MoU waits for him; he opens it, a wrong PIN, then his own.
    page = journey.pages["camat"]
    page.goto("/kotak-masuk")
    ready = page.locator("section", has=page.get_by_role("heading", name="Menunggu Anda"))
    assert journey.number in ready.inner_text()
    assert "Sebagai: PIHAK PERTAMA" in ready.inner_text()
    shoot(page, "ttd-kotak-masuk")
    ready.get_by_role("link", name=f"Buka dokumen {journey.number}").click()
    page.wait_for_url(f"**/dokumen/{journey.document_id}")
    assert pages_shown(page) >= 2
    shoot(page, "ttd-dokumen")
    pin = page.get_by_label("PIN Anda")
    assert pin.get_attribute("inputmode") == "numeric" and pin.get_attribute("type") == "password"
    pin.fill("135799")
    with page.expect_response(lambda r: r.url.endswith("/tandatangani")) as answer:
        page.get_by_role("button", name="Tandatangani", exact=True).click()
    assert answer.value.status == 403
    alert = page.get_by_role("alert")
    assert "PIN salah" in alert.inner_text() and "percobaan" in alert.inner_text()
    shoot(page, "ttd-dokumen-pin-salah")
    page.get_by_label("PIN Anda").fill(PIN)
    page.get_by_role("button", name="Tandatangani", exact=True).click()
    page.wait_for_url("**pesan=*")
    assert "Dokumen berhasil ditandatangani" in page.get_by_role("status").inner_text()
    rows = page.locator("tr.slot")
    assert "Sudah menandatangani" in rows.nth(0).inner_text()
    assert "Giliran berikutnya" in rows.nth(1).inner_text()
    assert page.get_by_label("PIN Anda").count() == 0  # nothing more for him to sign

    # The ketua follows the link in the mail that says it is her turn, on her phone.
    turn = journey.office.inbox.wait(journey.who("ketua"), 2)[1]
    assert links_in(turn) == [document_page]
    phone = journey.pages["ketua"]
    phone.goto(links_in(turn)[0])
    assert pages_shown(phone) >= 2
    phone.get_by_label("PIN Anda").fill(PIN)
    phone.get_by_role("button", name="Tandatangani", exact=True).click()
    phone.wait_for_url("**pesan=*")
    assert "Dokumen berhasil ditandatangani" in phone.get_by_role("status").inner_text()
    assert status_of(phone) == "sah"
    shoot(phone, "ttd-dokumen-sah")
    phone.get_by_role("link", name="Riwayat").click()
    phone.wait_for_url("**/riwayat")
    assert journey.number in phone.locator("table").inner_text()

    # The operator sees it complete, signed by both in order, and got a mail saying so.
    operator = journey.pages["operator"]
    operator.goto(f"/dokumen/{journey.document_id}")
    assert status_of(operator) == "sah"
    assert operator.locator("[data-status]").first.inner_text() == "Sah"
    rows = operator.locator("tr.slot")
    assert NAMA_CAMAT in rows.nth(0).inner_text() and NAMA_KETUA in rows.nth(1).inner_text()
    assert all("Sudah menandatangani" in r for r in rows.all_inner_texts())
    shoot(operator, "operator-dokumen-sah")
    done = journey.office.inbox.wait(journey.who("operator"), 2)[1]
    assert done["Subject"] == (
        "Dokumen selesai ditandatangani: Kerja Sama Pengawasan Pemilihan Kepala Daerah Tahun 2024"
        f" nomor {journey.number}"
    )
    assert links_in(done) == [document_page]


def test_4_a_citizen_scans_the_qr_and_sees_sah_on_a_phone(journey: Journey, tmp_path: Path) -> None:
    # The operator downloads the signed PDF (with the browser's session); its QR is what a
    # citizen scans.
    operator = journey.pages["operator"]
    operator.goto(f"/dokumen/{journey.document_id}")
    href = operator.get_by_role("link", name="Unduh PDF terbaru").get_attribute("href")
    downloaded = operator.request.get(str(href))
    assert downloaded.status == 200 and downloaded.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "mou.pdf"
    pdf.write_bytes(downloaded.body())
    scanned = {code for page in qr_codes_per_page(pdf, tmp_path) for code in page}
    (url,) = scanned
    assert url.startswith(f"{journey.office.service.url}/v/")

    citizen = journey.page(PHONE)  # nobody logged in
    answer = citizen.goto(url)
    assert answer is not None and answer.status == 200
    verdict = citizen.locator(".status").first
    assert verdict.locator("strong").inner_text() == "SAH"
    assert journey.number in citizen.inner_text("main")
    assert NAMA_CAMAT in citizen.inner_text("main") and NAMA_KETUA in citizen.inner_text("main")
    assert NIP_CAMAT not in citizen.content() and grouped(NIP_CAMAT) not in citizen.content()
    shoot(citizen, "publik-sah")
