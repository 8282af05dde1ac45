"""Nota kesepahaman and berita acara pelantikan through the API of the running service (real
LibreOffice), read back from the prepared PDF: wording, order, tables, and where the signature
fields and the e-Meterai box land on the page."""

from __future__ import annotations

import html
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from cryptography import x509
from docx.oxml.ns import qn
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from docgen.pipeline.prepare import FOOTER
from docgen.pipeline.render import render_docx
from docgen.templating.catalogue import load_template
from signing.prepare.stamp import FooterStyle
from signing.validate.validation import validate_pdf
from tests.conftest import People, SignerAccount
from tests.pdftools import page_text, pdftotext
from tests.people import SHARED_UNIT

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2; PDF points, origin bottom-left

# The e-Meterai area the MoU reserves: 70 x 70 pt, top-left corner at this invisible text.
METERAI_MARKER = "#EMETERAI#"
METERAI_PT = 70.0
FOOTER_TOP = FooterStyle().bottom + FooterStyle().qr_size  # the verification mark's upper edge
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


# --- data --------------------------------------------------------------------------------------

SCOPE = [
    "pertukaran data dan informasi kependudukan untuk pengawasan daftar pemilih",
    "penyediaan sarana dan prasarana sekretariat pengawas",
    "sosialisasi pengawasan partisipatif kepada masyarakat",
    "pengawasan netralitas aparatur pemerintah kecamatan dan desa",
]
NOMOR_PIHAK_KEDUA = "15/PM.00.02/K.JI-18.05/06/2024"


MOU: dict[str, object] = {
    "tentang": "Kerja Sama Pengawasan Penyelenggaraan Pemilihan Umum Tahun 2024",
    "instansi_pihak_pertama": "Pemerintah Kecamatan Candi",
    "nama_pihak_pertama": "Drs. Budi Santoso, M.Si.",
    "jabatan_pihak_pertama": "Camat Candi",
    "nip_pihak_pertama": "198609262015051001",
    "pangkat_pihak_pertama": "III/d",
    "alamat_pihak_pertama": "Jalan Raya Candi Nomor 1, Sidoarjo",
    "instansi_pihak_kedua": "Panitia Pengawas Pemilihan Umum Kecamatan Candi",
    "nama_pihak_kedua": "Siti Aminah, S.H., M.H.",
    "jabatan_pihak_kedua": "Ketua Panitia Pengawas Pemilihan Umum Kecamatan Candi",
    "nomor_pihak_kedua": NOMOR_PIHAK_KEDUA,
    "ruang_lingkup": SCOPE,
    "berlaku_sampai": "2024-12-31",
    "kode_unit": "438.5.3",
    "tempat": "Sidoarjo",
    "tanggal": "2024-06-27",
}


def mou_data(**overrides: object) -> dict[str, object]:
    return {**MOU, **overrides}


_FIRST = ("Ahmad", "Dewi", "Bambang", "Rina", "Hendra", "Sri", "Agus", "Nurul")
_LAST = ("Fauzi", "Lestari", "Wijaya", "Kartika", "Gunawan", "Wahyuni", "Salim", "Hidayah")
_PANGKAT = ("III/a", "III/c", "IV/a", "II/c")


def nip_of(i: int) -> str:
    """A valid NIP, different for every ``i`` below 1000."""
    born = 1965 + i % 30
    lahir = f"{born}{1 + i % 12:02d}{1 + i % 28:02d}"
    tmt = f"{born + 22 + i % 5}{1 + i * 7 % 12:02d}"
    return f"{lahir}{tmt}{1 + i % 2}{i + 1:03d}"


def own_nik() -> str:
    """A valid NIK no other test uses (a Sidoarjo resident's), for officials without a NIP."""
    rng = random.SystemRandom()
    born = f"{rng.randrange(1, 29) + rng.choice((0, 40)):02d}{rng.randrange(1, 13):02d}"
    return f"351514{born}{rng.randrange(50, 90)}{rng.randrange(1, 10000):04d}"


def grouped(nip: str) -> str:
    return f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"


def peserta(n: int) -> list[dict[str, str]]:
    return [
        {
            "nama": f"{_FIRST[i % 8]} {_LAST[i // 8 % 8]} {i + 1:03d}",
            "nip": nip_of(i),
            "pangkat": _PANGKAT[i % 4],
            "jabatan": "Kepala Seksi Pemerintahan",
        }
        for i in range(n)
    ]


