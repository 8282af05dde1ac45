"""What sends mail: the :class:`Mailer` interface, and the one error its implementations raise.

Implementations beside it: :class:`~docgen.notifications.smtp.SmtpMailer` (an SMTP server) and
:class:`~docgen.notifications.files.FileMailer` (``.eml`` files in a folder, the embedded
default).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

__all__ = ["MailFailed", "Mailer"]


class MailFailed(Exception):
    """Some messages were not sent (the server unreachable, a recipient refused, a full disk).
    The message names the cause; the causes of the mailer's client are chained."""


class Mailer(Protocol):
    """Sends messages, or keeps them where a person can read them."""

    @property
    def where(self) -> str:
        """Where mail goes, in Bahasa Indonesia (for the start-up banner)."""
        ...

    async def send(self, messages: Sequence[EmailMessage]) -> None:
        """Send every message (one connection for all). Raises MailFailed naming what was not
        sent; the others were sent."""
        ...
