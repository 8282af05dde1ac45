"""Notifications by e-mail, read from a real SMTP server on loopback (aiosmtpd) that a docgen
service sends to (tests/mail.py): activation links, whose turn it is to sign (one message per
signer for a whole batch), documents complete and declined (when, in the unit's zone); the
mail server down fails no request; and the embedded default keeps every message as an ``.eml``
file under the data dir.
"""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import People, Service, SignerAccount
from tests.mail import Office, address, body, links_in
from tests.people import Account
from tests.test_bulk import OFFICIAL_NIK, bulk_sign, generated, inauguration_csv, post_batch
from tests.test_templates_content import BA, mou_data, nip_of
from tests.test_unit_zones import written

NIP_CAMAT = "197106121998031005"
NIK_KETUA = "3515056203790004"


@pytest.fixture(scope="module")
def office(mail_office: Office) -> Office:
    """The session's service that mails through an SMTP server on loopback."""
    return mail_office


@dataclass
class Story:
    operator: Account
    operator_link: str
    created_operator: dict[str, Any]
    camat: SignerAccount
    ketua: SignerAccount
    proposed: dict[str, Any]
    approved: dict[str, Any]
    mou: dict[str, Any]
    mails: dict[str, list[EmailMessage]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def story(office: Office) -> Story:
    """An operator and two signers activated from their mail; an MoU made and signed by both,
    with what each one's mailbox held after each step."""
    people, inbox = office.people, office.inbox
    made = office.add_user("operator", "operator")
    operator_link = links_in(inbox.wait("operator")[0])[0]
    operator = people.activate_user(made["id"], made["username"], operator_link)

    camat_entry = people.enrol(
        NIP_CAMAT, name="Drs. Budi Santoso, M.Si.", jabatan="Camat Candi", email=address("camat")
    )
    camat = people.activate_signer(
        {"nip": NIP_CAMAT, "activation_url": links_in(inbox.wait("camat")[0])[0]}
    )
    ketua_entry = people.enrol(
        nik=NIK_KETUA,
        name="Siti Aminah, S.H., M.H.",
        pangkat=None,
        jabatan="Ketua Panwaslu",
        email=address("ketua"),
    )
    assert ketua_entry["activation_url"]
    ketua = people.activate_signer({"activation_url": links_in(inbox.wait("ketua")[0])[0]})
    assert camat_entry["activation_url"]

    # An operator's entry waits for the admin: its link goes out on approval.
    proposed = operator.client.post(
        "/api/v1/signers",
        json={
            "name": "Ir. Sri Rahayu, M.T.",
            "nip": nip_of(901),
            "jabatan": "Sekretaris Camat",
            "pangkat": "IV/a",
            "unit_id": people.unit_id,
            "email": address("sekcam"),
        },
    )
    assert proposed.status_code == 201, proposed.text
    office.settle()
    mails: dict[str, list[EmailMessage]] = {"sekcam_proposed": inbox.to("sekcam")}
    approved = people.admin.client.post(f"/api/v1/signers/{proposed.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    mails["sekcam_approved"] = inbox.wait("sekcam")

    # The unit writes its times in WITA: so do the messages about its documents.
    zone = people.admin.client.put(
        f"/api/v1/units/{people.unit_id}/profile", json={"timezone": "WITA"}
    )
    assert zone.status_code == 200, zone.text
    created = operator.client.post(
        "/api/v1/documents",
        json={
            "template": "nota-kesepahaman",
            "data": mou_data(nip_pihak_pertama=NIP_CAMAT),
            "signers": {"pihak_kedua": ketua.signer_id},
        },
    )
    assert created.status_code == 201, created.text
    mou = created.json()
    mails["camat_created"] = inbox.wait("camat", 2)
    office.settle()
    mails["ketua_created"] = inbox.to("ketua")

    first = camat.sign(mou["id"], "pihak_pertama")
    assert first.status_code == 200, first.text
    mails["ketua_first"] = inbox.wait("ketua", 2)
    office.settle()
    mails["camat_first"] = inbox.to("camat")
    mails["operator_first"] = inbox.to("operator")

    second = ketua.sign(mou["id"], "pihak_kedua")
    assert second.status_code == 200, second.text
    mails["operator_last"] = inbox.wait("operator", 2)
    office.settle()
    mails["ketua_last"] = inbox.to("ketua")
    return Story(
        operator,
        operator_link,
        made,
        camat,
        ketua,
        proposed.json(),
        approved.json(),
        mou,
        mails,
    )


def test_a_new_account_gets_its_activation_link_by_mail_and_it_works(story: Story) -> None:
    (mail,) = story.mails["operator_first"]
    assert mail["To"].addresses[0].addr_spec == address("operator")
    assert mail["From"].addresses[0].addr_spec == "docgen@kab-sidoarjo.go.id"
    assert "Aktivasi" in mail["Subject"]
    assert story.operator_link == story.created_operator["activation_url"]
    assert story.created_operator["username"] in body(mail)
    assert "berlaku 72 jam" in body(mail)
    # Activated from the mail's link: the operator's token works.
    me = story.operator.client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["role"] == "operator", me.text


def test_a_signer_gets_the_link_when_their_entry_takes_effect(story: Story) -> None:
    camat_link = links_in(story.mails["camat_created"][0])
    assert "Drs. Budi Santoso, M.Si." in body(story.mails["camat_created"][0])
    assert "PIN" in body(story.mails["camat_created"][0])
    assert camat_link and "/aktivasi/" in camat_link[0]
    # Activated from that link: the camat signed with the PIN set there.
    assert story.camat.signer_id
    # An operator's entry: no link before the admin approves, the link after.
    assert story.mails["sekcam_proposed"] == []
    assert story.proposed["activation_url"] is None
    (approved,) = story.mails["sekcam_approved"]
    assert links_in(approved) == [story.approved["activation_url"]]


def test_making_a_document_tells_only_the_first_signer(story: Story, office: Office) -> None:
    activation, turn = story.mails["camat_created"]
    assert "Giliran Anda" in turn["Subject"] and story.mou["number"] in turn["Subject"]
    page = f"{office.service.url}/dokumen/{story.mou['id']}"
    assert links_in(turn) == [page]
    assert "PIHAK PERTAMA" in body(turn)
    # The second signer: only their activation link so far.
    assert [m["Subject"] for m in story.mails["ketua_created"]] == ["Aktivasi akun docgen Anda"]


def test_each_signature_tells_whose_turn_comes_and_the_last_the_operator(
    story: Story, office: Office
) -> None:
    page = f"{office.service.url}/dokumen/{story.mou['id']}"
    turn = story.mails["ketua_first"][1]
    assert "Giliran Anda" in turn["Subject"] and "PIHAK KEDUA" in body(turn)
    assert links_in(turn) == [page]
    assert len(story.mails["camat_first"]) == 2  # nothing new for the one who signed
    assert len(story.mails["operator_first"]) == 1  # not complete yet
    done = story.mails["operator_last"][1]
    assert "selesai" in done["Subject"] and story.mou["number"] in done["Subject"]
    assert "SAH" in body(done) and links_in(done) == [page]
    signed = story.operator.client.get(f"/api/v1/documents/{story.mou['id']}").json()
    last = max(datetime.fromisoformat(slot["signed_at"]) for slot in signed["signers"])
    assert f"Selesai : {written(last, 'WITA')}" in body(done), body(done)
    assert len(story.mails["ketua_last"]) == 2  # the last signer is told nothing more


def test_a_decline_tells_the_operator_with_the_reason(story: Story, office: Office) -> None:
    made = story.operator.client.post(
        "/api/v1/documents",
        json={
            "template": "nota-kesepahaman",
            "data": mou_data(nip_pihak_pertama=NIP_CAMAT),
            "signers": {"pihak_kedua": story.ketua.signer_id},
        },
    )
    assert made.status_code == 201, made.text
    document = made.json()
    office.settle()
    before = len(office.inbox.to("operator"))
    # Only the signer bound to the role declines it, and only with a reason.
    others = story.ketua.client.post(
        f"/api/v1/documents/{document['id']}/decline",
        json={"role": "pihak_pertama", "reason": "Bukan peran saya"},
    )
    assert others.status_code == 403 and others.json()["error"] == "SignerMismatch"
    short = story.camat.client.post(
        f"/api/v1/documents/{document['id']}/decline", json={"role": "pihak_pertama", "reason": ""}
    )
    assert short.status_code == 422
    staff = story.operator.client.post(
        f"/api/v1/documents/{document['id']}/decline",
        json={"role": "pihak_pertama", "reason": "Nama instansi keliru"},
    )
    assert staff.status_code == 403

    declined = story.camat.client.post(
        f"/api/v1/documents/{document['id']}/decline",
        json={"role": "pihak_pertama", "reason": "Nama instansi keliru"},
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "ditolak"
    assert declined.json()["declined_role"] == "pihak_pertama"
    assert declined.json()["decline_reason"] == "Nama instansi keliru"
    mail = office.inbox.wait("operator", before + 1)[-1]
    assert "ditolak" in mail["Subject"] and document["number"] in mail["Subject"]
    text = body(mail)
    assert "Drs. Budi Santoso, M.Si." in text and "PIHAK PERTAMA" in text
    assert "Alasan: Nama instansi keliru" in text
    at = datetime.fromisoformat(declined.json()["declined_at"])
    assert f"Ditolak : {written(at, 'WITA')}" in text, text
    assert links_in(mail) == [f"{office.service.url}/dokumen/{document['id']}"]
    # Nobody signs it any more; the operator sees why, and revokes it.
    refused = story.ketua.sign(document["id"], "pihak_kedua")
    assert refused.status_code == 409
    seen = story.operator.client.get(f"/api/v1/documents/{document['id']}").json()
    assert seen["status"] == "ditolak" and seen["decline_reason"] == "Nama instansi keliru"
    code = document["verify_code"]
    public = httpx.get(f"{office.service.url}/api/v1/verify/{code}").json()
    assert public["status_label"] == "DITOLAK"
    revoked = story.operator.client.post(
        f"/api/v1/documents/{document['id']}/revoke", json={"reason": "Ditolak penanda tangan"}
    )
    assert revoked.status_code == 200, revoked.text


def test_a_batch_tells_each_signer_once_not_once_per_document(story: Story, office: Office) -> None:
    people, inbox, rows = office.people, office.inbox, 3
    signers = {
        "saksi_1": people.signer(
            str(BA["nip_saksi_1"]), name=str(BA["nama_saksi_1"]), email=address("saksi1")
        ),
        "saksi_2": people.signer(
            str(BA["nip_saksi_2"]), name=str(BA["nama_saksi_2"]), email=address("saksi2")
        ),
        "pejabat_pelantik": people.signer(
            nik=OFFICIAL_NIK,
            name=str(BA["nama_pejabat_pelantik"]),
            pangkat=None,
            jabatan="Bupati Sidoarjo",
            email=address("bupati"),
        ),
    }
    office.with_worker()
    office.settle()
    operator = story.operator.client
    operator_before = len(inbox.to("operator"))
    response = post_batch(
        operator,
        inauguration_csv(rows),
        signers={"pejabat_pelantik": signers["pejabat_pelantik"].signer_id},
    )
    assert response.status_code == 202, response.text
    batch = generated(operator, response.json()["id"])
    numbers = [d["number"] for d in batch["documents"]]
    assert len(numbers) == rows
    for who in ("saksi1", "saksi2"):
        inbox.wait(who, 2)
    office.settle()
    page = f"{office.service.url}/batch/{batch['id']}"
    for who, label in (("saksi1", "Saksi I"), ("saksi2", "Saksi II")):
        activation, turn = inbox.to(who)
        assert turn["Subject"] == f"Giliran Anda menandatangani {rows} dokumen"
        assert label in body(turn) and all(n in body(turn) for n in numbers)
        assert links_in(turn) == [page]
    assert len(inbox.to("bupati")) == 1  # the official's turn comes after both witnesses

    assert bulk_sign(signers["saksi_1"], batch["id"], "saksi_1")["done"] == rows
    office.settle()
    assert len(inbox.to("bupati")) == 1  # Saksi II has not signed yet
    assert bulk_sign(signers["saksi_2"], batch["id"], "saksi_2")["done"] == rows
    office.settle()
    activation, turn = inbox.to("bupati")
    assert turn["Subject"] == f"Giliran Anda menandatangani {rows} dokumen"
    assert "Pejabat yang melantik" in body(turn) and links_in(turn) == [page]

    assert bulk_sign(signers["pejabat_pelantik"], batch["id"], "pejabat_pelantik")["done"] == rows
    office.settle()
    (done,) = inbox.to("operator")[operator_before:]
    assert done["Subject"] == f"{rows} dokumen selesai ditandatangani"
    assert all(n in body(done) for n in numbers) and links_in(done) == [page]
    for who in ("saksi1", "saksi2", "bupati"):
        assert len(inbox.to(who)) == 2  # one activation link, one turn: never one per document


def test_a_mail_server_down_fails_no_request(office: Office) -> None:
    port = office.smtp.port
    office.smtp.stop()
    try:
        made = office.add_user("auditor", "unreachable")
        assert made["activation_url"]
        deadline = time.monotonic() + 60
        while "mail not sent" not in office.service.log.read_text():
            assert time.monotonic() < deadline, "the failed mail was not logged"
            time.sleep(0.2)
    finally:
        office.smtp = Controller(office.inbox, hostname="127.0.0.1", port=port)
        office.smtp.start()
    office.settle()  # and later mail goes out again
    assert office.inbox.to("unreachable") == []


def test_the_embedded_default_keeps_mail_as_files_under_the_data_dir(
    people: People, service: Service
) -> None:
    folder = (service.data_dir / "mail").resolve()
    assert f"surel               : berkas .eml di {folder}" in service.log.read_text()
    username = f"auditor-{uuid.uuid4().hex[:6]}"
    made = people.admin.client.post(
        "/api/v1/users",
        json={
            "username": username,
            "role": "auditor",
            "unit_ids": [people.unit_id],
            "email": address(username),
        },
    )
    assert made.status_code == 201, made.text
    url = made.json()["activation_url"]
    deadline = time.monotonic() + 30
    while True:
        kept = [p for p in sorted(folder.glob("*.eml")) if url.encode() in p.read_bytes()]
        if kept or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(kept) == 1, sorted(p.name for p in folder.iterdir())
    message = email.message_from_bytes(kept[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"].addresses[0].addr_spec == address(username)
    assert links_in(message) == [url]
    assert kept[0].stat().st_mode & 0o077 == 0  # activation links: for the service's user only
    assert not list(Path(folder).glob(".*.tmp"))