_KECAMATAN = ("Tanggulangin", "Krembung", "Porong", "Sukodono", "Tarik", "Prambon", "Jabon")
_DEGREES = (", S.STP., M.Si.", ", S.Sos.", ", S.H., M.H.", ", S.E., M.M.", ", S.Kom.", ", S.IP.")


def kepala_sekretariat(n: int) -> list[dict[str, str]]:
    """The seeds' inauguration: heads of secretariat with their degrees and long jabatan, as
    an annex must hold them in two lines a row."""
    return [
        {
            "nama": f"{('Moch.', 'Hj.', 'Drs.', 'Abd.')[i % 4]} {_FIRST[i % 8]} {_LAST[i // 8 % 8]}"
            f"{_DEGREES[i % 6]}",
            "nip": nip_of(300 + i),
            "pangkat": ("III/b", "III/d", "IV/a")[i % 3],
            "jabatan": f"Kepala Sekretariat Panwaslu Kecamatan {_KECAMATAN[i % 7]}",
        }
        for i in range(n)
    ]


BA: dict[str, object] = {
    "penetap_keputusan": "Bupati Sidoarjo",
    "nomor_keputusan": "800.1.3.3/123/438.1.1.3/2024",
    "tanggal_keputusan": "2024-06-20",
    "tentang_keputusan": "Pengangkatan dalam Jabatan Administrator dan Jabatan Pengawas",
    "nama_pejabat_pelantik": "Dr. H. Ahmad Muhdlor, S.IP., M.Si.",
    "jabatan_pejabat_pelantik": "Bupati Sidoarjo",
    "nama_saksi_1": "Drs. Budi Santoso, M.Si.",
    "nip_saksi_1": "198609262015051001",
    "pangkat_saksi_1": "IV/a",
    "jabatan_saksi_1": "Kepala Badan Kepegawaian dan Pengembangan Sumber Daya Manusia",
    "nama_saksi_2": "Ir. Sri Rahayu, M.T.",
    "nip_saksi_2": "197501012000032002",
    "jabatan_saksi_2": "Asisten Administrasi Umum Sekretariat Daerah",
    "agama": "Islam",
    "tempat": "Sidoarjo",
    "tanggal": "2024-06-27",
}


def ba_data(n: int, **overrides: object) -> dict[str, object]:
    return {**BA, "peserta": peserta(n), **overrides}


# --- reading the PDF ---------------------------------------------------------------------------


@dataclass
class Page:
    width: float
    height: float
    words: list[tuple[str, Rect]]  # bottom-left origin, like PDF user space


@dataclass
class Created:
    document: dict[str, Any]
    pages: list[str]  # pdftotext -layout, one string per page
    geometry: list[Page]
    fields: dict[str, tuple[int, Rect]]  # field name -> (page, /Rect)

    @property
    def text(self) -> str:
        """The whole document without the verification footer, whitespace collapsed and
        line-break hyphens joined, so that sentences read on across page breaks."""
        footer = flat(FOOTER.format(url=self.document["verify_url"]))
        return " ".join(flat(page).replace(footer, "") for page in self.pages).strip()


def flat(text: str) -> str:
    return re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(text.split()))


