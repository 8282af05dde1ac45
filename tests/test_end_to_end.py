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
    People,
    Service,
    pakta_data,
    start_service,
    stop_service,
)
from tests.pdftools import page_text, pdfsig, qr_codes_per_page

# This module's own signer (one signer in effect per NIP in the shared service).
NIP = "198711202012121002"
NIP_SPACED = "19871120 201212 1 002"
NIP_MASKED = "**************1002"


def create_and_sign(people: People) -> tuple[dict, dict, bytes, bytes]:
    """The admin enrols the signer (once per service), the operator makes the pakta, the
    signer signs it with their own token and PIN; returns the created and signed views, the
    prepared and signed PDF."""
    signer = people.signer(NIP)
    operator = people.operator.client
    created = operator.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data(nip=NIP)}
    )
    assert created.status_code == 201, created.text
    document = created.json()
    prepared = operator.get(f"/api/v1/documents/{document['id']}/pdf").content
    # Nobody signs for the signer: not the operator who made the document.
    refused = operator.post(
        f"/api/v1/documents/{document['id']}/signatures",
        json={"role": "pembuat_pernyataan", "pin": signer.pin},
    )
    assert refused.status_code == 403, refused.text
    signed = signer.sign(document["id"], "pembuat_pernyataan")
    assert signed.status_code == 200, signed.text
    pdf = operator.get(f"/api/v1/documents/{document['id']}/pdf").content
    return document, signed.json(), prepared, pdf


def test_templates_are_listed_with_fields_and_roles(
    client: httpx.Client, anonymous: httpx.Client
) -> None:
    templates = {t["id"]: t for t in client.get("/api/v1/templates").json()}
    pakta = templates["pakta-integritas"]
    fields = {f["name"]: f for f in pakta["fields"]}
    assert fields["nip"]["type"] == "nip" and fields["nip"]["required"] is True
    assert fields["pangkat"]["type"] == "pangkat"
    # The superior's "Mengetahui" signs only where the data names one (``when``).
    roles = [(r["name"], r["when"]) for r in pakta["roles"]]
    assert roles == [("pembuat_pernyataan", None), ("atasan", "nama_atasan")]
    # Templates are for logged-in users only.
    assert anonymous.get("/api/v1/templates").status_code == 401


def test_created_document_awaits_its_signer(
    people: People, client: httpx.Client, anonymous: httpx.Client, tmp_path: Path
) -> None:
    signer = people.signer(NIP)
    created = client.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data(nip=NIP)}
    )
    assert created.status_code == 201, created.text
    document = created.json()
    assert document["status"] == "menunggu_tanda_tangan"
    assert document["pending_roles"] == ["pembuat_pernyataan"]
    # The role is bound, at creation, to the signer whose NIP the data names.
    (slot,) = document["signers"]
    assert slot["assigned_signer_id"] == signer.signer_id and slot["signed_at"] is None
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
    assert NIP_SPACED in text
    assert document["number"] in text

    source = client.get(f"/api/v1/documents/{document['id']}/docx")
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(source.content)).paragraphs)
    assert document["number"] in body

    # The signer reads what is bound to them; the public reads nothing but the verification.
    assert signer.client.get(f"/api/v1/documents/{document['id']}").status_code == 200
    assert anonymous.get(f"/api/v1/documents/{document['id']}").status_code == 401
    page = anonymous.get(f"/v/{code}")
    assert page.status_code == 200
    assert "MENUNGGU TANDA TANGAN" in page.text
    as_json = anonymous.get(f"/api/v1/verify/{code}").json()
    assert as_json["status"] == "menunggu_tanda_tangan"
    assert as_json["signatures"][0]["signed_at"] is None


def test_revisions_are_stored_and_cannot_be_deleted(
    service: Service, people: People, client: httpx.Client, anonymous: httpx.Client
) -> None:
    document, signed, prepared_pdf, pdf = create_and_sign(people)
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
    root = x509.load_pem_x509_certificate(anonymous.get("/api/v1/trust/ca.pem").content)
    assert validate_pdf(pdf[: before_lta["size"]], [root]).valid
    upload = {"file": ("ttd.pdf", pdf[: before_lta["size"]], "application/pdf")}
    report = anonymous.post("/api/v1/verify", files=upload).json()
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


