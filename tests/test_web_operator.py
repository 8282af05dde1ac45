"""The operator's office pages in a real browser (Debian's chromium through Playwright): the
documents listing a page at a time and who sees it, and a batch from a staff list (the dry run's
problems, a fixed file, live progress to 100 %, the ZIP). (An MoU from the form is made in
test_web_journey.py.)"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import DESKTOP, fill, log_in, shoot, submit
from tests.conftest import People, Service, SignerAccount
from tests.people import PASSWORD, Account, http_client
from tests.test_bulk import PEOPLE_COLUMNS, bulk_sign, staff_csv
from tests.test_templates_content import BA, mou_data, own_nik

# NIPs no other module uses: born in 1962, sequences 2xx.
NIP_CAMAT = "196203151987031201"
NIP_SAKSI = "196207221988032202"
NIP_LUAR = "196209091989031206"
NIP_PESERTA = ["196201011988031203", "196202021988032204", "196203031988031205"]
NAMA_CAMAT = "Drs. Joko Prasetyo, M.Si."
NAMA_KETUA = "Siti Maryam, S.H., M.H."
NAMA_SAKSI = "Ir. Endang Susilowati, M.T."

WAIT_MS = 180_000  # documents are converted by LibreOffice; a batch makes several


@pytest.fixture(scope="module")
def signers(people: People) -> dict[str, SignerAccount]:
    """The camat (a NIP), the ketua panwaslu (no NIP: a NIK) and a witness (a NIP)."""
    return {
        "camat": people.signer(NIP_CAMAT, name=NAMA_CAMAT, jabatan="Camat Candi"),
        "ketua": people.signer(
            nik=own_nik(), name=NAMA_KETUA, jabatan="Ketua Panwaslu Kecamatan Candi"
        ),
        "saksi": people.signer(NIP_SAKSI, name=NAMA_SAKSI, jabatan="Asisten Administrasi Umum"),
    }


@pytest.fixture(scope="module")
def operator(people: People) -> Account:
    return people.user("operator")


@pytest.fixture(scope="module")
def office(browser: Browser, service: Service, operator: Account) -> Iterator[Page]:
    """The operator's browser, logged in through the /masuk form with a TOTP code."""
    context = browser.new_context(viewport=DESKTOP, base_url=service.url, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    assert operator.otp is not None
    log_in(page, operator.username, operator.otp)
    yield page
    context.close()


def test_listing_pages_and_who_sees_it(
    office: Page, operator: Account, service: Service, people: People
) -> None:
    # Two drafts at least: one per page, then a link to the next page and back.
    for title in ("Kerja Sama A", "Kerja Sama B"):
        made = operator.client.post(
            "/api/v1/documents",
            json={
                "template": "nota-kesepahaman",
                "draft": True,
                "data": mou_data(tentang=title, nip_pihak_pertama=NIP_CAMAT),
            },
        )
        assert made.status_code == 201, made.text
    page = office
    response = page.goto("/dokumen?per_page=1")
    assert response is not None and response.status == 200
    assert "Halaman 1 dari" in page.locator(".pages").inner_text()
    page.get_by_role("link", name="Berikutnya").click()
    page.wait_for_url("**page=2**")
    assert page.get_by_role("link", name="Sebelumnya").count() == 1
    bad = page.goto("/dokumen?status=entah")
    assert bad is not None and bad.status == 422
    assert page.locator("#f-status-error").count() == 1

    # A signer is sent to their inbox; an anonymous visitor to the login page.
    with signed_in(service, people.signer(NIP_CAMAT)) as browser_less:
        assert browser_less.get("/dokumen").headers["location"] == "/kotak-masuk"
        assert browser_less.get("/batch").status_code == 403
        assert browser_less.get("/dokumen/baru").status_code == 403
    with http_client(service.url, timeout=60) as nobody:
        assert nobody.get("/dokumen/baru/nota-kesepahaman").headers["location"].startswith("/masuk")


@contextlib.contextmanager
def signed_in(service: Service, signer: SignerAccount) -> Iterator[httpx.Client]:
    """A browser-less session of ``signer`` through the /masuk form (no code for signers)."""
    with http_client(service.url, timeout=60) as client:
        login = client.post("/masuk", data={"username": signer.username, "password": PASSWORD})
        assert login.status_code == 303, login.text
        yield client


def ba_csv(people_rows: list[tuple[str, str]]) -> bytes:
    """A berita acara per person inaugurated; the witnesses are bound by their NIPs, the
    inaugurating official (no NIP) is chosen on the form."""
    fields = {
        **{k: v for k, v in BA.items() if k != "peserta"},
        "nama_saksi_1": NAMA_CAMAT,
        "nip_saksi_1": NIP_CAMAT,
        "nama_saksi_2": NAMA_SAKSI,
        "nip_saksi_2": NIP_SAKSI,
    }
    return staff_csv(
        [*fields, *PEOPLE_COLUMNS],
        [
            [*fields.values(), name, nip, "III/c", "Kepala Seksi Pemerintahan"]
            for name, nip in people_rows
        ],
    )


def test_the_form_refuses_hidden_characters_in_indonesian(office: Page) -> None:
    """A document's form is document data: a zero-width character in a name is refused beside
    its field, in Bahasa Indonesia, and nothing is saved."""
    office.goto("/dokumen/baru/pakta-integritas")
    fill(office, {"nama": "Budi\u200bSantoso", "jabatan": "Kepala \u202eumU"})
    response = submit(office, "Simpan draf")
    assert response.status == 422
    hidden = "mengandung karakter kontrol atau tak tampak ({}) yang tidak diperbolehkan"
    assert office.locator("#f-nama-error").inner_text().strip() == hidden.format("U+200B")
    assert office.locator("#f-jabatan-error").inner_text().strip() == hidden.format("U+202E")
    assert office.locator("#f-nama").get_attribute("aria-invalid") == "true"
    assert office.url.endswith("/dokumen/baru/pakta-integritas")


def test_batch_dry_run_problems_then_progress_to_the_zip(
    office: Page,
    operator: Account,
    signers: dict[str, SignerAccount],
    people: People,
    service: Service,
) -> None:
    page = office
    before = operator.client.get("/api/v1/batches").json()["total"]
    page.goto("/batch")
    page.get_by_role("link", name="Batch baru").click()
    page.wait_for_url("**/batch/baru")
    page.get_by_role("link", name="Berita Acara Pelantikan").click()
    page.wait_for_url("**/batch/baru/berita-acara-pelantikan")

    rows = [
        ("Ahmad Fauzi", NIP_PESERTA[0]),
        ("Dewi Lestari", "1962020219880322"),  # two digits short
        ("Bambang Wijaya", NIP_PESERTA[1]),
        ("Rina Kartika", "196213131988031299"),  # month 13
    ]
    page.get_by_label("Pejabat yang melantik").select_option(signers["ketua"].signer_id)
    page.locator("#f-file").set_input_files(
        {"name": "pelantikan.csv", "mimeType": "text/csv", "buffer": ba_csv(rows)}
    )
    page.get_by_role("button", name="Periksa dan mulai").click()
    page.wait_for_load_state()
    problems = page.locator("#masalah tbody tr")
    assert problems.count() == 2
    assert problems.nth(0).locator("td").nth(0).inner_text() == "3"
    assert problems.nth(1).locator("td").nth(0).inner_text() == "5"
    assert "Peserta.NIP" in problems.nth(0).inner_text() or "nip" in problems.nth(0).inner_text()
    assert operator.client.get("/api/v1/batches").json()["total"] == before  # nothing made
    # The choice of signer is kept for the next upload.
    assert page.get_by_label("Pejabat yang melantik").input_value() == signers["ketua"].signer_id
    shoot(page, "operator-batch-periksa")

    fixed = [rows[0], ("Dewi Lestari", NIP_PESERTA[2]), rows[2]]
    page.locator("#f-file").set_input_files(
        {"name": "pelantikan.csv", "mimeType": "text/csv", "buffer": ba_csv(fixed)}
    )
    page.get_by_role("button", name=re.compile("mulai")).click()
    page.wait_for_url(re.compile(r"/batch/[0-9a-f]{32}"))
    batch_id = re.search(r"/batch/([0-9a-f]{32})", page.url)[1]  # type: ignore[index]
    assert page.locator("progress#progres").count() == 1
    # The bar follows the batch live, then the page shows the documents and the ZIP.
    page.locator("#unduh-zip").wait_for()
    assert "100 %" in page.locator("#progres-teks").inner_text()
    bar = page.locator("progress#progres")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "3"
    assert page.locator('table a[href^="/dokumen/"]').count() == 3
    shoot(page, "operator-batch-detail")

    href = page.locator("#unduh-zip").get_attribute("href")
    assert href == f"/api/v1/batches/{batch_id}/zip"
    downloaded = page.request.get(href)
    assert downloaded.status == 200
    assert downloaded.headers["content-type"] == "application/zip"
    api = operator.client.get(href)
    assert api.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(api.content)).namelist()
    assert len([n for n in names if n.endswith(".pdf")]) == 3 and "daftar.csv" in names
    state = operator.client.get(f"/api/v1/batches/{batch_id}").json()
    assert state["status"] == "selesai" and state["done"] == 3 and state["failed"] == 0

    # A witness signs the whole batch with one PIN: the page shows that signing's progress.
    signing = bulk_sign(signers["camat"], batch_id, "saksi_1")
    assert signing["done"] == 3
    page.reload()
    region = page.get_by_role("region", name="Tanda tangan massal").inner_text()
    assert "3 ditandatangani, 0 gagal, dari 3" in region
    assert "Saksi I: selesai" in region  # the role's label and the status in words
    title = "Berita Acara Pelantikan dan Pengambilan Sumpah/Janji Jabatan"
    assert page.get_by_role("region", name="Kemajuan").inner_text().count(title) == 1

    page.goto("/batch")
    assert page.locator(f'a[href="/batch/{batch_id}"]').count() == 1
    row = page.get_by_role("row").filter(has=page.locator(f'a[href="/batch/{batch_id}"]'))
    assert title in row.inner_text()
    shoot(page, "operator-batch")

    # A signer with a role in it reads the batch (without the ZIP); another signer does not.
    for signer, status in ((signers["saksi"], 200), (signers["ketua"], 200)):
        with signed_in(service, signer) as client:
            shown = client.get(f"/batch/{batch_id}")
            assert shown.status_code == status
            assert "Unduh ZIP" not in shown.text
    with signed_in(service, people.signer(NIP_LUAR, name="Rudi Hartono")) as client:
        assert client.get(f"/batch/{batch_id}").status_code == 404
