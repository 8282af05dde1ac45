"""A docgen service that sends its mail to a real SMTP server on loopback (aiosmtpd), and what
that server received, by recipient: shared by the tests that read mail (the notifications, the
office journey in the browser)."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from docgen.pipeline.convert import free_port
from tests.conftest import Service, add_worker, start_service, stop_service, workers_of
from tests.people import People

__all__ = ["Inbox", "Office", "address", "body", "links_in", "mailing_office"]

LINK = re.compile(r"https?://\S+")


def address(who: str) -> str:
    return f"{who}@kab-sidoarjo.go.id"


@dataclass
class Inbox:
    """An aiosmtpd handler: every message the server accepted, by recipient."""

    got: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the server's own thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.got.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, who: str) -> list[EmailMessage]:
        with self.lock:
            return [message for rcpt, message in self.got if address(who) in rcpt]

    def wait(self, who: str, count: int = 1, timeout: float = 60) -> list[EmailMessage]:
        """The messages to ``who`` once there are at least ``count``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.to(who)
            if len(received) >= count:
                return received
            time.sleep(0.1)
        raise AssertionError(f"{count} messages to {who} expected, got {len(self.to(who))}")


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def links_in(message: EmailMessage) -> list[str]:
    return LINK.findall(body(message))


@dataclass
class Office:
    """The module's service, its SMTP server and the people of its one unit."""

    service: Service
    process: subprocess.Popen[bytes]  # (the service's)
    smtp: Controller
    inbox: Inbox
    people: People
    sentinel_id: str = ""
    log: list[str] = field(default_factory=list)

    def with_worker(self) -> None:
        """A queue worker beside the service, unless it has one: started by the tests that
        make batches only (a worker and its LibreOffice cost ~5 s of CPU to start)."""
        if not workers_of(self.process):
            add_worker(self.process, self.service)

    def settle(self) -> None:
        """Wait until every notice told so far is mailed: the service sends in order, so once a
        new link to the sentinel arrives, all that came before it has arrived too."""
        before = len(self.inbox.to("sentinel"))
        response = self.people.admin.client.post(f"/api/v1/users/{self.sentinel_id}/activation")
        assert response.status_code == 200, response.text
        self.inbox.wait("sentinel", before + 1)

    def add_user(self, role: str, who: str) -> dict[str, Any]:
        """A new account with an e-mail address; its id, username and activation link."""
        username = f"{who}-{uuid.uuid4().hex[:6]}"
        response = self.people.admin.client.post(
            "/api/v1/users",
            json={
                "username": username,
                "role": role,
                "unit_ids": [self.people.unit_id] if role != "admin" else [],
                "email": address(who),
            },
        )
        assert response.status_code == 201, response.text
        return {**response.json(), "username": username}


@contextmanager
def mailing_office(data_dir: Path) -> Iterator[Office]:
    """A service in ``data_dir`` whose mail goes to an SMTP server on loopback, while in use."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        process, service = start_service(
            data_dir,
            DOCGEN_SMTP_HOST="127.0.0.1",
            DOCGEN_SMTP_PORT=str(smtp.port),
            DOCGEN_SMTP_SECURITY="none",
            DOCGEN_MAIL_FROM="docgen Kabupaten Sidoarjo <docgen@kab-sidoarjo.go.id>",
        )
    except BaseException:
        smtp.stop()
        raise
    office = Office(service, process, smtp, inbox, People(service.url, service.data_dir))
    try:
        office.sentinel_id = office.add_user("auditor", "sentinel")["id"]
        office.inbox.wait("sentinel")
        yield office
    finally:
        stop_service(process)
        office.smtp.stop()  # (the one running now: a test may have started it again)