def test_sign_download_and_verify(people: People, anonymous: httpx.Client, tmp_path: Path) -> None:
    document, signed, prepared_pdf, pdf = create_and_sign(people)
    assert signed["status"] == "sah"
    assert signed["pending_roles"] == []
    (slot,) = signed["signers"]
    assert slot["signer_id"] == people.signer(NIP).signer_id
    kinds = [r["kind"] for r in signed["revisions"]]
    assert kinds == ["source", "prepared", "signed", "lta"]
    assert hashlib.sha256(pdf).hexdigest() == signed["revisions"][-1]["sha256"]
    # The earlier revision is still what it was: the signed file extends the prepared one.
    prepared_sha = signed["revisions"][1]["sha256"]
    assert prepared_sha == document["revisions"][1]["sha256"]

    root_pem = anonymous.get("/api/v1/trust/ca.pem").content
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
    verified = anonymous.get(f"/api/v1/verify/{code}").json()
    assert verified["status"] == "sah"
    assert verified["sha256"] == hashlib.sha256(pdf).hexdigest()
    (who,) = verified["signatures"]
    assert who["name"] == "Drs. Budi Santoso, M.Si."
    assert who["nip"] == NIP_MASKED
    assert who["signed_at"] is not None and who["valid"] is True

    page = anonymous.get(f"/v/{code}").text
    assert "SAH" in page and "Drs. Budi Santoso, M.Si." in page
    assert NIP_MASKED in page
    assert NIP not in page and NIP_SPACED not in page
    assert anonymous.get(verified["download_url"]).content == pdf

    upload = anonymous.post("/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")})
    assert upload.status_code == 200, upload.text
    result = upload.json()
    assert result["issued_here"] is True and result["valid"] is True
    assert result["document"]["document"]["number"] == document["number"]
    (checked,) = result["signatures"]
    assert checked["intact"] and checked["trusted"] and not checked["modified_after"]

    prepared = anonymous.post(
        "/api/v1/verify", files={"file": ("p.pdf", prepared_pdf, "application/pdf")}
    ).json()
    assert prepared["issued_here"] is True and prepared["is_latest"] is False
    assert prepared["valid"] is False  # not signed yet
    assert prepared["sha256"] == signed["revisions"][1]["sha256"]


async def _audit_of(service: Service) -> tuple[int | None, list[AuditEntry]]:
    db = Database(service.database_url)
    try:
        async with db.session() as session:
            broken = await audit.verify_chain(session)
            entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    finally:
        await db.close()
    return broken, entries


def test_every_state_change_is_in_an_intact_audit_chain(service: Service, people: People) -> None:
    document, signed, _, _ = create_and_sign(people)
    signer = people.signer(NIP)
    broken, entries = anyio.run(_audit_of, service)
    assert broken is None
    actions = {e.action for e in entries}
    assert {
        "unit.created",
        "user.created",
        "user.activated",
        "signer.enrolled",
        "signer.activated",
        "token.created",
        "document.created",
        "document.signed",
    } <= actions
    # Every entry names who did it and from where.
    by = {(e.action, e.entity_id): e for e in entries}
    enrolled = by["signer.enrolled", signer.signer_id]
    assert (enrolled.actor, enrolled.client) == (people.admin.id, "127.0.0.1")
    created = by["document.created", document["id"]]
    assert (created.actor, created.client) == (people.operator.id, "127.0.0.1")
    signed_entry = by["document.signed", document["id"]]
    assert (signed_entry.actor, signed_entry.client) == (signer.id, "127.0.0.1")
    assert signed_entry.details["signer"] == signer.signer_id
    # The signer activated through their public link: the entries name the new account's owner.
    activated = by["signer.activated", signer.signer_id]
    assert (activated.actor, activated.client) == (signer.id, "127.0.0.1")
    assert all(e.actor for e in entries)

    # An admin reads the same log through the API, with the chain's check.
    log = people.admin.client.get("/api/v1/audit", params={"limit": 500}).json()
    assert log["chain_intact"] is True and log["broken_at"] is None
    # The operator may not read it.
    assert people.operator.client.get("/api/v1/audit").status_code == 403


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
        document, signed, _, pdf = create_and_sign(People(service.url, service.data_dir))
        with service.client() as anonymous:
            root_pem = anonymous.get("/api/v1/trust/ca.pem").content
    finally:
        stop_service(process)
    assert signed["status"] == "sah"
    assert validate_pdf(pdf, [x509.load_pem_x509_certificate(root_pem)]).valid
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, root_pem, tmp_path)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    assert all(document["verify_url"] in codes for codes in qr_codes_per_page(path, tmp_path))
