"""An MoU signed by two parties in order, through the running service: each role is bound to
its signer when the MoU is made, each party signs only their own role, the order is enforced,
the first signature certifies, the last adds long-term validation data (B-LTA), both signatures
validate in pyHanko and in pdfsig, and a change after the first signature is reported."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography import x509

from signing.validate.validation import validate_pdf
from tests.conftest import People, SignerAccount
from tests.pdftools import change_page_text, pdfsig
from tests.people import SHARED_UNIT
from tests.test_templates_content import mou_data

NIP_CAMAT = "197106121998031005"  # used by no other test module
NIK_KETUA = "3515056203790004"  # a woman born 22 March 1979; the Ketua Panwaslu has no NIP


def upload(client: httpx.Client, pdf: bytes) -> dict:
    response = client.post("/api/v1/verify", files={"file": ("mou.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    return dict(response.json())


def pending(signer: SignerAccount) -> list[dict]:
    response = signer.client.get(f"/api/v1/signers/{signer.signer_id}/pending")
    assert response.status_code == 200, response.text
    return list(response.json())


def mou_parties(people: People) -> tuple[SignerAccount, SignerAccount]:
    """The MoU's parties: the Camat (by NIP) and the Ketua Panwaslu (by NIK, without a NIP)."""
    camat = people.signer(NIP_CAMAT, name="Drs. Budi Santoso, M.Si.", jabatan="Camat Candi")
    ketua = people.signer(
        nik=NIK_KETUA, name="Siti Aminah, S.H., M.H.", pangkat=None, jabatan="Ketua Panwaslu"
    )
    return camat, ketua


def bound_mou(ketua: SignerAccount) -> dict:
    """The request making an MoU, its second party bound to the Ketua."""
    return {
        "template": "nota-kesepahaman",
        "data": mou_data(nip_pihak_pertama=NIP_CAMAT),
        "signers": {"pihak_kedua": ketua.signer_id},
    }


@pytest.fixture(scope="module")
def mou(people: People) -> dict:
    """An MoU taken through its whole life, with what each step answered."""
    camat, ketua = mou_parties(people)
    operator = people.operator.client
    # The Ketua has no NIP in the data: the operator binds the role to her when making it.
    unbound = operator.post(
        "/api/v1/documents",
        json={"template": "nota-kesepahaman", "data": mou_data(nip_pihak_pertama=NIP_CAMAT)},
    )
    created = operator.post("/api/v1/documents", json=bound_mou(ketua))
    assert created.status_code == 201, created.text
    document = created.json()
    doc_id = document["id"]
    steps: dict = {"camat": camat, "ketua": ketua, "unbound": unbound, "created": document}
    steps["out_of_order"] = ketua.sign(doc_id, "pihak_kedua")
    steps["ketua_as_first"] = ketua.sign(doc_id, "pihak_pertama")
    steps["pending_ketua"] = pending(ketua)
    steps["pending_camat"] = pending(camat)
    steps["first"] = camat.sign(doc_id, "pihak_pertama")
    steps["first_pdf"] = operator.get(f"/api/v1/documents/{doc_id}/pdf").content
    with people.anonymous() as public:
        steps["first_checked_waiting"] = upload(public, steps["first_pdf"])
        steps["first_page_waiting"] = public.post(
            "/v", files={"file": ("mou.pdf", steps["first_pdf"], "application/pdf")}
        ).text
    steps["pending_ketua_after"] = pending(ketua)
    steps["camat_as_second"] = camat.sign(doc_id, "pihak_kedua")
    steps["second"] = ketua.sign(doc_id, "pihak_kedua")
    steps["final_pdf"] = operator.get(f"/api/v1/documents/{doc_id}/pdf").content
    with people.anonymous() as public:
        steps["root_pem"] = public.get("/api/v1/trust/ca.pem").content
        steps["crl"] = public.get("/api/v1/trust/crl").content
    return steps


def test_a_role_without_a_nip_must_be_bound_by_the_operator(mou: dict) -> None:
    refused = mou["unbound"]
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["problems"]
    assert problem["field"] == "signers.pihak_kedua"
    bound = {s["role"]: s["assigned_signer_id"] for s in mou["created"]["signers"]}
    assert bound == {
        "pihak_pertama": mou["camat"].signer_id,  # by the NIP in the data
        "pihak_kedua": mou["ketua"].signer_id,  # chosen by the operator
    }


def test_each_signs_only_their_own_role(mou: dict) -> None:
    # Both have a role in the document, so both read it; neither signs the other's role.
    for refused in (mou["ketua_as_first"], mou["camat_as_second"]):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "SignerMismatch"
    assert mou["second"].status_code == 200


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


def test_public_views_show_both_signers_and_the_level(anonymous: httpx.Client, mou: dict) -> None:
    code = mou["created"]["verify_code"]
    public = anonymous.get(f"/api/v1/verify/{code}").json()
    assert public["status"] == "sah" and public["level"] == "B-LTA"
    assert [s["name"] for s in public["signatures"]] == [
        "Drs. Budi Santoso, M.Si.",
        "Siti Aminah, S.H., M.H.",
    ]
    assert public["issuer"]["unit"] == SHARED_UNIT
    checked = upload(anonymous, mou["final_pdf"])
    assert checked["valid"] is True and checked["issued_here"] is True
    assert checked["level"] == "B-LTA" and checked["is_latest"] is True
    assert (checked["verdict"], checked["verdict_label"]) == ("asli", "ASLI")
    page = anonymous.get(f"/v/{code}").text
    assert "Siti Aminah" in page and SHARED_UNIT in page
    # The jargon sits below the fold, after what a citizen reads.
    technical = page.index("<summary>Rincian teknis</summary>")
    assert page.index("PAdES B-LTA") > technical and page.index(public["sha256"]) > technical
    assert page.index("Siti Aminah") < technical


def test_a_copy_signed_by_one_party_of_two_is_never_green(
    anonymous: httpx.Client, mou: dict
) -> None:
    # While the second party had not signed: ours, intact, but not complete.
    waiting = mou["first_checked_waiting"]
    assert waiting["valid"] is True and waiting["is_latest"] is True
    assert (waiting["verdict"], waiting["verdict_label"]) == ("belum_lengkap", "BELUM LENGKAP")
    assert waiting["document"]["pending_roles"] == ["pihak_kedua"]
    page = mou["first_page_waiting"]
    assert '<div class="status belum_lengkap"><strong>BELUM LENGKAP</strong>' in page
    assert "ASLI" not in page
    # Once both signed, the same file is an earlier revision.
    later = upload(anonymous, mou["first_pdf"])
    assert (later["verdict"], later["is_latest"]) == ("bukan_versi_terakhir", False)


def test_a_change_after_the_first_signature_is_reported(anonymous: httpx.Client, mou: dict) -> None:
    changed = upload(anonymous, change_page_text(mou["first_pdf"]))
    assert changed["valid"] is False and changed["issued_here"] is False
    (first,) = changed["signatures"]
    assert first["intact"] is True and first["modified_after"] is True
    # The same forgery on the finished, B-LTA document.
    forged = upload(anonymous, change_page_text(mou["final_pdf"]))
    assert forged["valid"] is False
    assert all(s["modified_after"] for s in forged["signatures"])
