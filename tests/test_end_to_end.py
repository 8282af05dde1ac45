"""A pakta integritas through the HTTP API of a running service, on real parts."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import anyio
import docx
import httpx
import psutil
import pytest
from cryptography import x509
from minio.error import S3Error
from sqlalchemy import select

from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import AuditEntry
from signing.validate.validation import validate_pdf
from tests.conftest import (
    PIN,
    Service,
    pakta_data,
    signer_body,
    start_service,
    stop_service,
)
from tests.pdftools import page_text, pdfsig, qr_codes_per_page


def create_and_sign(client: httpx.Client) -> tuple[dict, dict, bytes, bytes]:
    """Enrol, create, sign; returns the created and signed views, the prepared and signed PDF."""
    signer = client.post("/api/v1/signers", json=signer_body())
    assert signer.status_code == 201, signer.text
    created = client.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data()}
    )
    assert created.status_code == 201, created.text
    document = created.json()
    prepared = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    signed = client.post(
        f"/api/v1/documents/{document['id']}/signatures",
        json={"role": "pembuat_pernyataan", "signer_id": signer.json()["id"], "pin": PIN},
    )
    assert signed.status_code == 200, signed.text
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    return document, signed.json(), prepared, pdf


def test_templates_are_listed_with_fields_and_roles(client: httpx.Client) -> None:
    templates = {t["id"]: t for t in client.get("/api/v1/templates").json()}
    pakta = templates["pakta-integritas"]
    fields = {f["name"]: f for f in pakta["fields"]}
    assert fields["nip"]["type"] == "nip" and fields["nip"]["required"] is True
    assert fields["pangkat"]["type"] == "pangkat"
    assert [r["name"] for r in pakta["roles"]] == ["pembuat_pernyataan"]


def test_created_document_awaits_its_signer(client: httpx.Client, tmp_path: Path) -> None:
    created = client.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data()}
    )
    assert created.status_code == 201, created.text
    document = created.json()
    assert document["status"] == "menunggu_tanda_tangan"
    assert document["pending_roles"] == ["pembuat_pernyataan"]
    code = document["verify_code"]
    assert len(code) >= 22  # >= 128 random bits in base64url
    assert document["verify_url"].endswith(f"/v/{code}")

    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "prepared.pdf"
    path.write_bytes(pdf.content)
    qr_pages = qr_codes_per_page(path, tmp_path)
    assert qr_pages and all(codes == [document["verify_url"]] for codes in qr_pages)
    text = page_text(path)
    assert "PAKTA INTEGRITAS" in text
    assert "19860926 201505 1 001" in text
    assert document["number"] in text

    source = client.get(f"/api/v1/documents/{document['id']}/docx")
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(source.content)).paragraphs)
    assert document["number"] in body

    page = client.get(f"/v/{code}")
    assert page.status_code == 200
    assert "MENUNGGU TANDA TANGAN" in page.text
    as_json = client.get(f"/api/v1/verify/{code}").json()
    assert as_json["status"] == "menunggu_tanda_tangan"
    assert as_json["signatures"][0]["signed_at"] is None


def test_revisions_are_stored_and_cannot_be_deleted(service: Service, client: httpx.Client) -> None:
    document, signed, prepared_pdf, pdf = create_and_sign(client)
    objects = service.stored_objects(f"documents/{document['id']}/")
    # Source DOCX, prepared PDF, and the signed PDF with its long-term validation data (B-LTA),
    # one version each; the signed PDF before that is the B-LTA object's beginning.
    assert len(objects) == 3
    s3 = service.object_store()
    by_name = {o.object_name: o for o in objects}
    signed_key = next(name for name in by_name if "-lta-" in name)
    assert s3.get_object("docgen", signed_key).read() == pdf
    before_lta = signed["revisions"][2]
    assert before_lta["kind"] == "signed" and before_lta["size"] < len(pdf)
    assert hashlib.sha256(pdf[: before_lta["size"]]).hexdigest() == before_lta["sha256"]
    root = x509.load_pem_x509_certificate(client.get("/api/v1/trust/ca.pem").content)
    assert validate_pdf(pdf[: before_lta["size"]], [root]).valid
    upload = {"file": ("ttd.pdf", pdf[: before_lta["size"]], "application/pdf")}
    report = client.post("/api/v1/verify", files=upload).json()
    assert report["issued_here"] and report["revision"] == {"seq": 3, "kind": "signed"}
    each = [
        client.get(f"/api/v1/documents/{document['id']}/revisions/{r['seq']}")
        for r in signed["revisions"]
    ]
    assert [hashlib.sha256(r.content).hexdigest() for r in each] == [
        r["sha256"] for r in signed["revisions"]
    ]
    assert [r.headers["content-type"] for r in each] == [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        *["application/pdf"] * 3,
    ]
    assert each[2].content == pdf[: before_lta["size"]]
    missing = client.get(f"/api/v1/documents/{document['id']}/revisions/9")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    retention = s3.get_object_retention("docgen", signed_key, by_name[signed_key].version_id)
    assert retention is not None and retention.mode == "COMPLIANCE"
    with pytest.raises(S3Error):
        s3.remove_object("docgen", signed_key, version_id=by_name[signed_key].version_id)
    assert s3.get_object("docgen", signed_key).read() == pdf


def test_sign_download_and_verify(client: httpx.Client, tmp_path: Path) -> None:
    document, signed, prepared_pdf, pdf = create_and_sign(client)
    assert signed["status"] == "sah"
    assert signed["pending_roles"] == []
    kinds = [r["kind"] for r in signed["revisions"]]
    assert kinds == ["source", "prepared", "signed", "lta"]
    assert hashlib.sha256(pdf).hexdigest() == signed["revisions"][-1]["sha256"]
    # The earlier revision is still what it was: the signed file extends the prepared one.
    prepared_sha = signed["revisions"][1]["sha256"]
    assert prepared_sha == document["revisions"][1]["sha256"]

    root_pem = client.get("/api/v1/trust/ca.pem").content
    root = x509.load_pem_x509_certificate(root_pem)
    report = validate_pdf(pdf, [root])
    assert report.valid
    (sig,) = report.signatures
    assert sig.intact and sig.trusted and sig.timestamp is not None and not sig.modified_after
    assert sig.signer == "Drs. Budi Santoso, M.Si."

    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, root_pem, tmp_path)
    assert "Signature is Valid" in out, out
    assert "Certificate is Trusted" in out, out
    assert "ETSI.CAdES.detached" in out, out

    qr_pages = qr_codes_per_page(path, tmp_path)
    assert all(document["verify_url"] in codes for codes in qr_pages)

    code = document["verify_code"]
    verified = client.get(f"/api/v1/verify/{code}").json()
    assert verified["status"] == "sah"
    assert verified["sha256"] == hashlib.sha256(pdf).hexdigest()
    (who,) = verified["signatures"]
    assert who["name"] == "Drs. Budi Santoso, M.Si."
    assert who["nip"] == "**************1001"
    assert who["signed_at"] is not None

    page = client.get(f"/v/{code}").text
    assert "SAH" in page and "Drs. Budi Santoso, M.Si." in page
    assert "**************1001" in page
    assert "198609262015051001" not in page and "19860926 201505 1 001" not in page
    assert client.get(verified["download_url"]).content == pdf

    upload = client.post("/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")})
    assert upload.status_code == 200, upload.text
    result = upload.json()
    assert result["issued_here"] is True and result["valid"] is True
    assert result["document"]["document"]["number"] == document["number"]
    (checked,) = result["signatures"]
    assert checked["intact"] and checked["trusted"] and not checked["modified_after"]

    prepared = client.post(
        "/api/v1/verify", files={"file": ("p.pdf", prepared_pdf, "application/pdf")}
    ).json()
    assert prepared["issued_here"] is True and prepared["is_latest"] is False
    assert prepared["valid"] is False  # not signed yet
    assert prepared["sha256"] == signed["revisions"][1]["sha256"]


async def _audit_of(service: Service) -> tuple[int | None, list[str]]:
    db = Database(f"sqlite:///{service.data_dir / 'docgen.db'}")
    try:
        async with db.session() as session:
            broken = await audit.verify_chain(session)
            actions = list(await session.scalars(select(AuditEntry.action)))
    finally:
        await db.close()
    return broken, actions


def test_every_state_change_is_in_an_intact_audit_chain(
    service: Service, client: httpx.Client
) -> None:
    document, signed, _, _ = create_and_sign(client)
    broken, actions = anyio.run(_audit_of, service)
    assert broken is None
    assert {"signer.enrolled", "document.created", "document.signed"} <= set(actions)


def test_the_bulk_worker_processes_run_from_the_start(service: Service) -> None:
    # This module makes no batch: the workers were started with the service, kept warm.
    workers = [
        p for p in psutil.Process(service.pid).children() if "spawn_main" in " ".join(p.cmdline())
    ]
    assert len(workers) == 2  # DOCGEN_BULK_WORKERS


def test_the_service_keeps_its_start_up_objects_out_of_garbage_collection(
    service: Service,
) -> None:
    # Every full collection would otherwise walk the ~230,000 objects of its start-up.
    found = re.search(
        r"(\d+) start-up objects kept out of garbage collection", service.log.read_text()
    )
    assert found, "the service did not freeze its start-up objects"
    assert int(found[1]) > 100_000


def test_a_service_on_the_library_paths_makes_documents_that_hold(tmp_path: Path) -> None:
    # DOCGEN_FAST_PATHS=false: docxtpl, qrcode, pyHanko's reader, CMS and fonts as they come.
    process, service = start_service(tmp_path / "docgen", DOCGEN_FAST_PATHS="false")
    try:
        assert "jalur cepat         : mati" in service.log.read_text()
        with service.client() as client:
            document, signed, _, pdf = create_and_sign(client)
            root_pem = client.get("/api/v1/trust/ca.pem").content
    finally:
        stop_service(process)
    assert signed["status"] == "sah"
    assert validate_pdf(pdf, [x509.load_pem_x509_certificate(root_pem)]).valid
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, root_pem, tmp_path)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    assert all(document["verify_url"] in codes for codes in qr_codes_per_page(path, tmp_path))
