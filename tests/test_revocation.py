"""Revoking a signer's certificate: the CRL lists it, earlier signatures stay valid (their time
stamps predate the revocation) and say so, new signatures are refused."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.conftest import Service, create_pakta, pakta_data, sign_pakta, signer_body
from tests.pdftools import pdfsig

NIP = "196803151994031004"  # used by no other test module


def create(client: httpx.Client) -> dict:
    return create_pakta(client, NIP)


@pytest.fixture(scope="module")
def revoked(service: Service) -> dict:
    """A signer who signed one document and was then revoked; a second document waits."""
    with service.client() as client:
        signer = client.post("/api/v1/signers", json=signer_body(nip=NIP)).json()
        signed = create(client)
        assert sign_pakta(client, signed["id"], signer["id"]).status_code == 200
        waiting = create(client)
        response = client.post(f"/api/v1/signers/{signer['id']}/revoke", json={"reason": "Pensiun"})
        assert response.status_code == 200, response.text
        return {"signer": signer, "revoked": response.json(), "signed": signed, "waiting": waiting}


def test_the_crl_lists_the_revoked_certificate(client: httpx.Client, revoked: dict) -> None:
    certificate = x509.load_pem_x509_certificate(revoked["signer"]["certificate_pem"].encode())
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = points[0].full_name[0].value
    assert url.endswith("/api/v1/trust/crl")

    response = client.get("/api/v1/trust/crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    root = x509.load_pem_x509_certificate(client.get("/api/v1/trust/ca.pem").content)
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    assert entry is not None
    assert revoked["revoked"]["revoked_at"] and revoked["revoked"]["revoke_reason"] == "Pensiun"


def test_earlier_signatures_stay_valid_and_say_so(
    client: httpx.Client, revoked: dict, tmp_path: Path
) -> None:
    public = client.get(f"/api/v1/verify/{revoked['signed']['verify_code']}").json()
    assert public["status"] == "sah"
    signature = public["signatures"][0]
    assert signature["certificate_revoked_at"] == revoked["revoked"]["revoked_at"]
    assert "tetap sah" in signature["note"] and "cap waktu" in signature["note"]
    page = client.get(f"/v/{revoked['signed']['verify_code']}").text
    assert "tetap sah" in page

    pdf = client.get(f"/api/v1/documents/{revoked['signed']['id']}/pdf").content
    report = client.post(
        "/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")}
    ).json()
    assert report["valid"] is True and report["issued_here"] is True, json.dumps(
        report["signatures"]
    )
    assert report["level"] == "B-LTA"
    (checked,) = report["signatures"]
    assert checked["revoked_at"] is not None and "dicabut" in checked["reason"]
    assert checked["trusted"] is True
    root_pem = client.get("/api/v1/trust/ca.pem").content
    (tmp_path / "pakta.pdf").write_bytes(pdf)
    assert "Signature is Valid" in pdfsig(tmp_path / "pakta.pdf", root_pem, tmp_path)


def test_new_signatures_with_a_revoked_certificate_are_refused(
    client: httpx.Client, revoked: dict
) -> None:
    signer_id = revoked["signer"]["id"]
    refused = sign_pakta(client, revoked["waiting"]["id"], signer_id)
    assert refused.status_code == 403 and refused.json()["error"] == "CertificateRevoked"
    assert (
        client.get(f"/api/v1/documents/{revoked['waiting']['id']}").json()["revisions"][-1]["kind"]
        == "prepared"
    )
    again = client.post(f"/api/v1/signers/{signer_id}/revoke", json={"reason": "Pensiun"})
    assert again.status_code == 409
    assigned = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP),
            "signers": {"pembuat_pernyataan": signer_id},
        },
    )
    assert assigned.status_code == 422
    # The same person with a new certificate can sign the waiting document.
    renewed = client.post("/api/v1/signers", json=signer_body(nip=NIP)).json()
    assert sign_pakta(client, revoked["waiting"]["id"], renewed["id"]).status_code == 200
    assert (
        client.post("/api/v1/signers/" + "0" * 32 + "/revoke", json={"reason": "x y z"}).status_code
        == 404
    )
