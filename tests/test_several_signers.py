"""An MoU signed by two parties in order, through the running service: the order is enforced,
the first signature certifies, the last adds long-term validation data (B-LTA), both signatures
validate in pyHanko and in pdfsig, and a change after the first signature is reported."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography import x509

from signing.validate.validation import validate_pdf
from tests.conftest import PIN, Service, signer_body
from tests.pdftools import change_page_text, pdfsig
from tests.test_templates_content import mou_data

NIP_CAMAT = "197106121998031005"  # used by no other test module


def upload(client: httpx.Client, pdf: bytes) -> dict:
    response = client.post("/api/v1/verify", files={"file": ("mou.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    return dict(response.json())


def sign(client: httpx.Client, document_id: str, role: str, signer_id: str) -> httpx.Response:
    return client.post(
        f"/api/v1/documents/{document_id}/signatures",
        json={"role": role, "signer_id": signer_id, "pin": PIN},
    )


@pytest.fixture(scope="module")
def mou(service: Service) -> dict:
    """An MoU taken through its whole life, with what each step answered."""
    with service.client() as client:
        camat = client.post(
            "/api/v1/signers",
            json=signer_body(name="Drs. Budi Santoso, M.Si.", nip=NIP_CAMAT, jabatan="Camat Candi"),
        ).json()
        ketua = client.post(
            "/api/v1/signers",
            json=signer_body(
                name="Siti Aminah, S.H., M.H.", nip=None, pangkat=None, jabatan="Ketua Panwaslu"
            ),
        ).json()
        created = client.post(
            "/api/v1/documents",
            json={
                "template": "nota-kesepahaman",
                "data": mou_data(nip_pihak_pertama=NIP_CAMAT),
                "signers": {"pihak_kedua": ketua["id"]},
            },
        )
        assert created.status_code == 201, created.text
        document = created.json()
        steps: dict = {"camat": camat, "ketua": ketua, "created": document}
        steps["out_of_order"] = sign(client, document["id"], "pihak_kedua", ketua["id"])
        steps["pending_ketua"] = client.get(f"/api/v1/signers/{ketua['id']}/pending").json()
        steps["pending_camat"] = client.get(f"/api/v1/signers/{camat['id']}/pending").json()
        steps["first"] = sign(client, document["id"], "pihak_pertama", camat["id"])
        steps["first_pdf"] = client.get(f"/api/v1/documents/{document['id']}/pdf").content
        steps["pending_ketua_after"] = client.get(f"/api/v1/signers/{ketua['id']}/pending").json()
        steps["second"] = sign(client, document["id"], "pihak_kedua", ketua["id"])
        steps["final_pdf"] = client.get(f"/api/v1/documents/{document['id']}/pdf").content
        steps["root_pem"] = client.get("/api/v1/trust/ca.pem").content
        steps["crl"] = client.get("/api/v1/trust/crl").content
        return steps


def test_signing_out_of_order_is_refused_naming_who_is_first(mou: dict) -> None:
    refused = mou["out_of_order"]
    assert refused.status_code == 409
    assert "PIHAK PERTAMA" in refused.json()["detail"]
    waiting = next(p for p in mou["pending_ketua"] if p["document_id"] == mou["created"]["id"])
    assert waiting["ready"] is False and waiting["waiting_for"] == ["pihak_pertama"]
    ready = next(p for p in mou["pending_camat"] if p["document_id"] == mou["created"]["id"])
    assert ready["ready"] is True and ready["role"] == "pihak_pertama"
    after = next(p for p in mou["pending_ketua_after"] if p["document_id"] == mou["created"]["id"])
    assert after["ready"] is True


def test_first_signature_certifies_and_the_last_makes_it_b_lta(mou: dict) -> None:
    assert mou["first"].status_code == 200, mou["first"].text
    assert mou["first"].json()["status"] == "menunggu_tanda_tangan"
    assert mou["second"].status_code == 200, mou["second"].text
    final = mou["second"].json()
    assert final["status"] == "sah" and final["pending_roles"] == []
    kinds = [r["kind"] for r in final["revisions"]]
    assert kinds == ["source", "prepared", "signed", "signed", "lta"]

    root = x509.load_pem_x509_certificate(mou["root_pem"])
    crl = x509.load_der_x509_crl(mou["crl"])
    after_first = validate_pdf(mou["first_pdf"], [root], [crl])
    (first,) = after_first.signatures
    assert first.valid and first.certified and first.level == "B-T"

    report = validate_pdf(mou["final_pdf"], [root], [crl])
    assert report.valid and report.level == "B-LTA" and report.document_timestamp is not None
    by_field = {s.field: s for s in report.signatures}
    assert set(by_field) == {"ttd_pihak_pertama", "ttd_pihak_kedua"}
    assert by_field["ttd_pihak_pertama"].certified is True
    assert by_field["ttd_pihak_kedua"].certified is False
    assert by_field["ttd_pihak_pertama"].signer == "Drs. Budi Santoso, M.Si."
    assert by_field["ttd_pihak_kedua"].signer == "Siti Aminah, S.H., M.H."
    assert all(not s.modified_after and s.level == "B-LTA" for s in report.signatures)


def test_both_signatures_are_valid_for_pdfsig(mou: dict, tmp_path: Path) -> None:
    path = tmp_path / "mou.pdf"
    path.write_bytes(mou["final_pdf"])
    report = pdfsig(path, mou["root_pem"], tmp_path)
    assert report.count("Signature Validation: Signature is Valid.") == 2, report
    assert report.count("Certificate Validation: Certificate is Trusted.") == 2, report
    assert "ttd_pihak_pertama" in report and "ttd_pihak_kedua" in report


def test_public_views_show_both_signers_and_the_level(client: httpx.Client, mou: dict) -> None:
    code = mou["created"]["verify_code"]
    public = client.get(f"/api/v1/verify/{code}").json()
    assert public["status"] == "sah" and public["level"] == "B-LTA"
    assert [s["name"] for s in public["signatures"]] == [
        "Drs. Budi Santoso, M.Si.",
        "Siti Aminah, S.H., M.H.",
    ]
    checked = upload(client, mou["final_pdf"])
    assert checked["valid"] is True and checked["issued_here"] is True
    assert checked["level"] == "B-LTA" and checked["is_latest"] is True
    page = client.get(f"/v/{code}").text
    assert "PAdES B-LTA" in page and "Siti Aminah" in page


def test_a_change_after_the_first_signature_is_reported(client: httpx.Client, mou: dict) -> None:
    changed = upload(client, change_page_text(mou["first_pdf"]))
    assert changed["valid"] is False and changed["issued_here"] is False
    (first,) = changed["signatures"]
    assert first["intact"] is True and first["modified_after"] is True
    # The same forgery on the finished, B-LTA document.
    forged = upload(client, change_page_text(mou["final_pdf"]))
    assert forged["valid"] is False
    assert all(s["modified_after"] for s in forged["signatures"])
