"""The verifikator's office pages in a real browser (Debian's chromium through Playwright): what
waits for their paraf, the document read as page images, "Paraf" and "Kembalikan" with a note
the operator then reads on the document's page; the operator naming verifikator in the
document's form; and the pages pass axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext

from tests.browser import DESKTOP, PHONE, fill, logged_in, pages_shown, shoot, status_of
from tests.conftest import People, Service, pakta_data
from tests.test_errors import own_nip
from tests.test_paraf import mou_request
from tests.test_web_accessibility import session_cookies, violations

NOTE = "Nama instansi PIHAK KEDUA pada kop belum sesuai"


def test_two_verifikator_paraf_and_return_in_the_browser(
    browser: Browser, service: Service, contexts: list[BrowserContext], people: People
) -> None:
    first, second = people.user("verifikator"), people.user("verifikator")
    camat = people.signer(own_nip(), name="Drs. Teguh Prasetyo, M.Si.")
    ketua = people.signer(own_nip(), name="Rina Kartika, S.H.")
    created = people.operator.client.post(
        "/api/v1/documents", json=mou_request(camat, ketua, paraf=[first.id, second.id])
    )
    assert created.status_code == 201, created.text
    document = created.json()
    link_name = f"Buka dokumen {document['number']}"

    # The second verifikator sees it waiting for the first, and no button yet.
    later = logged_in(browser, service.url, contexts, second, PHONE)
    later.goto("/paraf")
    assert later.locator("#nanti ~ ul").get_by_role("link", name=link_name).count() == 1
    later.get_by_role("link", name=link_name).click()
    assert "Belum giliran Anda" in later.locator("#paraf-anda").inner_text()
    assert later.get_by_role("button", name="Paraf").count() == 0

    # The first starts on their list, reads the pages, and initials it.
    page = logged_in(browser, service.url, contexts, first, DESKTOP)
    assert page.url.endswith("/paraf")
    page.get_by_role("link", name=link_name).click()
    assert status_of(page) == "menunggu_paraf"
    assert pages_shown(page) >= 1
    steps = page.locator("tr.paraf-step")
    assert steps.count() == 2
    assert "Giliran berikutnya" in steps.nth(0).inner_text()
    shoot(page, "vrf-dokumen")
    page.get_by_role("button", name="Paraf", exact=True).click()
    page.wait_for_url("**/paraf?pesan=*")
    assert "Dokumen diparaf" in page.content()
    assert page.get_by_role("link", name=link_name).count() == 0

    # Now the second's turn: an empty note is refused beside its field, then it is returned.
    later.goto("/paraf")
    assert later.locator("#siap ~ ul").get_by_role("link", name=link_name).count() == 1
    later.get_by_role("link", name=link_name).click()
    assert "Sudah memaraf" in later.locator("tr.paraf-step").nth(0).inner_text()
    later.get_by_text("Kembalikan kepada operator").click()
    note = later.get_by_label("Catatan untuk operator")
    note.fill("x")
    note.evaluate("e => e.form.noValidate = true")
    with later.expect_response(lambda r: r.url.endswith("/kembalikan")) as answer:
        later.get_by_role("button", name="Kembalikan", exact=True).click()
    assert answer.value.status == 422
    assert note.get_attribute("aria-invalid") == "true"
    assert "minimal 3 karakter" in later.locator("#catatan-kembali-salah").inner_text()
    assert status_of(later) == "menunggu_paraf"
    later.get_by_label("Catatan untuk operator").fill(NOTE)
    later.get_by_role("button", name="Kembalikan", exact=True).click()
    later.wait_for_url("**/paraf?pesan=*")
    assert later.get_by_role("link", name=link_name).count() == 0

    # The operator reads who returned it and why, and what to do next.
    operator = logged_in(browser, service.url, contexts, people.operator, DESKTOP)
    operator.goto(f"/dokumen/{document['id']}")
    assert status_of(operator) == "dikembalikan"
    returned = operator.locator("#dikembalikan").inner_text()
    assert NOTE in returned and second.username in returned
    assert "buat dokumen baru" in returned
    assert NOTE in operator.locator("tr.paraf-step").nth(1).inner_text()
    shoot(operator, "op-dokumen-dikembalikan")

    # The verifikator's pages pass axe-core at both sizes.
    paths = ["/paraf", f"/dokumen/{document['id']}"]
    assert violations(browser, service, paths, session_cookies(people, first)) == []


def test_the_operator_names_verifikator_in_the_form(
    browser: Browser, service: Service, contexts: list[BrowserContext], people: People
) -> None:
    chosen = people.user("verifikator")
    signer = people.signer(own_nip(), name="Ir. Dewi Lestari")
    page = logged_in(browser, service.url, contexts, people.operator, DESKTOP)
    page.goto("/dokumen/baru/pakta-integritas")
    fill(page, pakta_data(nip=signer.nip, nama="Ir. Dewi Lestari"))
    first = page.get_by_label("Paraf 1")
    assert "tanpa paraf" in first.locator("option:checked").inner_text()
    first.select_option(label=chosen.username)
    shoot(page, "op-formulir-paraf")
    page.get_by_role("button", name="Simpan draf").click()
    page.wait_for_url(re.compile(r"/dokumen/[0-9a-f]{32}\?pesan="))
    document_id = re.search(r"/dokumen/([0-9a-f]{32})", page.url)[1]  # type: ignore[index]
    assert chosen.username in page.locator(".chosen-paraf").inner_text()

    # The draft's form keeps the choice; issuing it waits for that verifikator's paraf.
    page.goto(f"/dokumen/{document_id}/ubah")
    assert page.get_by_label("Paraf 1").input_value() == chosen.id
    page.goto(f"/dokumen/{document_id}")
    page.get_by_role("button", name="Terbitkan").click()
    page.wait_for_url("**pesan=*")
    assert status_of(page) == "menunggu_paraf"
    assert chosen.username in page.locator("tr.paraf-step").inner_text()
    # The signer cannot sign yet: no PIN field on their page.
    own = logged_in(browser, service.url, contexts, signer, PHONE)
    own.goto(f"/dokumen/{document_id}")
    assert status_of(own) == "menunggu_paraf"
    assert own.get_by_label("PIN Anda").count() == 0
