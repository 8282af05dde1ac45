"""Paraf by e-mail, read from a real SMTP server on loopback (tests/mail.py): each verifikator is
told when it is their turn, the first signer only after the last paraf, and the operator gets
a returned document's note."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest

from tests.conftest import SignerAccount
from tests.mail import Office, address, body, links_in
from tests.people import Account
from tests.test_errors import own_nip
from tests.test_paraf import mou_request

NOTE = "Lampiran ruang lingkup belum lengkap"


@dataclass
class Story:
    operator: Account
    first: Account
    second: Account
    camat: SignerAccount
    mails: dict[str, list[EmailMessage]] = field(default_factory=dict)


def account(office: Office, role: str, who: str) -> Account:
    """A new account of ``role`` activated from the link in its mail."""
    made = office.add_user(role, who)
    link = links_in(office.inbox.wait(who)[0])[0]
    return office.people.activate_user(made["id"], made["username"], link)


def signer(office: Office, who: str, name: str) -> SignerAccount:
    nip = own_nip()
    office.people.enrol(nip, name=name, email=address(who))
    link = links_in(office.inbox.wait(who)[0])[0]
    return office.people.activate_signer({"nip": nip, "activation_url": link})


@pytest.fixture(scope="module")
def story(mail_office: Office) -> Story:
    """Two MoUs with two verifikator: one initialled by both, one returned by the first; what
    each mailbox held after each step."""
    office, inbox = mail_office, mail_office.inbox
    operator = account(office, "operator", "paraf-operator")
    first = account(office, "verifikator", "paraf-kasubbag")
    second = account(office, "verifikator", "paraf-sekcam")
    camat = signer(office, "paraf-camat", "Drs. Teguh Prasetyo, M.Si.")
    ketua = signer(office, "paraf-ketua", "Rina Kartika, S.H.")
    mails: dict[str, list[EmailMessage]] = {}

    made = operator.client.post(
        "/api/v1/documents", json=mou_request(camat, ketua, paraf=[first.id, second.id])
    )
    assert made.status_code == 201, made.text
    doc_id = made.json()["id"]
    mails["first_made"] = inbox.wait("paraf-kasubbag", 2)
    office.settle()
    mails["second_made"] = inbox.to("paraf-sekcam")
    mails["camat_made"] = inbox.to("paraf-camat")

    assert operator.client.get(f"/api/v1/documents/{doc_id}").json()["status"] == "menunggu_paraf"
    assert first.client.post(f"/api/v1/documents/{doc_id}/paraf").status_code == 200
    mails["second_first"] = inbox.wait("paraf-sekcam", 2)
    office.settle()
    mails["camat_first"] = inbox.to("paraf-camat")

    assert second.client.post(f"/api/v1/documents/{doc_id}/paraf").status_code == 200
    mails["camat_last"] = inbox.wait("paraf-camat", 2)

    again = operator.client.post(
        "/api/v1/documents", json=mou_request(camat, ketua, paraf=[first.id, second.id])
    )
    assert again.status_code == 201, again.text
    returned = first.client.post(
        f"/api/v1/documents/{again.json()['id']}/paraf/return", json={"note": NOTE}
    )
    assert returned.status_code == 200, returned.text
    mails["operator_returned"] = inbox.wait("paraf-operator", 2)
    return Story(operator, first, second, camat, mails)


def test_each_verifikator_is_told_when_it_is_their_turn(story: Story) -> None:
    turn = story.mails["first_made"][-1]
    assert turn["Subject"].startswith("Giliran Anda memaraf: ")
    assert "sebagai Verifikator 1" in body(turn)
    assert "/dokumen/" in body(turn)
    # The second verifikator hears only once the first initialled it.
    assert len(story.mails["second_made"]) == 1  # the activation link
    later = story.mails["second_first"][-1]
    assert later["Subject"].startswith("Giliran Anda memaraf: ")
    assert "sebagai Verifikator 2" in body(later)


def test_the_first_signer_is_told_only_after_the_last_paraf(story: Story) -> None:
    assert len(story.mails["camat_made"]) == 1  # the activation link
    assert len(story.mails["camat_first"]) == 1
    turn = story.mails["camat_last"][-1]
    assert turn["Subject"].startswith("Giliran Anda menandatangani: ")


def test_the_operator_gets_the_note_of_a_returned_document(story: Story) -> None:
    returned = story.mails["operator_returned"][-1]
    assert returned["Subject"].startswith("Dokumen dikembalikan verifikator: ")
    text = body(returned)
    assert f"Catatan: {NOTE}" in text
    assert story.first.username in text and "Verifikator 1" in text
    assert "buat dokumen baru" in text


def test_nothing_else_is_mailed(story: Story, mail_office: Office) -> None:
    mail_office.settle()
    subjects: dict[str, Any] = {
        who: [m["Subject"] for m in mail_office.inbox.to(who)]
        for who in ("paraf-kasubbag", "paraf-sekcam")
    }
    # Each verifikator: the activation link and one turn (the returned MoU's second step never
    # came).
    assert [len(s) for s in subjects.values()] == [3, 2], subjects
