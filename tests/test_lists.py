"""Lists of people from a file (issue 20): ``POST /api/v1/templates/{id}/lists/{field}`` reads a
CSV or XLSX into the items of a list field, and one berita acara is made of 40 (XLSX) and of 200
(CSV) people, read back from its PDF page by page; rows at fault are named by row and column, as
bulk's dry run names them; the file's bounds are bulk's. In a real browser, the document form's
"Unggah daftar (CSV/XLSX)" fills the list from a file, shows the problems and keeps what was
typed."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

import httpx
import openpyxl
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.browser import DESKTOP, fill, log_in, shoot, submit
from tests.conftest import People, Service
from tests.pdftools import pages_text
from tests.people import PASSWORD, http_client
from tests.test_staff_list import far_cell_xlsx
from tests.test_templates_content import BA, grouped, own_nik, peserta

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LISTS = "/api/v1/templates/berita-acara-pelantikan/lists/peserta"
LABELS = ["Nama", "NIP", "Pangkat/Golongan", "Jabatan"]
_RANK = {
    "II/c": "Pengatur (II/c)",
    "III/a": "Penata Muda (III/a)",
    "III/c": "Penata (III/c)",
    "IV/a": "Pembina (IV/a)",
}


def people_rows(n: int) -> list[list[str]]:
    """The cells of ``peserta(n)`` as an office's spreadsheet holds them: NIP grouped, pangkat
    with its name."""
    return [[p["nama"], grouped(p["nip"]), _RANK[p["pangkat"]], p["jabatan"]] for p in peserta(n)]


def people_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """As Indonesian Excel saves CSV: ";" between cells."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def people_xlsx(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(
    client: httpx.Client, content: bytes, name: str = "peserta.csv", url: str = LISTS
) -> httpx.Response:
    kind = XLSX if name.endswith(".xlsx") else "text/csv"
    return client.post(url, files={"file": (name, content, kind)})


@pytest.fixture(scope="module")
def client(people: People) -> httpx.Client:
    return people.operator.client


@pytest.fixture(scope="module")
def signers(people: People) -> dict[str, str]:
    """The inaugurating official (no NIP: chosen by id); the witnesses are bound by their NIPs
    in the data (enrolled here unless another module of the session did)."""
    people.signer(str(BA["nip_saksi_1"]), name=str(BA["nama_saksi_1"]))
    people.signer(str(BA["nip_saksi_2"]), name=str(BA["nama_saksi_2"]))
    official = people.signer(nik=own_nik(), name=str(BA["nama_pejabat_pelantik"]))
    return {"pejabat_pelantik": official.signer_id}


def berita_acara(
    client: httpx.Client, signers: dict[str, str], items: list[object]
) -> tuple[dict[str, object], list[str]]:
    """A berita acara of ``items`` (as the list route gave them), and its PDF's text per page."""
    response = client.post(
        "/api/v1/documents",
        json={
            "template": "berita-acara-pelantikan",
            "data": {**BA, "peserta": items},
            "signers": signers,
        },
    )
    assert response.status_code == 201, response.text
    document = response.json()
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf")
    assert pdf.status_code == 200
    return document, pages_text(pdf.content)


def annex_of(pages: list[str]) -> list[str]:
    start = next(i for i, page in enumerate(pages) if "LAMPIRAN" in page)
    return pages[start:]


def check_everyone_in_the_annex(pages: list[str], n: int) -> None:
    """Each person once, on one annex page, with their number and grouped NIP on one line."""
    annex = annex_of(pages)
    body = "\n".join(pages[: len(pages) - len(annex)])
    assert f"sebanyak {n} (" in " ".join(body.split())
    for i, person in enumerate(peserta(n), start=1):
        holding = [page for page in annex if person["nama"] in page]
        assert len(holding) == 1, person
        line = rf"^\s*{i}\.\s+{person['nama']}\s+{grouped(person['nip'])}\s"
        assert re.search(line, holding[0], re.M), person
        assert person["nama"] not in body


def test_forty_people_from_an_xlsx_make_one_berita_acara(
    client: httpx.Client, signers: dict[str, str]
) -> None:
    response = upload(client, people_xlsx(LABELS, people_rows(40)), "pelantikan.xlsx")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["problems"] == []
    # Exactly what the list takes in data: NIP as 18 digits, pangkat as its golongan.
    assert body["items"] == peserta(40)
    assert (body["template"], body["field"], body["rows"]) == (
        "berita-acara-pelantikan",
        "peserta",
        40,
    )

    document, pages = berita_acara(client, signers, body["items"])
    assert document["status"] != "draf"
    check_everyone_in_the_annex(pages, 40)

    few = upload(client, people_xlsx(LABELS, people_rows(5)), "lima.xlsx").json()
    _, five = berita_acara(client, signers, few["items"])
    assert not any("LAMPIRAN" in page for page in five)  # five fit in the body
    assert len(five) < len(pages)


