"""The kop, place and numbers a unit gives its documents, read from the PDF as a person reads
it (issue 20): the lines of page 1 from the top, where the emblem stands, what is not there.

Two units as the issue names them: Bawaslu Kabupaten Cirebon (a vertical agency: its name and
level, no regional government line; a PNG logo) and Dinas Pendidikan of the Pemerintah
Kabupaten Kutai Kartanegara (a government line above its name, WITA; an SVG lambang), each
making a pakta integritas one by one, and the latter also in bulk.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import People, pakta_data
from tests.pdftools import Block, page_blocks
from tests.test_templates_content import nip_of
from tests.test_unit_profiles import made_batch, png, put_emblem, put_profile, svg

PAKTA = "pakta-integritas"
TITLE = "PAKTA INTEGRITAS"

BAWASLU_ADDRESS = "Jalan Sunan Drajat Nomor 2, Sumber 45611, Telepon (0231) 8330707"
BAWASLU: dict[str, Any] = {
    "kop_lines": [],
    "name_lines": ["Badan Pengawas Pemilihan Umum", "Kabupaten Cirebon"],
    "address": BAWASLU_ADDRESS,
    "place": "Sumber",
    "timezone": "WIB",
    "numbering": {PAKTA: {"kode": "PM.01.00", "unit": "K.JB-11"}},
}
KUKAR_ADDRESS = "Jalan Wolter Monginsidi Nomor 1, Tenggarong 75511"
KUKAR: dict[str, Any] = {
    "kop_lines": ["PEMERINTAH KABUPATEN KUTAI KARTANEGARA"],
    "address": KUKAR_ADDRESS,
    "place": "Tenggarong",
    "timezone": "WITA",
}
# The emblems' colours: the kop's image must be the unit's own.
BAWASLU_RED = (200, 30, 30)  # png()'s colour
KUKAR_GREEN = (20, 140, 60)


def kukar_svg() -> bytes:
    return svg('<path d="M1 1 H15 V10 L8 15 L1 10 Z" fill="rgb(20,140,60)"/>')


@pytest.fixture(scope="module")
def bawaslu(people: People) -> httpx.Client:
    """An operator of Bawaslu Kabupaten Cirebon, whose profile and PNG logo are written."""
    unit_id = people.unit("Bawaslu Kabupaten Cirebon")
    assert put_profile(people.admin.client, unit_id, BAWASLU).status_code == 200
    assert put_emblem(people.admin.client, unit_id, png(120, 120)).status_code == 200
    return people.user("operator", [unit_id]).client


@pytest.fixture(scope="module")
def kukar(people: People) -> httpx.Client:
    """An operator of Dinas Pendidikan of Kutai Kartanegara, with an SVG lambang."""
    unit_id = people.unit("Dinas Pendidikan")
    assert put_profile(people.admin.client, unit_id, KUKAR).status_code == 200
    response = put_emblem(people.admin.client, unit_id, kukar_svg(), "lambang.svg")
    assert response.status_code == 200, response.text
    return people.user("operator", [unit_id]).client


def made_pakta(
    people: People,
    operator: httpx.Client,
    seq: int,
    nama: str = "Moch. Fauzi Rahman, S.STP., M.Si.",
    tempat: str = "",
    **overrides: object,
) -> dict[str, Any]:
    nip = nip_of(seq)
    people.signer(nip, name=nama)
    data = pakta_data(nip=nip, nama=nama, tempat=tempat, **overrides)
    response = operator.post("/api/v1/documents", json={"template": PAKTA, "data": data})
    assert response.status_code == 201, response.text
    return dict(response.json())


def first_page(operator: httpx.Client, document_id: str, workdir: Path) -> list[Block]:
    pdf = operator.get(f"/api/v1/documents/{document_id}/pdf")
    assert pdf.status_code == 200
    return page_blocks(pdf.content, 1, workdir)


def kop_of(blocks: list[Block], title_text: str = TITLE) -> tuple[list[Block], list[Block]]:
    """The text lines and the images above the document's title: its kop."""
    title = next(b for b in blocks if b.text == title_text)
    above = [b for b in blocks if b.bottom <= title.top]
    return [b for b in above if b.text], [b for b in above if b.image]


def main_colour(image: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(image)) as picture:
        colours = picture.convert("RGB").getcolors(1 << 20) or []
    opaque = [(n, c) for n, c in colours if c != (255, 255, 255)]
    return max(opaque)[1]


def near(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 24 for x, y in zip(a, b, strict=True))


