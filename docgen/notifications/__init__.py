"""Notifications by e-mail: whose turn it is to sign, documents complete or declined, and
activation links; through an SMTP server, or kept as ``.eml`` files (the embedded default)."""

from docgen.notifications.api import Mailer, MailFailed
from docgen.notifications.files import FileMailer
from docgen.notifications.service import Notifier, mailer_of
from docgen.notifications.smtp import SmtpMailer

__all__ = ["FileMailer", "MailFailed", "Mailer", "Notifier", "SmtpMailer", "mailer_of"]
