"""An MoU with an e-Meterai through the running service (real LibreOffice, keys, CA, storage):
its box is a signature field from prepare time; after PIHAK PERTAMA signs, the local provider
affixes the e-Meterai into it, then PIHAK KEDUA signs; every signature holds in pyHanko and in
pdfsig, the e-Meterai's too; the stamp's text is printed inside the box; the document's JSON,
its internal page and the public page and JSON show it affixed and say that the provider is
local, not Peruri. A deployment without a provider refuses the e-Meterai option."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from playwright.sync_api import Browser

from signing.emeterai import LOCAL_NOTICE, LOCAL_PROVIDER_NAME
from signing.validate.validation import validate_pdf
from tests.browser import log_in
from tests.conftest import People, Service, start_service, stop_service
from tests.pdftools import pdfsig, words_with_annotations
from tests.test_templates_content import mou_data, own_nik, signature_fields
from tests.test_web_accessibility import session_cookies, violations

NIP_CAMAT = "197203151999031004"  # used by no other module
METERAI_PT = 70.0


@pytest.fixture(scope="module")
def mou(people: People) -> Iterator[dict[str, Any]]:
    """An MoU with an e-Meterai taken through its whole life, with what each step answered."""
    camat = people.signer(NIP_CAMAT, name="Drs. Budi Santoso, M.Si.", jabatan="Camat Candi")
    ketua = people.signer(nik=own_nik(), name="Siti Aminah, S.H., M.H.", jabatan="Ketua")
    operator = people.operator.client
    created = operator.post(
        "/api/v1/documents",
        json={
            "template": "nota-kesepahaman",
            "data": mou_data(nip_pihak_pertama=NIP_CAMAT, emeterai=True),
            "signers": {"pihak_kedua": ketua.signer_id},
        },
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    steps: dict[str, Any] = {"created": created.json(), "camat": camat, "ketua": ketua}
    steps["prepared_pdf"] = operator.get(f"/api/v1/documents/{doc_id}/pdf").content
    steps["too_early"] = operator.post(f"/api/v1/documents/{doc_id}/emeterai")
    steps["ketua_first"] = ketua.sign(doc_id, "pihak_kedua")
    steps["first"] = camat.sign(doc_id, "pihak_pertama")
    steps["after_first"] = operator.get(f"/api/v1/documents/{doc_id}").json()
    steps["stamped_pdf"] = operator.get(f"/api/v1/documents/{doc_id}/pdf").content
    steps["again"] = operator.post(f"/api/v1/documents/{doc_id}/emeterai")
    steps["second"] = ketua.sign(doc_id, "pihak_kedua")
    steps["final_pdf"] = operator.get(f"/api/v1/documents/{doc_id}/pdf").content
    with people.anonymous() as public:
        steps["root_pem"] = public.get("/api/v1/trust/ca.pem").content
        steps["crl"] = public.get("/api/v1/trust/crl").content
        code = steps["created"]["verify_code"]
        steps["public"] = public.get(f"/api/v1/verify/{code}").json()
        steps["public_page"] = public.get(f"/v/{code}").text
        steps["upload"] = public.post(
            "/api/v1/verify", files={"file": ("mou.pdf", steps["final_pdf"], "application/pdf")}
        ).json()
    yield steps


def test_the_box_is_an_empty_signature_field_from_prepare_time(mou: dict[str, Any]) -> None:
    created = mou["created"]
    assert created["emeterai"] == {
        "affixed": False,
        "before_role": "pihak_kedua",
        "serial": None,
        "affixed_at": None,
        "provider": None,
        "local": None,
        "note": "e-Meterai belum dibubuhkan; dibubuhkan sebelum tanda tangan berikutnya.",
    }
    fields = signature_fields(mou["prepared_pdf"])
    assert sorted(fields) == ["emeterai", "ttd_pihak_kedua", "ttd_pihak_pertama"]
    page, (x1, y1, x2, y2) = fields["emeterai"]
    assert (round(x2 - x1, 2), round(y2 - y1, 2)) == (METERAI_PT, METERAI_PT)
    second_page, second = fields["ttd_pihak_kedua"]
    assert page == second_page and x2 <= second[0]  # left of PIHAK KEDUA's, not touching it


def test_nothing_is_affixed_or_signed_before_its_turn(mou: dict[str, Any]) -> None:
    too_early = mou["too_early"]
    assert too_early.status_code == 409, too_early.text
    assert "Belum gilirannya" in too_early.json()["detail"]
    assert mou["ketua_first"].status_code == 409
    assert "PIHAK PERTAMA" in mou["ketua_first"].json()["detail"]


def test_affixed_after_the_first_signature_before_the_last(mou: dict[str, Any]) -> None:
    assert mou["first"].status_code == 200, mou["first"].text
    after_first = mou["after_first"]
    assert [r["kind"] for r in after_first["revisions"]] == [
        "source", "prepared", "signed", "emeterai"
    ]  # fmt: skip
    emeterai = after_first["emeterai"]
    assert emeterai["affixed"] is True and emeterai["local"] is True
    assert emeterai["provider"] == LOCAL_PROVIDER_NAME
    assert emeterai["serial"].startswith("LOKAL") and len(emeterai["serial"]) == 22
    assert emeterai["note"] == LOCAL_NOTICE and "bukan oleh Peruri" in emeterai["note"]
    assert after_first["pending_roles"] == ["pihak_kedua"]
    # Affixed once: the operator's action finds it done.
    assert mou["again"].status_code == 409, mou["again"].text
    assert "sudah dibubuhkan" in mou["again"].json()["detail"]

    assert mou["second"].status_code == 200, mou["second"].text
    final = mou["second"].json()
    assert final["status"] == "sah"
    assert [r["kind"] for r in final["revisions"]] == [
        "source", "prepared", "signed", "emeterai", "signed", "lta"
    ]  # fmt: skip
    assert final["emeterai"] == emeterai


def test_every_signature_holds_the_emeterai_one_too(mou: dict[str, Any], tmp_path: Path) -> None:
    root = x509.load_pem_x509_certificate(mou["root_pem"])
    crl = x509.load_der_x509_crl(mou["crl"])
    stamped = validate_pdf(mou["stamped_pdf"], [root], [crl])
    assert stamped.valid and {s.field for s in stamped.signatures} == {
        "ttd_pihak_pertama",
        "emeterai",
    }
    report = validate_pdf(mou["final_pdf"], [root], [crl])
    assert report.valid and report.level == "B-LTA", report
    by_field = {s.field: s for s in report.signatures}
    assert set(by_field) == {"ttd_pihak_pertama", "emeterai", "ttd_pihak_kedua"}
    assert by_field["ttd_pihak_pertama"].certified
    assert by_field["emeterai"].signer == LOCAL_PROVIDER_NAME
    assert all(not s.modified_after for s in report.signatures)

    path = tmp_path / "mou.pdf"
    path.write_bytes(mou["final_pdf"])
    checked = pdfsig(path, mou["root_pem"], tmp_path)
    assert checked.count("Signature Validation: Signature is Valid.") == 3, checked
    assert checked.count("Certificate Validation: Certificate is Trusted.") == 3, checked
    assert "emeterai" in checked

    upload = mou["upload"]
    assert upload["verdict"] == "asli" and upload["valid"] is True, upload
    assert upload["document"]["emeterai"]["affixed"] is True


def test_the_stamp_is_printed_inside_the_box(mou: dict[str, Any], tmp_path: Path) -> None:
    page, (x1, y1, x2, y2) = signature_fields(mou["final_pdf"])["emeterai"]
    words = words_with_annotations(mou["final_pdf"], tmp_path)[page]
    inside = " ".join(
        word
        for word, (a, b, c, d) in words
        if a >= x1 - 0.5 and c <= x2 + 0.5 and b >= y1 - 0.5 and d <= y2 + 0.5
    )
    serial = mou["after_first"]["emeterai"]["serial"]
    assert serial in inside, inside
    for said in ("e-METERAI LOKAL", "BUKAN PERURI", "bukan bea meterai", "kepada negara"):
        assert said in inside, inside


def test_public_json_and_page_say_affixed_by_a_local_provider(mou: dict[str, Any]) -> None:
    public = mou["public"]["emeterai"]
    assert public == mou["after_first"]["emeterai"]
    page = mou["public_page"]
    assert "e-Meterai" in page and public["serial"] in page
    assert "Penyedia lokal, bukan Peruri." in page
    assert "bukan bea meterai yang dibayar kepada negara" in page


def test_the_audit_log_names_the_affix(people: People, mou: dict[str, Any]) -> None:
    entries = [
        e
        for e in people.audit_log()
        if e["action"] == "document.emeterai_affixed" and e["entity_id"] == mou["created"]["id"]
    ]
    assert len(entries) == 1, entries
    (entry,) = entries
    serial = mou["after_first"]["emeterai"]["serial"]
    assert entry["details"]["serial"] == serial and entry["details"]["local"] is True
    # Affixed when the camat's signature made it due: in that request, as that user.
    assert entry["actor"] == mou["camat"].id


def test_the_internal_page_shows_it(
    browser: Browser, service: Service, people: People, mou: dict[str, Any]
) -> None:
    context = browser.new_context(base_url=service.url)
    try:
        page = context.new_page()
        operator = people.operator
        log_in(page, operator.username, operator.otp)
        page.goto(f"/dokumen/{mou['created']['id']}")
        section = page.locator("#emeterai")
        text = section.inner_text()
        assert mou["after_first"]["emeterai"]["serial"] in text
        assert "Penyedia lokal, bukan Peruri." in text and LOCAL_PROVIDER_NAME in text
        assert "Bubuhkan e-Meterai sekarang" not in text  # affixed: nothing to retry
        page.goto("/dokumen/baru/nota-kesepahaman")
        assert page.get_by_label("Sediakan tempat e-Meterai").count() == 1
    finally:
        context.close()


def test_the_pages_showing_it_are_accessible(
    browser: Browser, service: Service, people: People, mou: dict[str, Any]
) -> None:
    document = mou["created"]
    operator = session_cookies(people, people.operator)
    assert violations(browser, service, [f"/dokumen/{document['id']}"], operator) == []
    assert violations(browser, service, [f"/v/{document['verify_code']}"], []) == []


# --- a deployment without a provider, and one whose provider was not there ---------------


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One deployment started three times: with the local provider (an MoU asking for an
    e-Meterai is made), without a provider (the refusals; PIHAK PERTAMA signs, and nothing can
    affix the e-Meterai), and with the local provider again (the operator affixes it, PIHAK
    KEDUA signs)."""
    data_dir = tmp_path_factory.mktemp("tanpa-meterai")
    process, service = start_service(data_dir, DOCGEN_EMETERAI_PROVIDER="local")
    steps: dict[str, Any] = {}
    try:
        people = People(service.url, service.data_dir)
        camat = people.signer(NIP_CAMAT, name="Drs. Budi Santoso, M.Si.")
        ketua = people.signer(nik=own_nik(), name="Siti Aminah, S.H., M.H.")
        body = {
            "template": "nota-kesepahaman",
            "data": mou_data(nip_pihak_pertama=NIP_CAMAT, emeterai=True),
            "signers": {"pihak_kedua": ketua.signer_id},
        }
        created = people.operator.client.post("/api/v1/documents", json=body)
        assert created.status_code == 201, created.text
        doc_id = created.json()["id"]
        steps.update(people=people, body=body, id=doc_id)
    finally:
        stop_service(process)

    process, service = start_service(data_dir, DOCGEN_EMETERAI_PROVIDER="none")
    try:
        operator = people.moved_to(service.url).operator.client
        steps["form"] = operator.get("/dokumen/baru/nota-kesepahaman")
        steps["refused"] = operator.post("/api/v1/documents", json=body)
        steps["draft"] = operator.post("/api/v1/documents", json={**body, "draft": True})
        without = {**body, "data": mou_data(nip_pihak_pertama=NIP_CAMAT)}
        made = operator.post("/api/v1/documents", json=without)
        steps["made"] = made
        steps["made_pdf"] = operator.get(f"/api/v1/documents/{made.json()['id']}/pdf").content
        steps["first"] = camat.sign(doc_id, "pihak_pertama")
        steps["ketua_waits"] = ketua.sign(doc_id, "pihak_kedua")
        steps["no_provider"] = operator.post(f"/api/v1/documents/{doc_id}/emeterai")
        steps["pending"] = ketua.client.get(f"/api/v1/signers/{ketua.signer_id}/pending").json()
    finally:
        stop_service(process)

    process, service = start_service(data_dir, DOCGEN_EMETERAI_PROVIDER="local")
    try:
        operator = people.moved_to(service.url).operator.client
        steps["retried"] = operator.post(f"/api/v1/documents/{doc_id}/emeterai")
        steps["second"] = ketua.sign(doc_id, "pihak_kedua")
        steps["final_pdf"] = operator.get(f"/api/v1/documents/{doc_id}/pdf").content
        steps["root_pem"] = operator.get("/api/v1/trust/ca.pem").content
        steps["crl"] = operator.get("/api/v1/trust/crl").content
        yield steps
    finally:
        stop_service(process)