def check_emblem(lines: list[Block], images: list[Block], colour: tuple[int, int, int]) -> None:
    """One image in the kop: the unit's emblem, left of every kop line and level with them."""
    [emblem] = images
    assert near(main_colour(emblem.image), colour)
    assert all(emblem.right < line.left for line in lines)
    assert emblem.top < lines[-1].bottom and lines[0].top < emblem.bottom


def test_a_vertical_agency_has_its_name_and_level_and_no_government_line(
    people: People, bawaslu: httpx.Client, tmp_path: Path
) -> None:
    instansi = "Badan Pengawas Pemilihan Umum Kabupaten Cirebon"
    document = made_pakta(people, bawaslu, 960, instansi=instansi)
    assert document["number"].startswith("PM.01.00/1/K.JB-11/")
    blocks = first_page(bawaslu, document["id"], tmp_path)
    lines, images = kop_of(blocks)
    assert [b.text for b in lines] == [
        "BADAN PENGAWAS PEMILIHAN UMUM",
        "KABUPATEN CIREBON",
        BAWASLU_ADDRESS,
    ]
    # The name is the largest line; the address the smallest.
    assert lines[0].height > lines[2].height
    check_emblem(lines, images, BAWASLU_RED)
    text = " ".join(b.text for b in blocks)
    assert "SIDOARJO" not in text.upper()  # nothing of another region, anywhere
    assert "Sumber, " in text  # the unit's place, the data leaving it empty
    assert "MOCH. FAUZI RAHMAN, S.STP., M.Si." in text  # Moch. belongs to the name


def test_a_regional_opd_has_its_government_above_its_name(
    people: People, kukar: httpx.Client, tmp_path: Path
) -> None:
    document = made_pakta(people, kukar, 961)
    lines, images = kop_of(first_page(kukar, document["id"], tmp_path))
    assert [b.text for b in lines] == [
        "PEMERINTAH KABUPATEN KUTAI KARTANEGARA",
        "DINAS PENDIDIKAN",  # no name lines in the profile: the unit's registered name
        KUKAR_ADDRESS,
    ]
    assert lines[1].height > lines[0].height  # the unit's name above all
    check_emblem(lines, images, KUKAR_GREEN)  # the SVG, drawn


def test_a_unit_without_a_profile_shows_its_name_only(people: People, tmp_path: Path) -> None:
    operator = people.user("operator", [people.unit("Kecamatan Candi")]).client
    document = made_pakta(people, operator, 962, "Siti Aminah, S.Sos.", tempat="Candi")
    lines, images = kop_of(first_page(operator, document["id"], tmp_path))
    assert [b.text for b in lines] == ["KECAMATAN CANDI"]
    assert images == []


def test_bulk_documents_take_their_units_kop(
    people: People, kukar: httpx.Client, tmp_path: Path
) -> None:
    rows = [pakta_data(nip=nip_of(i), nama=f"Guru {i}", tempat="") for i in (963, 964)]
    for row in rows:
        people.signer(str(row["nip"]), name=str(row["nama"]))
    for document in made_batch(kukar, rows)["documents"]:
        lines, images = kop_of(first_page(kukar, document["id"], tmp_path))
        assert [b.text for b in lines][:2] == [
            "PEMERINTAH KABUPATEN KUTAI KARTANEGARA",
            "DINAS PENDIDIKAN",
        ]
        check_emblem(lines, images, KUKAR_GREEN)


def test_a_changed_profile_shows_in_the_next_document(people: People, tmp_path: Path) -> None:
    """Nothing is kept of a kop between documents: a new line shows in the next one."""
    unit_id = people.unit("Dinas Sosial")
    operator = people.user("operator", [unit_id]).client
    body = {"kop_lines": ["PEMERINTAH PROVINSI JAWA TIMUR"], "place": "Surabaya"}
    assert put_profile(people.admin.client, unit_id, body).status_code == 200
    first = made_pakta(people, operator, 965)
    body["kop_lines"] = ["PEMERINTAH KOTA SURABAYA"]
    assert put_profile(people.admin.client, unit_id, body).status_code == 200
    second = made_pakta(people, operator, 966)
    seen = [
        [b.text for b in kop_of(first_page(operator, d["id"], tmp_path))[0]]
        for d in (first, second)
    ]
    assert seen == [
        ["PEMERINTAH PROVINSI JAWA TIMUR", "DINAS SOSIAL"],
        ["PEMERINTAH KOTA SURABAYA", "DINAS SOSIAL"],
    ]
