"""The MoU of issue 20 as an office makes it, read as a person reads the PDF: a Kecamatan of a
WITA regency with its own kop and emblem; two verifikator initial the draft in order; PIHAK
PERTAMA signs, the e-Meterai is affixed into its box, PIHAK KEDUA signs. Every signature holds
in pyHanko and pdfsig; page 1 carries the unit's kop, every later page its number; the
signatures' and the stamp's times are written in WITA."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from signing.validate.validation import validate_pdf
from tests.conftest import People
from tests.pdftools import page_blocks, pdfsig, words_with_annotations
from tests.test_errors import own_nip
from tests.test_kop import kop_of
from tests.test_paraf import paraf
from tests.test_templates_content import mou_data, own_nik, signature_fields
from tests.test_unit_profiles import png, put_emblem, put_profile

KOP = {
    "kop_lines": ["PEMERINTAH KABUPATEN KUTAI KARTANEGARA"],
    "name_lines": ["KECAMATAN TENGGARONG"],
    "address": "Jalan Kartini Nomor 1, Tenggarong 75511",
    "place": "Tenggarong",
    "timezone": "WITA",
}


@pytest.fixture(scope="module")
def mou(people: People) -> dict[str, Any]:
    """The MoU from its making to its last signature, with what each step answered."""
    unit_id = people.unit("Kecamatan Tenggarong")
    assert put_profile(people.admin.client, unit_id, KOP).status_code == 200
    assert put_emblem(people.admin.client, unit_id, png(90, 110)).status_code == 200
    operator = people.user("operator", [unit_id])
    kasi, sekcam = people.user("verifikator", [unit_id]), people.user("verifikator", [unit_id])
    camat = people.signer(own_nip(), name="Moch. Arifin, S.STP., M.Si.", jabatan="Camat")
    ketua = people.signer(nik=own_nik(), name="Hj. Siti Aminah, S.H.", jabatan="Ketua")
    data = mou_data(nip_pihak_pertama=camat.nip, emeterai=True, tempat="")
    created = operator.client.post(
        "/api/v1/documents",
        json={
            "template": "nota-kesepahaman",
            "data": data,
            "signers": {"pihak_kedua": ketua.signer_id},
            "paraf": [kasi.id, sekcam.id],
        },
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    steps: dict[str, Any] = {"created": created.json()}
    steps["sign_before_paraf"] = camat.sign(doc_id, "pihak_pertama")
    steps["second_first"] = paraf(sekcam, doc_id)
    steps["paraf"] = [paraf(kasi, doc_id), paraf(sekcam, doc_id)]
    steps["first"] = camat.sign(doc_id, "pihak_pertama")
    steps["after_first"] = operator.client.get(f"/api/v1/documents/{doc_id}").json()
    steps["second"] = ketua.sign(doc_id, "pihak_kedua")
    steps["final"] = operator.client.get(f"/api/v1/documents/{doc_id}").json()
    steps["pdf"] = operator.client.get(f"/api/v1/documents/{doc_id}/pdf").content
    with people.anonymous() as public:
        steps["root_pem"] = public.get("/api/v1/trust/ca.pem").content
        steps["crl"] = public.get("/api/v1/trust/crl").content
    return steps


def test_paraf_in_order_then_the_signatures_and_the_emeterai_between(
    mou: dict[str, Any],
) -> None:
    assert mou["created"]["status"] == "menunggu_paraf"
    assert mou["sign_before_paraf"].status_code == 409
    assert mou["second_first"].status_code == 409
    assert [r.status_code for r in mou["paraf"]] == [200, 200]
    assert mou["first"].status_code == 200, mou["first"].text
    assert mou["after_first"]["emeterai"]["affixed"] is True
    assert mou["second"].status_code == 200, mou["second"].text
    final = mou["final"]
    assert final["status"] == "sah"
    assert [p["state"] for p in final["paraf"]] == ["diparaf", "diparaf"]
    kinds = [r["kind"] for r in final["revisions"]]
    assert kinds == ["source", "prepared", "signed", "emeterai", "signed", "lta"]


def test_every_signature_holds(mou: dict[str, Any], tmp_path: Path) -> None:
    root = x509.load_pem_x509_certificate(mou["root_pem"])
    report = validate_pdf(mou["pdf"], [root], [x509.load_der_x509_crl(mou["crl"])])
    assert report.valid and report.level == "B-LTA"
    fields = {s.field for s in report.signatures}
    assert fields == {"ttd_pihak_pertama", "emeterai", "ttd_pihak_kedua"}
    path = tmp_path / "mou.pdf"
    path.write_bytes(mou["pdf"])
    assert pdfsig(path, mou["root_pem"], tmp_path).count("Signature is Valid.") == 3


def test_the_pages_read_as_the_units_mou(mou: dict[str, Any], tmp_path: Path) -> None:
    lines, images = kop_of(page_blocks(mou["pdf"], 1, tmp_path), "NOTA KESEPAHAMAN")
    assert [b.text for b in lines] == [
        "PEMERINTAH KABUPATEN KUTAI KARTANEGARA",
        "KECAMATAN TENGGARONG",
        "Jalan Kartini Nomor 1, Tenggarong 75511",
    ]
    assert len(images) == 1 and images[0].right < lines[0].left
    pages = words_with_annotations(mou["pdf"], tmp_path)
    assert len(pages) >= 3
    for number, words in enumerate(pages[1:], start=2):
        top = max(rect[3] for _, rect in words)
        line = [w for w, rect in sorted(words, key=lambda w: w[1][0]) if rect[3] > top - 2]
        assert line == ["-", str(number), "-"], line
    text = " ".join(" ".join(w for w, _ in words) for words in pages)
    assert "ditandatangani di Tenggarong" in text  # the unit's place
    # Both signature appearances and the e-Meterai's stamp write their time in WITA, none WIB.
    assert len(re.findall(r"\d{1,2}:\d{2} WITA", text)) == 3, text
    assert not re.search(r"\d{1,2}:\d{2} WIB\b", text)
    page, (x1, y1, x2, y2) = signature_fields(mou["pdf"])["emeterai"]
    inside = " ".join(
        word
        for word, (a, b, c, d) in pages[page]
        if a >= x1 - 0.5 and c <= x2 + 0.5 and b >= y1 - 0.5 and d <= y2 + 0.5
    )
    assert mou["final"]["emeterai"]["serial"] in inside
