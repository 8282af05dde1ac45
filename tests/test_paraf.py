"""Paraf by verifikator, through the running service: an MoU names two verifikator who initial it
in order before its two parties sign; the second cannot go first, nobody signs before both, and
afterwards the signatures validate in pyHanko and pdfsig. A verifikator returns another MoU with
a note the operator reads; nothing can be signed after. Who may be named (never the one who
makes the document), who may initial (only the verifikator whose turn it is), and a template
that asks for paraf itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from docgen.errors import TemplateProblem
from docgen.templating.manifest import parse_manifest
from signing.validate.validation import validate_pdf
from tests.conftest import REPO, People, SignerAccount
from tests.pdftools import pdfsig
from tests.people import Account
from tests.test_errors import own_nip
from tests.test_template_upload import upload
from tests.test_templates_content import mou_data

NAMA_CAMAT = "Drs. Teguh Prasetyo, M.Si."
NAMA_KETUA = "Rina Kartika, S.H."


def mou_request(camat: SignerAccount, ketua: SignerAccount, **body: Any) -> dict[str, Any]:
    """The request making an MoU: the camat first (by the NIP in the data), the ketua second."""
    return {
        "template": "nota-kesepahaman",
        "data": mou_data(nip_pihak_pertama=camat.nip, nama_pihak_pertama=NAMA_CAMAT),
        "signers": {"pihak_kedua": ketua.signer_id},
        **body,
    }


def paraf(account: Account, document_id: str) -> httpx.Response:
    return account.client.post(f"/api/v1/documents/{document_id}/paraf")


def send_back(account: Account, document_id: str, note: str) -> httpx.Response:
    return account.client.post(f"/api/v1/documents/{document_id}/paraf/return", json={"note": note})


def waiting(account: Account, document_id: str) -> dict[str, Any] | None:
    listed = account.client.get("/api/v1/paraf")
    assert listed.status_code == 200, listed.text
    return next((p for p in listed.json() if p["document_id"] == document_id), None)


@pytest.fixture(scope="module")
def cast(people: People) -> dict[str, Any]:
    """The unit's people of this module: two verifikator named on the MoUs, one not named,
    and the two parties."""
    return {
        "kasubbag": people.user("verifikator"),
        "sekcam": people.user("verifikator"),
        "other": people.user("verifikator"),
        "camat": people.signer(own_nip(), name=NAMA_CAMAT, jabatan="Camat Candi"),
        "ketua": people.signer(own_nip(), name=NAMA_KETUA, jabatan="Ketua Panwaslu"),
    }


@pytest.fixture(scope="module")
def story(people: People, cast: dict[str, Any]) -> dict[str, Any]:
    """An MoU taken from its making through both paraf and both signatures, with what each
    step answered."""
    operator = people.operator
    kasubbag, sekcam = cast["kasubbag"], cast["sekcam"]
    camat, ketua = cast["camat"], cast["ketua"]
    created = operator.client.post(
        "/api/v1/documents", json=mou_request(camat, ketua, paraf=[kasubbag.id, sekcam.id])
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    steps: dict[str, Any] = {"created": created.json(), "id": doc_id}
    with people.anonymous() as public:
        code = created.json()["verify_code"]
        steps["public_waiting"] = public.get(f"/api/v1/verify/{code}")
        steps["public_page_waiting"] = public.get(f"/v/{code}")
    steps["waiting_kasubbag"] = waiting(kasubbag, doc_id)
    steps["waiting_sekcam"] = waiting(sekcam, doc_id)
    steps["second_first"] = paraf(sekcam, doc_id)
    steps["sign_before_any"] = camat.sign(doc_id, "pihak_pertama")
    steps["operator_paraf"] = paraf(operator, doc_id)
    steps["signer_paraf"] = paraf(camat, doc_id)
    steps["other_paraf"] = paraf(cast["other"], doc_id)
    steps["kasubbag_read"] = kasubbag.client.get(f"/api/v1/documents/{doc_id}/pdf")
    steps["first"] = paraf(kasubbag, doc_id)
    steps["again"] = paraf(kasubbag, doc_id)
    steps["sign_before_second"] = camat.sign(doc_id, "pihak_pertama")
    steps["second"] = paraf(sekcam, doc_id)
    steps["third"] = paraf(cast["other"], doc_id)
    steps["signed_first"] = camat.sign(doc_id, "pihak_pertama")
    steps["signed_second"] = ketua.sign(doc_id, "pihak_kedua")
    steps["final_pdf"] = operator.client.get(f"/api/v1/documents/{doc_id}/pdf").content
    steps["final"] = operator.client.get(f"/api/v1/documents/{doc_id}").json()
    with people.anonymous() as public:
        steps["root_pem"] = public.get("/api/v1/trust/ca.pem").content
        steps["crl"] = public.get("/api/v1/trust/crl").content
    return steps


def test_a_document_naming_verifikator_waits_for_their_paraf(
    story: dict[str, Any], cast: dict[str, Any]
) -> None:
    created = story["created"]
    assert created["status"] == "menunggu_paraf"
    assert [(p["step"], p["label"], p["user_id"], p["state"]) for p in created["paraf"]] == [
        (1, "Verifikator 1", cast["kasubbag"].id, "menunggu"),
        (2, "Verifikator 2", cast["sekcam"].id, "menunggu"),
    ]
    assert created["paraf"][0]["username"] == cast["kasubbag"].username
    assert story["waiting_kasubbag"]["ready"] is True
    assert story["waiting_sekcam"]["ready"] is False
    assert story["waiting_sekcam"]["waiting_for"] == ["Verifikator 1"]
    # The verifikator reads the PDF as it stands before initialling it.
    read = story["kasubbag_read"]
    assert read.status_code == 200 and read.content.startswith(b"%PDF")


def test_the_public_sees_a_document_waiting_for_paraf_as_not_in_force(
    story: dict[str, Any], cast: dict[str, Any]
) -> None:
    public = story["public_waiting"]
    assert public.status_code == 200, public.text
    assert (public.json()["status"], public.json()["status_label"]) == (
        "menunggu_paraf",
        "MENUNGGU PARAF",
    )
    page = story["public_page_waiting"]
    assert page.status_code == 200 and "MENUNGGU PARAF" in page.text
    # Who initials it is the office's business, not the public's.
    for seen in (public.text, page.text):
        assert cast["kasubbag"].username not in seen and cast["kasubbag"].id not in seen


def test_the_second_verifikator_cannot_go_first(story: dict[str, Any]) -> None:
    refused = story["second_first"]
    assert refused.status_code == 409, refused.text
    assert "Belum giliran Anda" in refused.json()["detail"]
    assert "Verifikator 1" in refused.json()["detail"]


def test_nobody_signs_before_every_paraf(story: dict[str, Any]) -> None:
    for step in ("sign_before_any", "sign_before_second"):
        refused = story[step]
        assert refused.status_code == 409, refused.text
        assert "menunggu paraf verifikator" in refused.json()["detail"]
    assert story["first"].json()["status"] == "menunggu_paraf"
    assert story["first"].json()["paraf"][0]["state"] == "diparaf"


def test_only_the_named_verifikator_initial(story: dict[str, Any]) -> None:
    for step in ("operator_paraf", "signer_paraf", "other_paraf"):
        assert story[step].status_code == 403, (step, story[step].text)
    assert story["third"].status_code == 403
    again = story["again"]
    assert again.status_code == 409 and "sudah memaraf" in again.json()["detail"]


def test_after_both_paraf_the_parties_sign_and_the_pdf_verifies(
    story: dict[str, Any], tmp_path: Path
) -> None:
    second = story["second"]
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "menunggu_tanda_tangan"
    assert [p["state"] for p in second.json()["paraf"]] == ["diparaf", "diparaf"]
    assert story["signed_first"].status_code == 200, story["signed_first"].text
    assert story["signed_second"].status_code == 200, story["signed_second"].text
    final = story["final"]
    assert final["status"] == "sah"
    assert all(p["at"] is not None for p in final["paraf"])

    root = x509.load_pem_x509_certificate(story["root_pem"])
    crl = x509.load_der_x509_crl(story["crl"])
    report = validate_pdf(story["final_pdf"], [root], [crl])
    assert report.valid and report.level == "B-LTA"
    assert {s.signer for s in report.signatures} == {NAMA_CAMAT, NAMA_KETUA}
    path = tmp_path / "mou.pdf"
    path.write_bytes(story["final_pdf"])
    checked = pdfsig(path, story["root_pem"], tmp_path)
    assert checked.count("Signature Validation: Signature is Valid.") == 2, checked
    assert checked.count("Certificate Validation: Certificate is Trusted.") == 2, checked


def test_every_paraf_is_in_the_audit_log_naming_its_verifikator(
    people: People, story: dict[str, Any], cast: dict[str, Any]
) -> None:
    entries = [e for e in people.audit_log() if e["entity_id"] == story["id"]]
    named = [e for e in entries if e["action"] == "document.paraf_named"]
    assert named and named[0]["details"]["verifikator"] == [
        cast["kasubbag"].id,
        cast["sekcam"].id,
    ]
    initialled = [e for e in entries if e["action"] == "document.paraf"]
    assert [
        (e["actor"], e["details"]["verifikator"], e["details"]["step"]) for e in initialled
    ] == [
        (cast["kasubbag"].id, cast["kasubbag"].id, 1),
        (cast["sekcam"].id, cast["sekcam"].id, 2),
    ]
    assert [e["details"]["complete"] for e in initialled] == [False, True]
    actions = [e["action"] for e in entries]
    assert actions.index("document.paraf") < actions.index("document.signed")


@pytest.fixture(scope="module")
def returned(people: People, cast: dict[str, Any]) -> dict[str, Any]:
    """A second MoU: the first verifikator initials it, the second returns it with a note."""
    operator = people.operator
    kasubbag, sekcam = cast["kasubbag"], cast["sekcam"]
    created = operator.client.post(
        "/api/v1/documents",
        json=mou_request(cast["camat"], cast["ketua"], paraf=[kasubbag.id, sekcam.id]),
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    steps: dict[str, Any] = {"id": doc_id}
    assert paraf(kasubbag, doc_id).status_code == 200
    steps["no_note"] = send_back(sekcam, doc_id, "")
    steps["hidden_note"] = send_back(sekcam, doc_id, "Periksa\u202e pasal 3")
    steps["returned"] = send_back(sekcam, doc_id, "Pasal 3 belum memuat jangka waktu kerja sama")
    steps["operator_sees"] = operator.client.get(f"/api/v1/documents/{doc_id}")
    steps["sign_after"] = cast["camat"].sign(doc_id, "pihak_pertama")
    steps["paraf_after"] = paraf(sekcam, doc_id)
    steps["waiting_after"] = waiting(sekcam, doc_id)
    steps["revoked"] = operator.client.post(
        f"/api/v1/documents/{doc_id}/revoke", json={"reason": "Dikembalikan verifikator"}
    )
    return steps


def test_a_return_needs_a_plain_note(returned: dict[str, Any]) -> None:
    assert returned["no_note"].status_code == 422, returned["no_note"].text
    assert returned["hidden_note"].status_code == 422, returned["hidden_note"].text


def test_a_returned_document_shows_the_note_and_cannot_be_signed(
    returned: dict[str, Any], cast: dict[str, Any]
) -> None:
    answered = returned["returned"]
    assert answered.status_code == 200, answered.text
    seen = returned["operator_sees"].json()
    assert seen["status"] == "dikembalikan"
    first, second = seen["paraf"]
    assert first["state"] == "diparaf" and first["note"] is None
    assert second["state"] == "dikembalikan"
    assert second["user_id"] == cast["sekcam"].id
    assert second["note"] == "Pasal 3 belum memuat jangka waktu kerja sama"
    refused = returned["sign_after"]
    assert refused.status_code == 409 and "dikembalikan" in refused.json()["detail"]
    assert returned["paraf_after"].status_code == 409
    assert returned["waiting_after"] is None
    # What happens next: the operator revokes it (and makes a corrected one).
    assert returned["revoked"].status_code == 200, returned["revoked"].text


def test_a_return_is_in_the_audit_log_naming_its_verifikator(
    people: People, returned: dict[str, Any], cast: dict[str, Any]
) -> None:
    (entry,) = [
        e
        for e in people.audit_log()
        if e["entity_id"] == returned["id"] and e["action"] == "document.paraf_returned"
    ]
    assert entry["actor"] == cast["sekcam"].id
    assert entry["details"]["verifikator"] == cast["sekcam"].id
    assert entry["details"]["note"] == "Pasal 3 belum memuat jangka waktu kerja sama"


def test_who_may_be_named_verifikator(people: People, cast: dict[str, Any]) -> None:
    operator = people.operator
    camat, ketua = cast["camat"], cast["ketua"]
    cases = {
        "self": [operator.id],
        "twice": [cast["kasubbag"].id, cast["kasubbag"].id],
        "a signer": [camat.id],
        "unknown": ["0" * 32],
    }
    answers = {
        name: operator.client.post("/api/v1/documents", json=mou_request(camat, ketua, paraf=ids))
        for name, ids in cases.items()
    }
    problems = {}
    for name, answer in answers.items():
        assert answer.status_code == 422, (name, answer.text)
        problems[name] = {p["field"]: p["message"] for p in answer.json()["problems"]}
    assert problems["self"] == {"paraf.0": "pembuat dokumen tidak dapat memaraf dokumennya sendiri"}
    assert set(problems["twice"]) == {"paraf.1"}
    assert problems["a signer"] == {"paraf.0": "bukan akun verifikator yang aktif"}
    assert problems["unknown"] == {"paraf.0": "bukan akun verifikator yang aktif"}
    # A draft is refused the same, before anything is saved.
    draft = operator.client.post(
        "/api/v1/documents", json=mou_request(camat, ketua, paraf=[operator.id], draft=True)
    )
    assert draft.status_code == 422, draft.text


def test_a_verifikator_of_another_unit_is_refused(people: People, cast: dict[str, Any]) -> None:
    elsewhere = people.user("verifikator", [people.unit("Bagian Hukum Setda")])
    answer = people.operator.client.post(
        "/api/v1/documents",
        json=mou_request(cast["camat"], cast["ketua"], paraf=[elsewhere.id]),
    )
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["problems"]
    assert problem == {
        **problem,
        "field": "paraf.0",
        "message": "verifikator ini bukan dari unit dokumen",
    }


def test_a_draft_keeps_its_verifikator_until_it_is_issued(
    people: People, cast: dict[str, Any]
) -> None:
    operator = people.operator
    kasubbag = cast["kasubbag"]
    draft = operator.client.post(
        "/api/v1/documents",
        json=mou_request(cast["camat"], cast["ketua"], paraf=[kasubbag.id], draft=True),
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["status"] == "draf"
    issued = operator.client.post(f"/api/v1/documents/{draft.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    assert issued.json()["status"] == "menunggu_paraf"
    assert [p["user_id"] for p in issued.json()["paraf"]] == [kasubbag.id]


MOU_DIR = REPO / "templates" / "nota-kesepahaman"


def test_a_template_that_asks_for_paraf(people: People, cast: dict[str, Any]) -> None:
    template_id = "mou-paraf-uji"
    manifest = (MOU_DIR / "manifest.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('id = "nota-kesepahaman"', f'id = "{template_id}"')
    manifest += '\n[paraf]\nsteps = ["Kepala Subbagian Umum", "Sekretaris Kecamatan"]\n'
    uploaded = upload(people.admin.client, manifest, (MOU_DIR / "template.docx").read_bytes())
    assert uploaded.status_code == 201, uploaded.text
    operator = people.operator
    camat, ketua = cast["camat"], cast["ketua"]
    kasubbag, sekcam = cast["kasubbag"], cast["sekcam"]

    def make(**body: Any) -> httpx.Response:
        return operator.client.post(
            "/api/v1/documents", json=mou_request(camat, ketua, template=template_id, **body)
        )

    unnamed = make()
    assert unnamed.status_code == 422, unnamed.text
    (problem,) = unnamed.json()["problems"]
    assert problem["field"] == "paraf"
    assert "Kepala Subbagian Umum, Sekretaris Kecamatan" in problem["message"]
    made = make(paraf=[kasubbag.id, sekcam.id])
    assert made.status_code == 201, made.text
    assert [p["label"] for p in made.json()["paraf"]] == [
        "Kepala Subbagian Umum",
        "Sekretaris Kecamatan",
    ]
    # A batch names no verifikator: the template's documents are made one by one.
    batch = operator.client.post(
        "/api/v1/batches",
        data={"template": template_id},
        files={"file": ("daftar.csv", b"tentang\nx\n", "text/csv")},
    )
    assert batch.status_code == 422, batch.text
    assert "paraf" in batch.text


@pytest.mark.parametrize(
    ("paraf", "problem"),
    [
        ("steps = []", "paraf.steps"),
        (f"steps = {['Kepala Subbagian'] * 11!r}".replace("'", '"'), "paraf.steps"),
        ('steps = ["  "]', "paraf"),
        ('steps = ["Sekretaris"]\nrequired = true', "paraf.required"),
    ],
)
def test_a_manifest_asks_for_paraf_with_named_steps(paraf: str, problem: str) -> None:
    text = (MOU_DIR / "manifest.toml").read_text(encoding="utf-8")
    problems: list[TemplateProblem] = []
    assert parse_manifest(text + f"\n[paraf]\n{paraf}\n", problems) is None
    assert [p.where.rsplit(": ", 1)[-1] for p in problems] == [problem], problems
    good = parse_manifest(text + '\n[paraf]\nsteps = ["Sekretaris"]\n', problems := [])
    assert good is not None and good.paraf is not None and good.paraf.steps == ["Sekretaris"]
