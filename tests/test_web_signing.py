"""The signer's office pages in a real browser (Debian's chromium through Playwright): declining
with a reason the operator reads, one PIN for a whole batch, the history, a draft's issue and
delete; and who may not see a document. (Signing with the PIN on a desktop and on a phone is in
test_web_journey.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.browser import DESKTOP, PHONE, logged_in, pages_shown, shoot, status_of
from tests.conftest import PIN, People, Service, create_pakta, pakta_data
from tests.people import http_client
from tests.test_bulk import generated, pakta_csv, post_batch
from tests.test_templates_content import mou_data

# NIPs no other module uses: born in 1961, sequences 1xx.
NIP_CAMAT = "196103151987031101"
NIP_KETUA = "196107221988032102"
NIP_MENOLAK = "196101301986031103"
NIP_BANYAK = "196111111989031104"
NAMA_CAMAT = "Drs. Hari Wibowo, M.Si."
NAMA_KETUA = "Sri Rahayu, S.H."


@pytest.fixture(scope="module")
def mou(people: People) -> dict[str, Any]:
    """An MoU the operator made through the API: the camat signs first (bound by the NIP in
    the data), the ketua second (bound by the operator's choice)."""
    camat = people.signer(NIP_CAMAT, name=NAMA_CAMAT, jabatan="Camat Candi")
    ketua = people.signer(NIP_KETUA, name=NAMA_KETUA, jabatan="Ketua Panwaslu Kecamatan Candi")
    created = people.operator.client.post(
        "/api/v1/documents",
        json={
            "template": "nota-kesepahaman",
            "data": mou_data(nip_pihak_pertama=NIP_CAMAT, nama_pihak_pertama=NAMA_CAMAT),
            "signers": {"pihak_kedua": ketua.signer_id},
        },
    )
    assert created.status_code == 201, created.text
    return {"camat": camat, "ketua": ketua, "document": created.json()}


def test_a_signer_declines_and_the_operator_reads_why_then_revokes(
    browser: Browser, service: Service, contexts: list[BrowserContext], people: People
) -> None:
    signer = people.signer(NIP_MENOLAK, name="Dra. Wulan Sari")
    document = create_pakta(people.operator.client, NIP_MENOLAK)
    page = logged_in(browser, service.url, contexts, signer, PHONE)
    page.goto(f"/dokumen/{document['id']}")

    page.get_by_text("Tolak menandatangani").click()
    # Too short a reason: said beside the field, nothing declined.
    page.get_by_label("Alasan penolakan").fill("x")
    page.get_by_label("Alasan penolakan").evaluate("e => e.form.noValidate = true")
    with page.expect_response(lambda r: r.url.endswith("/tolak")) as answer:
        page.get_by_role("button", name="Tolak dokumen").click()
    assert answer.value.status == 422
    assert page.get_by_label("Alasan penolakan").get_attribute("aria-invalid") == "true"
    # In the words the API uses, not pydantic's English ("String should have at least ...").
    assert "minimal 3 karakter" in page.locator("#alasan-tolak-salah").inner_text()
    assert status_of(page) == "menunggu_tanda_tangan"
    # A reason that reads backwards from a hidden bidi override: refused, said beside it.
    page.get_by_label("Alasan penolakan").fill("Jabatan keliru \u202eurileK")
    with page.expect_response(lambda r: r.url.endswith("/tolak")) as answer:
        page.get_by_role("button", name="Tolak dokumen").click()
    assert answer.value.status == 422
    assert "tak tampak (U+202E)" in page.locator("#alasan-tolak-salah").inner_text()
    assert status_of(page) == "menunggu_tanda_tangan"

    reason = "Jabatan yang tertulis bukan jabatan saya saat ini"
    page.get_by_label("Alasan penolakan").fill(reason)
    page.get_by_role("button", name="Tolak dokumen").click()
    page.wait_for_url("**pesan=*")
    assert status_of(page) == "ditolak"
    assert reason in page.locator(".reason").inner_text()
    assert page.get_by_label("PIN Anda").count() == 0

    # The operator sees the reason on the document's page, and revokes it there.
    operator = logged_in(browser, service.url, contexts, people.operator, DESKTOP)
    operator.goto(f"/dokumen/{document['id']}")
    assert status_of(operator) == "ditolak"
    assert reason in operator.locator(".reason").inner_text()
    assert "Yang membuat pernyataan" in operator.locator(".alert").inner_text()
    shoot(operator, "ttd-dokumen-ditolak")
    operator.get_by_text("Cabut dokumen ini").click()
    operator.get_by_label("Alasan pencabutan").fill("Ditolak penanda tangan; dibuat ulang")
    operator.get_by_label("Dokumen pengganti").fill("tidak-ada")
    with operator.expect_response(lambda r: r.url.endswith("/cabut")) as answer:
        operator.get_by_role("button", name="Cabut", exact=True).click()
    assert answer.value.status == 422
    assert "tidak ditemukan" in operator.locator("#pengganti-salah").inner_text()
    operator.get_by_label("Dokumen pengganti").fill("")
    operator.get_by_role("button", name="Cabut", exact=True).click()
    operator.wait_for_url("**pesan=*")
    assert status_of(operator) == "dicabut"


def test_one_pin_signs_every_waiting_document_of_a_batch(
    browser: Browser, service: Service, contexts: list[BrowserContext], people: People
) -> None:
    signer = people.signer(NIP_BANYAK, name="Ir. Bagus Pratama")
    client = people.operator.client
    rows = [pakta_data(nip=NIP_BANYAK, nama="Ir. Bagus Pratama") for _ in range(3)]
    response = post_batch(client, pakta_csv(rows), "pakta-integritas")
    assert response.status_code == 202, response.text
    batch = generated(client, response.json()["id"])
    ids = [d["id"] for d in batch["documents"]]
    assert len(ids) == 3

    page = logged_in(browser, service.url, contexts, signer, PHONE)
    button = page.get_by_role("button", name="Tandatangani semua (3 dokumen)")
    group = page.locator(".batch", has=button)
    for document in batch["documents"]:
        assert document["number"] in group.inner_text()
    shoot(page, "ttd-kotak-masuk-batch")

    # A wrong PIN first: refused beside the group's field, nothing started.
    group.get_by_label("PIN Anda").fill("135799")
    with page.expect_response(lambda r: "/kotak-masuk/batch/" in r.url) as answer:
        button.click()
    assert answer.value.status == 403
    assert "PIN salah" in group.get_by_role("alert").inner_text()

    # The right PIN: on to the batch's page, whose bar follows the signing to its end.
    group.get_by_label("PIN Anda").fill(PIN)
    button.click()
    page.wait_for_url(f"**/batch/{batch['id']}?pesan=*")
    assert "Penandatanganan 3 dokumen dimulai" in page.locator(".flash").inner_text()
    page.get_by_text("3 ditandatangani, 0 gagal, dari 3").wait_for()
    bar = page.locator("progress#ttd-1")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "3"
    shoot(page, "ttd-batch-kemajuan")
    statuses = [signer.client.get(f"/api/v1/documents/{i}").json()["status"] for i in ids]
    assert statuses == ["sah"] * 3

    page.goto("/kotak-masuk")
    assert page.get_by_role("button", name="Tandatangani semua (3 dokumen)").count() == 0
    page.goto("/riwayat")
    history = page.locator("table").inner_text()
    assert all(d["number"] in history for d in batch["documents"])
    shoot(page, "ttd-riwayat")


def test_a_draft_is_previewed_then_issued_or_deleted(
    browser: Browser, service: Service, contexts: list[BrowserContext], people: People
) -> None:
    people.signer(NIP_MENOLAK, name="Dra. Wulan Sari")
    client = people.operator.client
    body = {"template": "pakta-integritas", "data": pakta_data(nip=NIP_MENOLAK), "draft": True}
    drafts = [client.post("/api/v1/documents", json=body).json() for _ in range(2)]
    page = logged_in(browser, service.url, contexts, people.operator, DESKTOP)

    page.goto(f"/dokumen/{drafts[0]['id']}")
    assert status_of(page) == "draf"
    assert pages_shown(page) >= 1
    edit = page.get_by_role("link", name="Ubah")
    assert edit.get_attribute("href") == f"/dokumen/{drafts[0]['id']}/ubah"
    assert page.get_by_role("link", name="Unduh PDF terbaru").count() == 0
    shoot(page, "ttd-dokumen-draf")
    page.get_by_role("button", name="Terbitkan").click()
    page.wait_for_url("**pesan=*")
    assert status_of(page) == "menunggu_tanda_tangan"
    issued = client.get(f"/api/v1/documents/{drafts[0]['id']}").json()
    assert issued["number"] and issued["number"] in page.locator("dl").inner_text()

    page.goto(f"/dokumen/{drafts[1]['id']}")
    page.get_by_role("button", name="Hapus draf").click()
    page.wait_for_url("**/dokumen?pesan=*")
    assert client.get(f"/api/v1/documents/{drafts[1]['id']}").status_code == 404


def test_nobody_else_sees_the_document(
    browser: Browser,
    service: Service,
    contexts: list[BrowserContext],
    people: People,
    mou: dict[str, Any],
) -> None:
    document_id = mou["document"]["id"]
    stranger = people.user("operator", unit_ids=[people.unit("Dinas Lain Kabupaten Sidoarjo")])
    page = logged_in(browser, service.url, contexts, stranger, PHONE)
    answer = page.goto(f"/dokumen/{document_id}")
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Dokumen tidak ditemukan"
    assert mou["document"]["number"] not in page.content()
    shoot(page, "ttd-tidak-ada")
    # Nor its page images.
    image = page.request.get(f"/api/v1/documents/{document_id}/pages/1")
    assert image.status == 404

    # Nobody logged in: to the login page, and back after it.
    context = browser.new_context(viewport=PHONE, base_url=service.url)
    contexts.append(context)
    anonymous = context.new_page()
    for path in (f"/dokumen/{document_id}", "/kotak-masuk", "/riwayat"):
        anonymous.goto(path)
        assert "/masuk?lanjut=" in anonymous.url


def test_the_inbox_and_history_are_for_signers_only(people: People, service: Service) -> None:
    for path in ("/kotak-masuk", "/riwayat"):
        assert people.operator.client.get(path).status_code == 403
    with http_client(service.url) as anonymous:
        refused = anonymous.post(
            "/kotak-masuk/batch/x", data={"role": "pembuat_pernyataan", "pin": PIN}
        )
        assert refused.status_code == 401