_WORD = re.compile(
    r'<page width="([\d.]+)" height="([\d.]+)">'
    r'|<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)


def words(pdf: Path) -> list[Page]:
    pages: list[Page] = []
    for m in _WORD.finditer(pdftotext(pdf, "-bbox")):
        if m[1]:
            pages.append(Page(float(m[1]), float(m[2]), []))
            continue
        h = pages[-1].height
        x0, y0, x1, y1 = (float(v) for v in m.group(3, 4, 5, 6))
        pages[-1].words.append((html.unescape(m[7]), (x0, h - y1, x1, h - y0)))
    return pages


def signature_fields(pdf: bytes) -> dict[str, tuple[int, Rect]]:
    reader = PdfFileReader(io.BytesIO(pdf))
    count = int(reader.root["/Pages"]["/Count"])
    pages = [reader.find_page_for_modification(i)[0].reference for i in range(count)]
    found = {}
    for name, _, ref in enumerate_sig_fields(reader):
        widget = ref.get_object()
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        found[name] = (pages.index(widget.raw_get("/P").reference), (x1, y1, x2, y2))
    return found


def create(
    client: httpx.Client,
    workdir: Path,
    template: str,
    data: dict[str, object],
    signers: dict[str, str] | None = None,
) -> Created:
    """A new document; ``signers`` binds the roles whose data names no NIP (role -> signer id)."""
    response = client.post(
        "/api/v1/documents", json={"template": template, "data": data, "signers": signers or {}}
    )
    assert response.status_code == 201, response.text
    document = response.json()
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    path = workdir / f"{document['id']}.pdf"
    path.write_bytes(pdf)
    return Created(
        document=document,
        pages=page_text(path).split("\f"),
        geometry=words(path),
        fields=signature_fields(pdf),
    )


def overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def meterai_box(created: Created) -> tuple[int, Rect] | None:
    for index, page in enumerate(created.geometry):
        for text, (x1, bottom, _, _) in page.words:
            if text == METERAI_MARKER:  # like a signature field: its top-left at the marker
                return index, (x1, bottom - METERAI_PT, x1 + METERAI_PT, bottom)
    return None


def check_layout(created: Created, boxes: dict[str, tuple[int, Rect]]) -> None:
    """Every box lies inside its page above the verification footer, no two boxes overlap,
    and no printed word runs into one (the invisible markers and the e-Meterai label excepted)."""
    items = list(boxes.items())
    for i, (name, (page, box)) in enumerate(items):
        geometry = created.geometry[page]
        x1, y1, x2, y2 = box
        assert 0 <= x1 < x2 <= geometry.width and FOOTER_TOP < y1 < y2 <= geometry.height, name
        for other, (other_page, other_box) in items[i + 1 :]:
            assert not (page == other_page and overlaps(box, other_box)), (name, other)
        for text, word in geometry.words:
            if text.startswith(("#TTD:", METERAI_MARKER)) or text == "e-Meterai":
                continue
            assert not overlaps(box, word), (name, text, word)


# --- nota kesepahaman --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(people: People) -> httpx.Client:
    """The shared unit's operator: makes the documents."""
    return people.operator.client


@pytest.fixture(scope="module")
def signers(people: People) -> dict[str, SignerAccount]:
    """The people who sign these documents, enrolled and activated: by role name. The ones
    with a NIP are bound by the NIP in the data; the officials without one (a Bupati, a Ketua
    Panwaslu) by their NIK, chosen when the document is made."""
    return {
        "saksi_1": people.signer(str(BA["nip_saksi_1"]), name=str(BA["nama_saksi_1"])),
        "saksi_2": people.signer(str(BA["nip_saksi_2"]), name=str(BA["nama_saksi_2"])),
        "pejabat_pelantik": people.signer(nik=own_nik(), name=str(BA["nama_pejabat_pelantik"])),
        "pihak_pertama": people.signer(str(MOU["nip_pihak_pertama"])),
        "pihak_kedua": people.signer(nik=own_nik(), name=str(MOU["nama_pihak_kedua"])),
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates_content")


@pytest.fixture(scope="module")
def mou_signers(signers: dict[str, SignerAccount]) -> dict[str, str]:
    return {"pihak_kedua": signers["pihak_kedua"].signer_id}


@pytest.fixture(scope="module")
def mou(client: httpx.Client, workdir: Path, mou_signers: dict[str, str]) -> Created:
    return create(client, workdir, "nota-kesepahaman", mou_data(), mou_signers)


@pytest.fixture(scope="module")
def mou_meterai(client: httpx.Client, workdir: Path, mou_signers: dict[str, str]) -> Created:
    data = mou_data(emeterai=True)
    del data["nomor_pihak_kedua"]
    return create(client, workdir, "nota-kesepahaman", data, mou_signers)


def test_templates_are_listed_with_their_roles(client: httpx.Client) -> None:
    templates = {t["id"]: t for t in client.get("/api/v1/templates").json()}
    roles = {
        tid: [(r["name"], r["label"], r["order"], r["signer_nip_field"]) for r in t["roles"]]
        for tid, t in templates.items()
    }
    assert roles["nota-kesepahaman"] == [
        ("pihak_pertama", "PIHAK PERTAMA", 1, "nip_pihak_pertama"),
        ("pihak_kedua", "PIHAK KEDUA", 2, "nip_pihak_kedua"),
    ]
    assert [(name, order, nip) for name, _, order, nip in roles["berita-acara-pelantikan"]] == [
        ("saksi_1", 1, "nip_saksi_1"),
        ("saksi_2", 1, "nip_saksi_2"),
        ("pejabat_pelantik", 2, "nip_pejabat_pelantik"),
    ]
    fields = {f["name"]: f for f in templates["berita-acara-pelantikan"]["fields"]}
    assert fields["peserta"]["max_items"] == 200
    assert [(f["name"], f["type"]) for f in fields["peserta"]["item_fields"]] == [
        ("nama", "text"),
        ("nip", "nip"),
        ("pangkat", "pangkat"),
        ("jabatan", "text"),
    ]
    assert fields["agama"]["choices"] == [
        "Islam", "Kristen Protestan", "Katolik", "Hindu", "Buddha", "Khonghucu"
    ]  # fmt: skip
    mou_fields = {f["name"]: f for f in templates["nota-kesepahaman"]["fields"]}
    assert mou_fields["emeterai"]["type"] == "boolean" and not mou_fields["emeterai"]["required"]
    assert mou_fields["ruang_lingkup"]["type"] == "list"
    assert not mou_fields["nip_pihak_pertama"]["required"]
    assert not mou_fields["nip_pihak_kedua"]["required"]


def test_mou_title_numbers_and_parties(mou: Created) -> None:
    document, text = mou.document, mou.text
    assert document["pending_roles"] == ["pihak_pertama", "pihak_kedua"]
    assert document["title"] == "Kerja Sama Pengawasan Penyelenggaraan Pemilihan Umum Tahun 2024"
    assert re.fullmatch(r"100\.4/\d+/438\.5\.3/2024", document["number"])
    title = re.search(r"NOTA KESEPAHAMAN ANTARA (.+?) DENGAN (.+?) Nomor:", text)
    assert title, text[:600]
    assert title.groups() == (
        "PEMERINTAH KECAMATAN CANDI",
        "PANITIA PENGAWAS PEMILIHAN UMUM KECAMATAN CANDI",
    )
    assert re.findall(r"Nomor: (\S+)", text) == [document["number"], NOMOR_PIHAK_KEDUA]
    assert (
        "TENTANG KERJA SAMA PENGAWASAN PENYELENGGARAAN PEMILIHAN UMUM TAHUN 2024 Pada hari Kamis "
        "tanggal dua puluh tujuh bulan Juni tahun dua ribu dua puluh empat, bertempat di Sidoarjo"
    ) in text
    assert "selanjutnya disebut PIHAK PERTAMA" in text
    assert "selanjutnya disebut PIHAK KEDUA" in text
    assert "secara bersama-sama disebut PARA PIHAK" in text
    # Names upper-cased with their degrees kept, in the parties and in the signature block.
    assert text.count("Drs. BUDI SANTOSO, M.Si.") == 2
    assert text.count("SITI AMINAH, S.H., M.H.") == 2
    # PIHAK KEDUA has no NIP: one NIP line only, PIHAK PERTAMA's.
    assert re.findall(r"NIP\. [\d ]+\d", text) == ["NIP. 19860926 201505 1 001"]
    assert "Penata Tingkat I (III/d)" in text


def test_mou_articles_in_order_with_numbered_scope(mou: Created) -> None:
    text = mou.text
    articles = [
        "MAKSUD DAN TUJUAN",
        "RUANG LINGKUP",
        "PELAKSANAAN",
        "JANGKA WAKTU",
        "PEMBIAYAAN",
        "PENYELESAIAN PERSELISIHAN",
        "PENUTUP",
    ]
    positions = [text.find(f"Pasal {n} {title}") for n, title in enumerate(articles, start=1)]
    assert -1 not in positions, positions
    assert positions == sorted(positions)
    scope = text[positions[1] : positions[2]]
    assert f"a. {SCOPE[0]}; b. {SCOPE[1]}; c. {SCOPE[2]}; dan d. {SCOPE[3]}." in scope, scope
    assert "sampai dengan tanggal 31 Desember 2024" in text
    assert "ditandatangani di Sidoarjo pada tanggal 27 Juni 2024" in text


def test_mou_kop_is_its_units(mou: Created, mou_meterai: Created) -> None:
    """The shared unit has no profile: its kop is its registered name, upper-cased, and no
    other line (never a region's name from the template); tests/test_kop.py has profiles."""
    for created in (mou, mou_meterai):
        assert created.text.startswith(f"{SHARED_UNIT.upper()} NOTA KESEPAHAMAN ANTARA")


def test_mou_blank_number_of_the_second_party(mou_meterai: Created) -> None:
    numbers = re.findall(r"Nomor: (\S+)", mou_meterai.text)
    assert numbers[0] == mou_meterai.document["number"]
    assert re.fullmatch(r"\.{10,}", numbers[1])


def test_emeterai_box_only_when_asked(mou: Created, mou_meterai: Created) -> None:
    assert meterai_box(mou) is None
    assert "e-Meterai" not in mou.text and "meterai elektronik" not in mou.text
    assert meterai_box(mou_meterai) is not None
    assert "e-Meterai" in mou_meterai.text
    assert "dibubuhi meterai elektronik" in mou_meterai.text


@pytest.mark.parametrize("variant", ["mou", "mou_meterai"])
def test_mou_signature_fields_and_meterai_do_not_collide(
    variant: str, request: pytest.FixtureRequest
) -> None:
    created: Created = request.getfixturevalue(variant)
    fields = dict(created.fields)
    # The e-Meterai box is a signature field from prepare time (its provider signs into it).
    meterai_field = fields.pop("emeterai", None)
    assert sorted(fields) == ["ttd_pihak_kedua", "ttd_pihak_pertama"]
    (page_1, first), (page_2, second) = fields["ttd_pihak_pertama"], fields["ttd_pihak_kedua"]
    assert page_1 == page_2 and first[2] <= second[0]  # side by side, PIHAK PERTAMA left
    assert abs(first[3] - second[3]) < 1  # on one line
    boxes = dict(fields)
    meterai = meterai_box(created)
    assert (meterai is None) == (meterai_field is None)
    if meterai is not None and meterai_field is not None:
        assert meterai_field[0] == meterai[0]
        assert all(abs(a - b) < 1 for a, b in zip(meterai_field[1], meterai[1], strict=True))
        boxes["emeterai"] = meterai
        # left of PIHAK KEDUA's signature, on the same line
        assert meterai[0] == page_2 and meterai[1][2] <= second[0]
        assert abs(meterai[1][3] - second[3]) < 1
    check_layout(created, boxes)


# --- berita acara pelantikan -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ba_signers(signers: dict[str, SignerAccount]) -> dict[str, str]:
    return {"pejabat_pelantik": signers["pejabat_pelantik"].signer_id}


@pytest.fixture(scope="module")
def ba_1(client: httpx.Client, workdir: Path, ba_signers: dict[str, str]) -> Created:
    return create(client, workdir, "berita-acara-pelantikan", ba_data(1), ba_signers)


@pytest.fixture(scope="module")
def ba_40(client: httpx.Client, workdir: Path, ba_signers: dict[str, str]) -> Created:
    data = ba_data(40, agama="Kristen Protestan", rohaniwan="Pdt. Yohanes Sutanto, S.Th.")
    return create(client, workdir, "berita-acara-pelantikan", data, ba_signers)


@pytest.fixture(scope="module")
def ba_43(client: httpx.Client, workdir: Path, ba_signers: dict[str, str]) -> Created:
    """43 people: without keeping rows together the official's block would stand alone."""
    return create(client, workdir, "berita-acara-pelantikan", ba_data(43), ba_signers)


@pytest.fixture(scope="module")
def ba_kasek(client: httpx.Client, workdir: Path, ba_signers: dict[str, str]) -> Created:
    data = {**BA, "peserta": kepala_sekretariat(40)}
    return create(client, workdir, "berita-acara-pelantikan", data, ba_signers)


@pytest.fixture(scope="module")
def ba_200(client: httpx.Client, workdir: Path, ba_signers: dict[str, str]) -> Created:
    data = ba_data(200, agama="Katolik", sumpah_janji="janji")
    return create(client, workdir, "berita-acara-pelantikan", data, ba_signers)


OATH_CLAUSES = (
    "bahwa saya, akan setia dan taat kepada Undang-Undang Dasar Negara Republik Indonesia Tahun "
    "1945 serta akan menjalankan segala peraturan perundang-undangan dengan selurus-lurusnya, demi "
    "dharma bakti saya kepada bangsa dan negara; bahwa saya, dalam menjalankan tugas jabatan, akan "
    "menjunjung etika jabatan, bekerja dengan sebaik-baiknya, dan dengan penuh rasa tanggung "
    "jawab; bahwa saya, akan menjaga integritas, tidak menyalahgunakan kewenangan, serta "
    "menghindarkan diri dari perbuatan tercela."
)


def annex_start(created: Created) -> int:
    """Index of the first annex page (the page count when there is no annex)."""
    return next(
        (i for i, page in enumerate(created.pages) if "LAMPIRAN" in page), len(created.pages)
    )


def annex_pages(created: Created) -> list[str]:
    return [page for page in created.pages[annex_start(created) :] if page.strip()]


def test_one_person_stays_in_the_body(ba_1: Created, people: People) -> None:
    document, text = ba_1.document, ba_1.text
    assert document["pending_roles"] == ["saksi_1", "saksi_2", "pejabat_pelantik"]
    # The unit part is the unit's code: the manifest names no unit of any deployment.
    unit = re.escape(people.unit_code())
    assert re.fullmatch(rf"800\.1/\d+/{unit}/VI/2024", document["number"])
    assert (
        f"BERITA ACARA PELANTIKAN DAN PENGAMBILAN SUMPAH JABATAN Nomor: {document['number']}"
        in text
    )
    assert (
        "Pada hari Kamis tanggal dua puluh tujuh bulan Juni tahun dua ribu dua puluh empat, yang "
        "bertanda tangan di bawah ini:"
    ) in text
    assert (
        "berdasarkan Keputusan Bupati Sidoarjo Nomor 800.1.3.3/123/438.1.1.3/2024 tanggal "
        "20 Juni 2024 tentang Pengangkatan dalam Jabatan Administrator dan Jabatan Pengawas"
    ) in text
    assert "sebanyak 1 (satu) orang, yaitu:" in text
    (person,) = peserta(1)
    row = re.search(r"No Nama NIP Pangkat/Gol\. Jabatan 1\. (.+?) (\d{8} \d{6} \d \d{3})", text)
    assert row and row.groups() == (person["nama"], grouped(person["nip"])), text
    assert "Penata Muda (III/a)" in text
    assert "LAMPIRAN" not in text and "Lampiran" not in text
    assert f"Demi Allah, saya bersumpah: {OATH_CLAUSES}" in text
    assert "Kiranya Tuhan" not in text
    # signature blocks: the official without NIP (a regional head), witnesses with theirs
    assert "Pejabat yang melantik, Bupati Sidoarjo," in text
    assert "Dr. H. AHMAD MUHDLOR, S.IP., M.Si." in text
    assert "Drs. BUDI SANTOSO, M.Si." in text and "Ir. SRI RAHAYU, M.T." in text
    assert sorted(re.findall(r"NIP\. [\d ]+\d", text)) == [
        "NIP. 19750101 200003 2 002",
        "NIP. 19860926 201505 1 001",
    ]


def test_forty_people_go_to_an_annex(ba_40: Created) -> None:
    text = ba_40.text
    assert (
        "sebanyak 40 (empat puluh) orang, yang nama, NIP, pangkat/golongan, dan jabatannya" in text
    )
    assert "tercantum dalam Lampiran Berita Acara ini" in text
    annex = annex_pages(ba_40)
    assert len(annex) >= 1
    body = "\f".join(ba_40.pages[: annex_start(ba_40)])
    assert "Pangkat/Gol." not in body and "Ahmad Fauzi 001" not in body
    # The header row repeats on every annex page; no row is split between pages.
    for page in annex:
        assert re.search(r"No\s+Nama\s+NIP\s+Pangkat/Gol\.\s+Jabatan", page), page[:300]
    for i, person in enumerate(peserta(40), start=1):
        holding = [page for page in annex if grouped(person["nip"]) in page]
        assert len(holding) == 1, person
        assert re.search(rf"\b{i}\.\s+{person['nama']}\s+{grouped(person['nip'])}", holding[0])
        assert text.count(person["nama"]) == 1
    # Christian oath: "Demi Tuhan" and the closing sentence; accompanied by the clergyman.
    assert "didampingi rohaniwan Pdt. Yohanes Sutanto, S.Th. sebagai berikut:" in text
    assert f"Demi Tuhan, saya bersumpah: {OATH_CLAUSES} Kiranya Tuhan akan menolong saya." in text
    assert "Demi Allah" not in text


def test_two_hundred_people_stay_readable(ba_200: Created) -> None:
    text = ba_200.text
    assert "sebanyak 200 (dua ratus) orang" in text
    assert "PELANTIKAN DAN PENGAMBILAN JANJI JABATAN" in text
    assert (
        "Demi Tuhan Yang Maha Esa, saya menyatakan dan berjanji dengan sungguh-sungguh: "
        f"{OATH_CLAUSES} Kiranya Tuhan akan menolong saya."
    ) in text
    annex = annex_pages(ba_200)
    for page in annex:
        assert re.search(r"No\s+Nama\s+NIP\s+Pangkat/Gol\.\s+Jabatan", page), page[:300]
    annex_text = "\n".join(annex)
    for i, person in enumerate(peserta(200), start=1):
        # each row on one line of the layout: number, name, grouped NIP, pangkat
        assert re.search(
            rf"^\s*{i}\.\s+{person['nama']}\s+{grouped(person['nip'])}\s+\S", annex_text, re.M
        ), person
    assert len(ba_200.pages) <= 16  # about 22 rows per F4 page


def top_line(page: Page) -> tuple[str, float]:
    """The topmost line of a page (its words left to right) and its centre across the page."""
    top = max(rect[3] for _, rect in page.words)
    line = sorted((rect[0], text, rect) for text, rect in page.words if rect[3] > top - 2)
    centre = (line[0][2][0] + line[-1][2][2]) / 2
    return " ".join(text for _, text, _ in line), centre


@pytest.mark.parametrize("variant", ["mou", "ba_43", "ba_200"])
def test_pages_are_numbered_from_the_second_at_the_top_centre(
    variant: str, request: pytest.FixtureRequest
) -> None:
    """Tata naskah dinas: "- 2 -" centred at the top of every page but the first."""
    created: Created = request.getfixturevalue(variant)
    assert len(created.geometry) >= 3
    first, _ = top_line(created.geometry[0])
    assert not re.fullmatch(r"- \d+ -", first), first
    for number, page in enumerate(created.geometry[1:], start=2):
        line, centre = top_line(page)
        assert line == f"- {number} -"
        assert abs(centre - page.width / 2) < 12, (number, centre)


def annex_rows(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"^\s*(\d+)\.\s+\S", page, re.M)]


@pytest.mark.parametrize("variant", ["ba_40", "ba_43", "ba_200", "ba_kasek"])
def test_the_annex_ends_with_the_officials_block_and_no_lone_row(
    variant: str, request: pytest.FixtureRequest
) -> None:
    created: Created = request.getfixturevalue(variant)
    last = annex_pages(created)[-1]
    rows = annex_rows(last)
    assert len(rows) >= 2, rows  # never one row alone on the last page
    people = len(created.document["data"]["peserta"])
    assert rows[-1] == people
    block = flat(last[last.index(f"{people}.") :])
    assert re.search(
        r"Pejabat yang melantik, Bupati Sidoarjo, ditandatangani secara elektronik "
        r"Dr\. H\. AHMAD MUHDLOR, S\.IP\., M\.Si\.",
        block,
    ), block


def test_typical_rows_keep_to_two_lines(ba_kasek: Created) -> None:
    """40 heads of secretariat with degrees and long jabatan: no row over two lines."""
    start = annex_start(ba_kasek)
    assert start < len(ba_kasek.geometry)
    for page in ba_kasek.geometry[start:]:
        numbers = sorted(
            (rect[3], text) for text, rect in page.words if re.fullmatch(r"\d+\.", text)
        )
        tops = [top for top, _ in numbers]
        for upper, lower in zip(tops[1:], tops, strict=False):
            # the lines of the row that starts at ``upper`` and ends above ``lower``: word tops
            # within a point or two of each other (cells in other fonts) are one line
            within = sorted(rect[3] for _, rect in page.words if lower + 1 < rect[3] <= upper + 1)
            lines = 1 + sum(1 for a, b in zip(within, within[1:], strict=False) if b - a > 4)
            assert lines <= 2, (upper, within)


@pytest.mark.parametrize("variant", ["ba_1", "ba_40", "ba_200"])
def test_ba_signature_fields_are_distinct_and_clear(
    variant: str, request: pytest.FixtureRequest
) -> None:
    created: Created = request.getfixturevalue(variant)
    fields = created.fields
    assert sorted(fields) == ["ttd_pejabat_pelantik", "ttd_saksi_1", "ttd_saksi_2"]
    (_, saksi_1), (_, saksi_2) = fields["ttd_saksi_1"], fields["ttd_saksi_2"]
    assert saksi_1[2] <= saksi_2[0] and abs(saksi_1[3] - saksi_2[3]) < 1  # side by side
    check_layout(created, fields)
    assert max(page for page, _ in fields.values()) < annex_start(created)  # before any annex


@pytest.mark.parametrize(("count", "annex"), [(10, False), (11, True)])
def test_people_table_moves_to_the_annex_above_ten(count: int, annex: bool) -> None:
    template = load_template(TEMPLATES / "berita-acara-pelantikan")
    rendered = docx.Document(
        io.BytesIO(render_docx(template, ba_data(count), nomor="800.1/1/BKPSDM/VI/2024"))
    )
    tables = [t for t in rendered.tables if len(t.columns) == 5]
    (table,) = tables
    assert [c.text for c in table.rows[0].cells] == ["No", "Nama", "NIP", "Pangkat/Gol.", "Jabatan"]
    rows = table._tbl.tr_lst
    assert len(rows) == count + 1
    assert rows[0].trPr.find(qn("w:tblHeader")) is not None  # repeated on every page
    assert all(r.trPr.find(qn("w:cantSplit")) is not None for r in rows)  # rows stay whole
    paragraphs = [p.text for p in rendered.paragraphs]
    assert ("LAMPIRAN" in paragraphs) is annex
    # inline right after the kop and the official's identity table, or last, after the
    # signature blocks
    position = [t._tbl for t in rendered.tables].index(table._tbl)
    assert position == (len(rendered.tables) - 1 if annex else 2)


def test_witnesses_sign_in_either_order_then_the_official(
    client: httpx.Client, ba_1: Created, signers: dict[str, SignerAccount]
) -> None:
    document = ba_1.document
    official = signers["pejabat_pelantik"]
    early = official.sign(document["id"], "pejabat_pelantik")  # the witnesses come first
    assert early.status_code == 409, early.text
    for role in ("saksi_2", "saksi_1"):  # saksi_2 before saksi_1: one group, any order
        signed = signers[role].sign(document["id"], role)
        assert signed.status_code == 200, signed.text
    signed = official.sign(document["id"], "pejabat_pelantik")
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "sah"
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    root = x509.load_pem_x509_certificate(client.get("/api/v1/trust/ca.pem").content)
    report = validate_pdf(pdf, [root])
    assert report.valid and len(report.signatures) == 3 and report.level == "B-LTA"
    # the signatures went into the fields the template placed; the only new field is the
    # invisible one of the document time stamp (B-LTA)
    fields = signature_fields(pdf)
    timestamp_fields = set(fields) - set(ba_1.fields)
    assert len(timestamp_fields) == 1 and fields[timestamp_fields.pop()][1] == (0, 0, 0, 0)
    assert {name: fields[name] for name in ba_1.fields} == ba_1.fields


# --- bad data ----------------------------------------------------------------------------------


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "DataInvalid"
    return {p["field"]: p["message"] for p in body["problems"]}


def test_bad_berita_acara_data_is_422_per_field(client: httpx.Client) -> None:
    people = peserta(5)
    people[2]["nip"] = "198609262015131001"  # TMT month 13
    people[4]["pangkat"] = "III/e"
    data = ba_data(1, agama="Jedi", peserta=people, sumpah_janji="ikrar")
    del data["nip_saksi_2"]
    found = problems(
        client.post("/api/v1/documents", json={"template": "berita-acara-pelantikan", "data": data})
    )
    assert set(found) == {
        "agama",
        "sumpah_janji",
        "peserta[3].nip",
        "peserta[5].pangkat",
        "nip_saksi_2",
    }
    assert "Islam" in found["agama"]

    too_many = ba_data(201)
    found = problems(
        client.post(
            "/api/v1/documents", json={"template": "berita-acara-pelantikan", "data": too_many}
        )
    )
    assert set(found) == {"peserta"}


def test_bad_mou_data_is_422_per_field(client: httpx.Client) -> None:
    data = mou_data(emeterai="mungkin", nip_pihak_kedua="1986", ruang_lingkup=[])
    found = problems(
        client.post("/api/v1/documents", json={"template": "nota-kesepahaman", "data": data})
    )
    assert set(found) == {"emeterai", "nip_pihak_kedua", "ruang_lingkup"}