def test_two_hundred_people_from_a_csv_make_one_berita_acara(
    client: httpx.Client, signers: dict[str, str]
) -> None:
    # Bulk's headers work too (the list's name before each item field).
    header = ["peserta.nama", "peserta.nip", "peserta.pangkat", "peserta.jabatan"]
    response = upload(client, people_csv(header, people_rows(200)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["problems"] == [] and body["items"] == peserta(200)

    _, pages = berita_acara(client, signers, body["items"])
    check_everyone_in_the_annex(pages, 200)
    forty = upload(client, people_csv(header, people_rows(40))).json()
    _, fewer = berita_acara(client, signers, forty["items"])
    assert len(fewer) < len(pages)  # the pages grow with the list


def test_bad_rows_are_named_by_row_and_column_and_give_no_item(client: httpx.Client) -> None:
    good = people_rows(3)
    rows = [
        good[0],  # row 2
        [good[1][0], "19621313 198803 1 299", "III/a", "Staf"],  # row 3: month 13
        [good[2][0], grouped(peserta(4)[3]["nip"]), "III/e", "Staf"],  # row 4: no III/e
        ["", grouped(peserta(5)[4]["nip"]), "III/a", "Staf"],  # row 5: no name
        ["", "", "", ""],  # row 6: empty, skipped
        people_rows(6)[5],  # row 7
    ]
    for content, name in (
        (people_csv(LABELS, rows), "peserta.csv"),
        (people_xlsx(LABELS, rows), "peserta.xlsx"),
    ):
        response = upload(client, content, name)
        assert response.status_code == 200, response.text
        body = response.json()
        found = [(p["row"], p["column"]) for p in body["problems"]]
        assert found == [(3, "NIP"), (4, "Pangkat/Golongan"), (5, "Nama")], body["problems"]
        messages = [p["message"] for p in body["problems"]]
        assert "NIP" in messages[0] and "tidak valid" in messages[0]
        assert messages[1] == "pangkat/golongan tidak dikenal: III/e"
        assert messages[2] == "wajib diisi"
        assert body["items"] == [peserta(1)[0], peserta(6)[5]]
        assert body["rows"] == 5


def test_files_the_list_cannot_take_are_refused_in_indonesian(client: httpx.Client) -> None:
    too_many = upload(client, people_csv(LABELS, people_rows(201)))
    assert too_many.status_code == 422
    assert too_many.json()["error"] == "StaffListInvalid"
    (problem,) = too_many.json()["problems"]
    assert (problem["row"], problem["column"]) == (202, "-")  # the first row past the limit
    assert "maksimal 200" in problem["message"]

    header = upload(client, people_csv(["Nama", "NIK", "Jabatan"], people_rows(2)))
    assert header.status_code == 422
    problems = {(p["row"], p["column"]): p["message"] for p in header.json()["problems"]}
    assert problems[(1, "NIK")] == "kolom tidak dikenal pada templat ini"
    assert problems[(1, "nip")] == "kolom wajib (NIP) tidak ada"

    # Past the upload limit (20 MiB, as a staff list): 413, read no further.
    big = upload(client, b"Nama\n" + b"x" * (20 * 2**20))
    assert big.status_code == 413
    assert big.json()["detail"] == "Daftar melebihi batas 20 MiB"
    # A hostile XLSX (a few KB reaching to row 1,048,576) is refused unread, as bulk does.
    hostile = upload(client, far_cell_xlsx(), "peserta.xlsx")
    assert hostile.status_code == 422
    assert hostile.json()["detail"].startswith("Daftar terlalu besar: lembar kerja")

    not_a_list = upload(
        client, b"x\n1\n", url="/api/v1/templates/berita-acara-pelantikan/lists/nama_saksi_1"
    )
    assert not_a_list.status_code == 422
    assert not_a_list.json()["error"] == "NotAList"
    assert "bukan daftar" in not_a_list.json()["detail"]
    unknown_field = upload(
        client, b"x\n1\n", url="/api/v1/templates/berita-acara-pelantikan/lists/x"
    )
    assert unknown_field.status_code == 404
    assert "tidak memiliki isian" in unknown_field.json()["detail"]
    unknown = upload(client, b"x\n1\n", url="/api/v1/templates/tidak-ada/lists/peserta")
    assert unknown.status_code == 404 and "tidak dikenal" in unknown.json()["detail"]
    version = upload(client, people_csv(LABELS, people_rows(1)), url=LISTS + "?template_version=99")
    assert version.status_code == 404 and "versi 99" in version.json()["detail"]
    first = upload(client, people_csv(LABELS, people_rows(1)), url=LISTS + "?template_version=1")
    assert first.status_code == 200 and first.json()["template_version"] == 1


def test_a_list_of_text_takes_one_item_per_row(client: httpx.Client) -> None:
    url = "/api/v1/templates/nota-kesepahaman/lists/ruang_lingkup"
    response = upload(client, b"Ruang lingkup\npertukaran data\npenyediaan sarana\n", url=url)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == ["pertukaran data", "penyediaan sarana"]


def test_the_empty_list_to_download_is_read_back(client: httpx.Client) -> None:
    empty = client.get(LISTS)
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/csv")
    assert "berita-acara-pelantikan-peserta.csv" in empty.headers["content-disposition"]
    assert empty.content.decode("utf-8-sig") == "Nama;NIP;Pangkat/Golongan;Jabatan\r\n"
    filled = empty.content + people_csv(LABELS, people_rows(2)).split(b"\r\n", 1)[1]
    assert upload(client, filled).json()["items"] == peserta(2)


def test_who_may_read_a_list_from_a_file(people: People, anonymous: httpx.Client) -> None:
    """Whoever may make documents of the template: operators (of any unit: templates belong to
    no unit) and admins; nobody else."""
    content = people_csv(LABELS, people_rows(2))
    elsewhere = people.user("operator", [people.unit("Bawaslu Kabupaten Cirebon")])
    for account in (elsewhere, people.admin):
        response = upload(account.client, content)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == peserta(2)
    nobody = upload(anonymous, content)
    assert nobody.status_code == 401 and nobody.json()["error"] == "NotAuthenticated"
    assert anonymous.get(LISTS).status_code == 401
    for role in ("auditor",):
        assert upload(people.user(role).client, content).status_code == 403
    signer = people.signer(str(BA["nip_saksi_1"]), name=str(BA["nama_saksi_1"]))
    assert upload(signer.client, content).status_code == 403


# --- the document form, in a real browser --------------------------------------------------------


@pytest.fixture(scope="module")
def office(browser: Browser, service: Service, people: People) -> Iterator[Page]:
    """The shared unit's operator, logged in through the /masuk form."""
    operator = people.operator
    context = browser.new_context(viewport=DESKTOP, base_url=service.url, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(120_000)
    assert operator.otp is not None
    log_in(page, operator.username, operator.otp)
    yield page
    context.close()


def test_the_form_fills_its_list_from_a_file(
    office: Page, client: httpx.Client, signers: dict[str, str]
) -> None:
    page = office
    page.goto("/dokumen/baru/berita-acara-pelantikan")
    typed = {k: v for k, v in BA.items() if k not in ("peserta", "tanggal", "tanggal_keputusan")}
    fill(page, typed)
    fill(page, {"tanggal": "2024-06-27", "tanggal_keputusan": "2024-06-20"})
    page.get_by_label("Pejabat yang melantik", exact=True).select_option(
        signers["pejabat_pelantik"]
    )

    # No file chosen: said beside the control, nothing lost.
    response = submit(page, "Unggah daftar (CSV/XLSX)")
    assert response.status == 422
    assert page.locator("#f-unggah-peserta-error").inner_text() == "pilih berkas CSV atau XLSX"
    assert page.locator('[name="nomor_keputusan"]').input_value() == BA["nomor_keputusan"]

    rows = people_rows(5)
    rows[2][2] = "III/e"  # row 4 of the file
    page.locator("#f-unggah-peserta").set_input_files(
        {"name": "pelantikan.xlsx", "mimeType": XLSX, "buffer": people_xlsx(LABELS, rows)}
    )
    response = submit(page, "Unggah daftar (CSV/XLSX)")
    assert response.status == 200, page.content()
    good = [p for i, p in enumerate(peserta(5)) if i != 2]
    fieldset = page.locator("#f-peserta")
    assert fieldset.locator(".row-item").count() == 4
    for n, person in enumerate(good, start=1):
        assert page.locator(f"#f-peserta-{n}-nama").input_value() == person["nama"]
        assert page.locator(f"#f-peserta-{n}-nip").input_value() == grouped(person["nip"])
        assert page.locator(f"#f-peserta-{n}-pangkat").input_value() == person["pangkat"]
    problems = page.locator("#masalah-peserta tbody tr")
    assert problems.count() == 1
    cells = [problems.nth(0).locator("td").nth(i).inner_text() for i in range(3)]
    assert cells == ["4", "Pangkat/Golongan", "pangkat/golongan tidak dikenal: III/e"]
    status = page.locator("#f-unggah-peserta-hasil").inner_text()
    assert "5 baris dibaca, 4 dimasukkan ke daftar, 1 baris bermasalah" in status
    # What was typed before the upload is kept.
    assert page.locator('[name="nomor_keputusan"]').input_value() == BA["nomor_keputusan"]
    assert page.locator('[name="agama"]').input_value() == BA["agama"]
    assert (
        page.get_by_label("Pejabat yang melantik", exact=True).input_value()
        == signers["pejabat_pelantik"]
    )
    shoot(page, "operator-daftar-dari-berkas")
    found = Axe().run(page).response["violations"]
    assert [v["id"] for v in found if v["impact"] in ("serious", "critical")] == []

    # A file the list cannot take at all: said beside the control, by row and column; the
    # rows already in the list stay.
    wrong = people_csv(["Nama", "NIK", "Pangkat/Golongan", "Jabatan"], people_rows(2))
    page.locator("#f-unggah-peserta").set_input_files(
        {"name": "salah.csv", "mimeType": "text/csv", "buffer": wrong}
    )
    assert submit(page, "Unggah daftar (CSV/XLSX)").status == 422
    error = page.locator("#f-unggah-peserta-error").inner_text()
    assert error.startswith("Daftar tidak dapat dipakai: baris 1 kolom NIK")
    first = page.locator("#masalah-peserta tbody tr").first.locator("td")
    assert [first.nth(i).inner_text() for i in range(3)] == [
        "1",
        "NIK",
        "kolom tidak dikenal pada templat ini",
    ]
    assert page.locator("#f-peserta .row-item").count() == 4
    assert page.locator("#f-peserta-4-nama").input_value() == good[3]["nama"]

    # The empty list to fill is a link away.
    link = page.get_by_role("link", name="Unduh contoh kolom (CSV)")
    downloaded = page.request.get(str(link.get_attribute("href")))
    assert downloaded.status == 200 and downloaded.text().startswith("\ufeffNama;NIP")

    # Saved as it stands: the draft holds the four people of the file.
    submit(page, "Simpan draf")
    found = re.search(r"/dokumen/([0-9a-f]{32})", page.url)
    assert found, page.url
    draft = client.get(f"/api/v1/documents/{found[1]}").json()
    assert draft["status"] == "draf"
    assert draft["data"]["peserta"] == good

    # The draft changed: 200 people from a CSV replace the four, and the form saves them all.
    page.goto(f"/dokumen/{found[1]}/ubah")
    page.locator("#f-unggah-peserta").set_input_files(
        {
            "name": "pelantikan.csv",
            "mimeType": "text/csv",
            "buffer": people_csv(LABELS, people_rows(200)),
        }
    )
    assert submit(page, "Unggah daftar (CSV/XLSX)").status == 200
    assert page.locator("#f-peserta .row-item").count() == 200
    assert page.locator("#masalah-peserta").count() == 0
    submit(page, "Simpan draf")
    assert client.get(f"/api/v1/documents/{found[1]}").json()["data"]["peserta"] == peserta(200)


def test_a_form_of_many_rows_is_read_whole(service: Service, people: People) -> None:
    """The form of a list of 300 people (1,200 row fields and more: past Starlette's default
    of 1,000 fields a form was refused with a bare 400) is read, and the list's own bound is
    said beside it."""
    operator = people.operator
    assert operator.otp is not None
    with http_client(service.url) as browser_less:
        login = browser_less.post(
            "/api/v1/auth/login",
            json={"username": operator.username, "password": PASSWORD, "otp": operator.otp.code()},
        )
        assert login.status_code == 200, login.text
        form: dict[str, str] = {k: str(v) for k, v in BA.items() if k != "peserta"}
        for n, person in enumerate(peserta(300), start=1):
            form.update({f"peserta[{n}].{k}": v for k, v in person.items()})
        form.update(csrf=browser_less.cookies["docgen_csrf"], aksi="simpan")
        response = browser_less.post("/dokumen/baru/berita-acara-pelantikan", data=form)
    assert response.status_code == 422, response.text[:500]
    assert "terlalu banyak isian (maksimal 200)" in response.text