def test_without_a_provider_the_option_is_refused(restarted: dict[str, Any]) -> None:
    # The office form does not offer it (where a provider is, it does: the test above).
    form = restarted["form"]
    assert form.status_code == 200 and "Instansi PIHAK KEDUA" in form.text
    assert "Sediakan tempat e-Meterai" not in form.text
    refused = restarted["refused"]
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["problems"]
    assert problem["field"] == "emeterai"
    assert "tidak terhubung ke penyedia e-Meterai" in problem["message"]
    # Drafts too: the document never says it carries an e-Meterai.
    assert restarted["draft"].status_code == 422, restarted["draft"].text
    # Without the option the MoU is made, with no e-Meterai box.
    made = restarted["made"]
    assert made.status_code == 201, made.text
    assert made.json()["emeterai"] is None
    assert "emeterai" not in signature_fields(restarted["made_pdf"])


def test_without_a_provider_at_its_turn_the_next_role_waits_until_it_is_affixed(
    restarted: dict[str, Any], tmp_path: Path
) -> None:
    first = restarted["first"]
    assert first.status_code == 200, first.text  # the signature stands
    assert first.json()["emeterai"]["affixed"] is False
    waits = restarted["ketua_waits"]
    assert waits.status_code == 409 and "e-Meterai harus dibubuhkan" in waits.json()["detail"]
    pending = next(p for p in restarted["pending"] if p["document_id"] == restarted["id"])
    assert (pending["ready"], pending["waiting_for"]) == (False, ["emeterai"])
    no_provider = restarted["no_provider"]
    assert no_provider.status_code == 409, no_provider.text
    assert "tidak terhubung ke penyedia e-Meterai" in no_provider.json()["detail"]

    retried = restarted["retried"]
    assert retried.status_code == 200, retried.text
    assert retried.json()["emeterai"]["affixed"] is True
    second = restarted["second"]
    assert second.status_code == 200, second.text
    final = second.json()
    assert final["status"] == "sah"
    assert [r["kind"] for r in final["revisions"]] == [
        "source", "prepared", "signed", "emeterai", "signed", "lta"
    ]  # fmt: skip
    root = x509.load_pem_x509_certificate(restarted["root_pem"])
    crl = x509.load_der_x509_crl(restarted["crl"])
    # In a thread of its own: this module's browser (Playwright's sync API) keeps an event loop
    # running in this one, and validate_pdf runs pyHanko's async validation with asyncio.run.
    with ThreadPoolExecutor(max_workers=1) as pool:
        report = pool.submit(validate_pdf, restarted["final_pdf"], [root], [crl]).result()
    assert report.valid and len(report.signatures) == 3, report
    entries = [
        e
        for e in restarted["people"].audit_log()
        if e["action"] == "document.emeterai_affixed" and e["entity_id"] == restarted["id"]
    ]
    assert [e["actor"] for e in entries] == [restarted["people"].operator.id]
