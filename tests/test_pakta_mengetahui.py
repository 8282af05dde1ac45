"""A pakta integritas with "Mengetahui" (issue 20): the superior acknowledges the pledge and
signs after the ASN who made it, in a column of its own beside the pledger's; a pakta whose data
names no superior has one signer, as before. Read from the PDF and checked by pyHanko and pdfsig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from signing.validate.validation import validate_pdf
from tests.conftest import People, pakta_data
from tests.pdftools import page_blocks, pdfsig
from tests.test_templates_content import nip_of

PAKTA = "pakta-integritas"
ATASAN = "Dr. H. Ahmad Syaifuddin, M.Si."
JABATAN_ATASAN = "Kepala Dinas Pendidikan"


@pytest.fixture(scope="module")
def pledge(people: People) -> dict[str, Any]:
    """A pakta acknowledged by the superior, taken through both signatures."""
    asn = people.signer(nip_of(975), name="Moh. Rizal Hakim, S.Pd.")
    atasan = people.signer(nip_of(976), name=ATASAN, jabatan=JABATAN_ATASAN)
    operator = people.operator.client
    data = pakta_data(
        nip=nip_of(975),
        nama="Moh. Rizal Hakim, S.Pd.",
        nama_atasan=ATASAN,
        nip_atasan=nip_of(976),
        jabatan_atasan=JABATAN_ATASAN,
    )
    created = operator.post("/api/v1/documents", json={"template": PAKTA, "data": data})
    assert created.status_code == 201, created.text
    document = created.json()
    steps: dict[str, Any] = {"created": document, "asn": asn, "atasan": atasan}
    steps["atasan_first"] = atasan.sign(document["id"], "atasan")
    steps["first"] = asn.sign(document["id"])
    steps["second"] = atasan.sign(document["id"], "atasan")
    steps["pdf"] = operator.get(f"/api/v1/documents/{document['id']}/pdf").content
    with people.anonymous() as public:
        steps["root_pem"] = public.get("/api/v1/trust/ca.pem").content
        steps["crl"] = public.get("/api/v1/trust/crl").content
    return steps


def test_the_superior_signs_after_the_pledger(pledge: dict[str, Any]) -> None:
    roles = [(s["role"], s["label"]) for s in pledge["created"]["signers"]]
    assert roles == [
        ("pembuat_pernyataan", "Yang membuat pernyataan"),
        ("atasan", "Mengetahui (atasan langsung)"),
    ]
    early = pledge["atasan_first"]
    assert early.status_code == 409, early.text
    assert "Yang membuat pernyataan" in early.json()["detail"]
    assert pledge["first"].status_code == 200, pledge["first"].text
    assert pledge["second"].status_code == 200, pledge["second"].text
    assert pledge["second"].json()["status"] == "sah"


def test_both_signatures_hold(pledge: dict[str, Any], tmp_path: Path) -> None:
    root = x509.load_pem_x509_certificate(pledge["root_pem"])
    report = validate_pdf(pledge["pdf"], [root], [x509.load_der_x509_crl(pledge["crl"])])
    assert report.valid and report.level == "B-LTA"
    assert {s.field for s in report.signatures} == {"ttd_pembuat_pernyataan", "ttd_atasan"}
    path = tmp_path / "pakta.pdf"
    path.write_bytes(pledge["pdf"])
    checked = pdfsig(path, pledge["root_pem"], tmp_path)
    assert checked.count("Signature is Valid.") == 2, checked


def test_mengetahui_stands_left_of_the_pledger(pledge: dict[str, Any], tmp_path: Path) -> None:
    blocks = page_blocks(pledge["pdf"], 1, tmp_path)

    def find(text: str) -> Any:
        return next(b for b in blocks if b.text == text)

    mengetahui, jabatan = find("Mengetahui,"), find(f"{JABATAN_ATASAN},")
    place, pledger = find("Sidoarjo, 27 Juni 2024"), find("Yang membuat pernyataan,")
    atasan, asn = find("Dr. H. AHMAD SYAIFUDDIN, M.Si."), find("MOH. RIZAL HAKIM, S.Pd.")
    # Two columns, line for line: the superior's at the left, the pledger's at the right.
    for left, right in ((mengetahui, place), (jabatan, pledger), (atasan, asn)):
        assert left.right < right.left and abs(left.top - right.top) < 3, (left, right)
    assert mengetahui.top < jabatan.top < atasan.top


def test_without_a_superior_the_pakta_has_one_signer(people: People, tmp_path: Path) -> None:
    people.signer(nip_of(977), name="Siti Aminah, S.Pd.")
    data = pakta_data(nip=nip_of(977), nama="Siti Aminah, S.Pd.")
    created = people.operator.client.post(
        "/api/v1/documents", json={"template": PAKTA, "data": data}
    )
    assert created.status_code == 201, created.text
    assert [s["role"] for s in created.json()["signers"]] == ["pembuat_pernyataan"]
    pdf = people.operator.client.get(f"/api/v1/documents/{created.json()['id']}/pdf").content
    assert not any(b.text == "Mengetahui," for b in page_blocks(pdf, 1, tmp_path))


def test_a_superior_without_a_nip_is_chosen_when_the_pakta_is_made(
    people: People,
) -> None:
    """The superior is bound by NIP; without one the operator chooses the signer, as for any
    role, else the pakta is refused naming the role."""
    people.signer(nip_of(978), name="Budi Hartono, S.Kom.")
    data = pakta_data(nip=nip_of(978), nama="Budi Hartono, S.Kom.", nama_atasan="H. Sutrisno")
    refused = people.operator.client.post(
        "/api/v1/documents", json={"template": PAKTA, "data": data}
    )
    assert refused.status_code == 422, refused.text
    assert [p["field"] for p in refused.json()["problems"]] == ["signers.atasan"]


def test_a_superior_chosen_for_a_pakta_that_names_none_is_refused(
    people: People, pledge: dict[str, Any]
) -> None:
    people.signer(nip_of(979), name="Rina Wati, S.E.")
    refused = people.operator.client.post(
        "/api/v1/documents",
        json={
            "template": PAKTA,
            "data": pakta_data(nip=nip_of(979), nama="Rina Wati, S.E."),
            "signers": {"atasan": pledge["atasan"].signer_id},
        },
    )
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["problems"]
    assert problem["field"] == "signers.atasan" and "nama_atasan" in problem["message"]
