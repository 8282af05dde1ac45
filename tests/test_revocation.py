"""Revoking a signer's certificate: only an admin may, the CRL lists it, earlier signatures stay
valid (their time stamps predate the revocation) and say so, new signatures are refused."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.conftest import People, create_pakta, pakta_data, sign_pakta
from tests.pdftools import pdfsig

NIP = "196803151994031004"  # used by no other test module
LATER_NIP = "197104121996032002"  # revoked after its document was checked; nowhere else


def create(client: httpx.Client) -> dict:
    return create_pakta(client, NIP)


@pytest.fixture(scope="module")
def revoked(people: People) -> dict:
    """A signer who signed one document and was then revoked; a second document waits."""
    operator = people.operator.client
    signer = people.signer(NIP)
    signed = create(operator)
    assert sign_pakta(signer, signed["id"]).status_code == 200
    waiting = create(operator)
    # Neither the unit's operator nor the signer themselves revokes a certificate.
    reason = {"reason": "Pensiun"}
    assert (
        operator.post(f"/api/v1/signers/{signer.signer_id}/revoke", json=reason).status_code == 403
    )
    assert (
        signer.client.post(f"/api/v1/signers/{signer.signer_id}/revoke", json=reason).status_code
        == 403
    )
    response = people.revoke_signer(signer.signer_id, "Pensiun")
    assert response.status_code == 200, response.text
    return {"signer": signer, "revoked": response.json(), "signed": signed, "waiting": waiting}


def test_the_crl_lists_the_revoked_certificate(anonymous: httpx.Client, revoked: dict) -> None:
    certificate = x509.load_pem_x509_certificate(revoked["revoked"]["certificate_pem"].encode())
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = points[0].full_name[0].value
    assert url.endswith("/api/v1/trust/crl")

    response = anonymous.get("/api/v1/trust/crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    root = x509.load_pem_x509_certificate(anonymous.get("/api/v1/trust/ca.pem").content)
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    assert entry is not None
    assert revoked["revoked"]["status"] == "dicabut"
    assert revoked["revoked"]["revoked_at"] and revoked["revoked"]["revoke_reason"] == "Pensiun"


def test_earlier_signatures_stay_valid_and_say_so(
    client: httpx.Client, anonymous: httpx.Client, revoked: dict, tmp_path: Path
) -> None:
    public = anonymous.get(f"/api/v1/verify/{revoked['signed']['verify_code']}").json()
    assert public["status"] == "sah"
    signature = public["signatures"][0]
    assert signature["certificate_revoked_at"] == revoked["revoked"]["revoked_at"]
    assert signature["valid"] is True
    assert "tetap sah" in signature["note"] and "cap waktu" in signature["note"]
    page = anonymous.get(f"/v/{revoked['signed']['verify_code']}").text
    assert "tetap sah" in page

    pdf = client.get(f"/api/v1/documents/{revoked['signed']['id']}/pdf").content
    report = anonymous.post(
        "/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")}
    ).json()
    assert report["valid"] is True and report["issued_here"] is True, json.dumps(
        report["signatures"]
    )
    assert report["level"] == "B-LTA"
    (checked,) = report["signatures"]
    assert checked["revoked_at"] is not None and "dicabut" in checked["reason"]
    assert checked["trusted"] is True
    root_pem = anonymous.get("/api/v1/trust/ca.pem").content
    (tmp_path / "pakta.pdf").write_bytes(pdf)
    assert "Signature is Valid" in pdfsig(tmp_path / "pakta.pdf", root_pem, tmp_path)


def test_new_signatures_with_a_revoked_certificate_are_refused(
    people: People, client: httpx.Client, revoked: dict
) -> None:
    old = revoked["signer"]
    refused = sign_pakta(old, revoked["waiting"]["id"])
    assert refused.status_code == 403 and refused.json()["error"] == "CertificateRevoked"
    assert (
        client.get(f"/api/v1/documents/{revoked['waiting']['id']}").json()["revisions"][-1]["kind"]
        == "prepared"
    )
    again = people.admin.client.post(
        f"/api/v1/signers/{old.signer_id}/revoke", json={"reason": "Pensiun"}
    )
    assert again.status_code == 409
    # A revoked signer is bound to no new document, neither by choice nor by the NIP.
    assigned = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP),
            "signers": {"pembuat_pernyataan": old.signer_id},
        },
    )
    assert assigned.status_code == 422
    assert "dicabut" in assigned.json()["problems"][0]["message"]
    by_nip = client.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data(nip=NIP)}
    )
    assert by_nip.status_code == 422
    assert by_nip.json()["problems"][0]["field"] == "signers.pembuat_pernyataan"

    # The same person enrolled again (the number is free once revoked) gets a new certificate
    # and signs what is made for the NIP from now on; the waiting document stays bound to the
    # revoked enrolment, which nobody else may sign in its place.
    renewed = people.signer(NIP)
    assert renewed.signer_id != old.signer_id
    assert sign_pakta(renewed, revoked["waiting"]["id"]).status_code == 404
    fresh = create(client)
    (slot,) = client.get(f"/api/v1/documents/{fresh['id']}").json()["signers"]
    assert slot["assigned_signer_id"] == renewed.signer_id
    signed = sign_pakta(renewed, fresh["id"])
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "sah"
    assert (
        people.admin.client.post(
            "/api/v1/signers/" + "0" * 32 + "/revoke", json={"reason": "x y z"}
        ).status_code
        == 404
    )


def upload_check(anonymous: httpx.Client, pdf: bytes) -> dict:
    response = anonymous.post(
        "/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_revocation_counts_at_the_next_upload_check(
    people: People, client: httpx.Client, anonymous: httpx.Client
) -> None:
    # The warm validation processes keep nothing of a CRL they read (nor any cache of theirs a
    # verdict): revoked after a first check, the signer shows revoked at the next one.
    signer = people.signer(LATER_NIP)
    document = create_pakta(people.operator.client, LATER_NIP)
    assert sign_pakta(signer, document["id"]).status_code == 200
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    for _ in range(4):  # every warm process (two by default) checks it at least once
        report = upload_check(anonymous, pdf)
        (before,) = report["signatures"]
        assert report["verdict"] == "asli", report
        assert before["revoked_at"] is None and before["reason"] == "Tanda tangan sah", before

    assert people.revoke_signer(signer.signer_id, "Mutasi").status_code == 200
    for _ in range(4):
        (after,) = upload_check(anonymous, pdf)["signatures"]
        # signed before the revocation (its time stamp proves it): valid, and it says so
        assert after["revoked_at"] is not None, after
        assert "dicabut" in after["reason"], after
