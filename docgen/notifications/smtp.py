"""Mail through an SMTP server (the agency's), with the standard library's client in a thread:
the event loop never waits on the network."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import anyio

from docgen.notifications.api import MailFailed

__all__ = ["DEFAULT_PORTS", "SmtpMailer", "SmtpSecurity"]

SmtpSecurity = Literal["none", "starttls", "ssl"]
DEFAULT_PORTS: dict[SmtpSecurity, int] = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class SmtpMailer:
    """One connection per :meth:`send`: TLS from the start (``ssl``), upgraded (``starttls``)
    or none (a relay on loopback); a login if ``user`` is given; ``timeout`` seconds for each
    step. Certificates are checked against the system's trust store."""

    host: str
    port: int
    security: SmtpSecurity = "starttls"
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0

    @property
    def where(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security})"

    async def send(self, messages: Sequence[EmailMessage]) -> None:
        """Raises MailFailed (the server unreachable or refusing; a message refused: the others
        are still sent)."""
        await anyio.to_thread.run_sync(self._send, messages)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            return client
        except BaseException:
            client.close()
            raise

    def _send(self, messages: Sequence[EmailMessage]) -> None:
        refused: list[str] = []
        try:
            with self._connect() as client:
                if self.user:
                    client.login(self.user, self.password or "")
                for message in messages:
                    try:
                        client.send_message(message)
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                        # The server refused this one; the connection goes on for the others.
                        refused.append(f"{message['To']}: {exc}")
        except OSError as exc:  # smtplib.SMTPException is one
            raise MailFailed(f"server SMTP {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise MailFailed(f"ditolak server SMTP {self.host}: {'; '.join(refused)}")
