"""Notifications by e-mail: a verifikator's turn to initial (paraf) and a signer's turn to sign,
to the operator a document complete, declined or returned, and activation links.

The services tell the :class:`Notifier` what happened once their transaction has committed; it
never makes them wait or fail. Each notice goes to an outbox in memory (bounded); one task of
the service turns notices into messages, reading from the registry who is to be told and how
to reach them, and hands them to the :class:`~docgen.notifications.api.Mailer`, logging what
could not be sent. A batch is told in one message per person, not one per document.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import anyio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

import docgen.notifications.messages as messages
import docgen.notifications.repository as repository
from docgen.kit.links import Links
from docgen.notifications.api import Mailer, MailFailed
from docgen.notifications.files import FileMailer
from docgen.notifications.messages import Letter, Subject
from docgen.notifications.smtp import DEFAULT_PORTS, SmtpMailer
from docgen.paraf.steps import current_step
from docgen.people.profiles import zone_of, zones_of
from docgen.registry.db import Database
from docgen.registry.models import Batch, Document, SignatureSlot, Signer, User
from docgen.registry.statuses import DocumentStatus, ParafState
from docgen.settings import Settings
from signing.waktu import Zona, format_waktu

__all__ = ["Notifier", "due_slots", "mailer_of", "newly_due"]

log = logging.getLogger(__name__)

# Notices waiting to be sent; past this (a mail server that hangs) new ones are dropped, logged.
OUTBOX_SIZE = 1000
# When the service stops: this long to send what is still waiting.
STOP_GRACE = 10.0


def mailer_of(settings: Settings) -> Mailer:
    """The SMTP server of the settings, or (none given) ``.eml`` files under the data dir."""
    if not settings.smtp_host:
        return FileMailer(settings.mail_dir or settings.data_dir / "mail")
    security = settings.smtp_security
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port or DEFAULT_PORTS[security],
        security,
        user=settings.smtp_user,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
    )


def due_slots(document: Document) -> list[SignatureSlot]:
    """The unsigned slots whose turn it is (the lowest order still unsigned) of a document
    waiting for signatures."""
    if document.status != DocumentStatus.MENUNGGU:
        return []
    unsigned = [slot for slot in document.slots if slot.signed_at is None]
    first = min((slot.order for slot in unsigned), default=None)
    return [slot for slot in unsigned if slot.order == first]


def newly_due(document: Document, role: str) -> list[SignatureSlot]:
    """The slots whose turn came when ``role`` was signed: those of the next order, once no
    slot of the signed one's order waits any more."""
    signed = next((slot for slot in document.slots if slot.role == role), None)
    due = due_slots(document)
    if signed is None or not due or due[0].order <= signed.order:
        return []
    return due


@dataclass(frozen=True)
class _Activation:
    user_id: str
    url: str = field(repr=False)  # a secret: never logged


@dataclass(frozen=True)
class _Issued:
    document_id: str


@dataclass(frozen=True)
class _BatchMade:
    batch_id: str


@dataclass(frozen=True)
class _Signed:
    document_ids: tuple[str, ...]
    role: str
    batch_id: str | None


@dataclass(frozen=True)
class _Declined:
    document_id: str
    role: str
    reason: str


@dataclass(frozen=True)
class _ParafTurn:
    document_id: str


@dataclass(frozen=True)
class _Returned:
    document_id: str


_Notice = _Activation | _Issued | _BatchMade | _Signed | _Declined | _ParafTurn | _Returned


class Notifier:
    """Tells people by e-mail; runs while :meth:`running` is entered (the service's lifetime)."""

    def __init__(
        self, db: Database, mailer: Mailer, links: Links, *, sender: str, activation_hours: int
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.links = links
        self.sender = sender
        self.activation_hours = activation_hours
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        self._outbox, self._inbox = anyio.create_memory_object_stream[_Notice](OUTBOX_SIZE)
        self._stopped = anyio.Event()

    @classmethod
    def of(cls, settings: Settings, db: Database, links: Links) -> Notifier:
        return cls(
            db,
            mailer_of(settings),
            links,
            sender=settings.mail_from,
            activation_hours=settings.activation_hours,
        )

    @property
    def where(self) -> str:
        """Where mail goes (for the start-up banner)."""
        return self.mailer.where

    # What the services tell -----------------------------------------------------------------

    def activation(self, session: AsyncSession, user_id: str, url: str) -> None:
        """Mail the user their activation link once ``session`` commits (nothing if it does
        not: a link that was never stored does not work)."""
        notice = _Activation(user_id, url)
        event.listen(session.sync_session, "after_commit", lambda _: self._post(notice), once=True)

    def issued(self, document_id: str) -> None:
        """A document is open for signing: its first signers' turn."""
        self._post(_Issued(document_id))

    def batch_made(self, batch_id: str) -> None:
        """A batch's documents were made: their first signers' turn, one message each."""
        self._post(_BatchMade(batch_id))

    def signed(self, document_ids: Sequence[str], role: str, batch_id: str | None = None) -> None:
        """``role`` of these documents was signed: the next signers' turn, and to their
        operators the documents now complete. With ``batch_id`` (a bulk signing): one message
        per person for all of them."""
        if document_ids:
            self._post(_Signed(tuple(document_ids), role, batch_id))

    def declined(self, document_id: str, role: str, reason: str) -> None:
        """The signer of ``role`` declined to sign, for ``reason``: to the document's operator."""
        self._post(_Declined(document_id, role, reason))

    def paraf_turn(self, document_id: str) -> None:
        """A document waits for paraf: its current verifikator's turn."""
        self._post(_ParafTurn(document_id))

    def paraf_returned(self, document_id: str) -> None:
        """A verifikator returned the document with a note: to its operator."""
        self._post(_Returned(document_id))

    def _post(self, notice: _Notice) -> None:
        try:
            self._outbox.send_nowait(notice)
        except anyio.WouldBlock:
            log.error("mail outbox full: %s dropped", notice)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.error("service stopping: %s dropped", notice)

    # Sending --------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Notifier]:
        """Send notices as they come; on exit, what is still waiting (for STOP_GRACE seconds
        at most: then it is dropped). A notifier runs once."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._deliver_all)
            try:
                yield self
            finally:
                self._outbox.close()
                with anyio.move_on_after(STOP_GRACE, shield=True):
                    await self._stopped.wait()
                group.cancel_scope.cancel()

    async def _deliver_all(self) -> None:
        async with self._inbox:
            async for notice in self._inbox:
                await self._deliver(notice)
        self._stopped.set()

    async def _deliver(self, notice: _Notice) -> None:
        try:
            mail = await self._messages(notice)
            if mail:
                await self.mailer.send(mail)
        except MailFailed as exc:
            log.warning("%s: mail not sent: %s", notice, exc)
        except Exception:
            log.exception("%s: notification failed", notice)

    async def _messages(self, notice: _Notice) -> list[EmailMessage]:
        async with self.db.session() as session:
            match notice:
                case _Activation():
                    return await self._activation(session, notice)
                case _Issued():
                    documents = await repository.documents(session, [notice.document_id])
                    due = [(d, slot) for d in documents for slot in due_slots(d)]
                    return await self._turns(session, due, None)
                case _BatchMade():
                    batch = await session.get(Batch, notice.batch_id)
                    documents = await repository.batch_documents(session, notice.batch_id)
                    due = [(d, slot) for d in documents for slot in due_slots(d)]
                    return await self._turns(session, due, batch)
                case _Signed():
                    return await self._signed(session, notice)
                case _Declined():
                    return await self._declined(session, notice)
                case _ParafTurn():
                    return await self._paraf_turn(session, notice)
                case _Returned():
                    return await self._returned(session, notice)

    async def _activation(self, session: AsyncSession, notice: _Activation) -> list[EmailMessage]:
        user = await session.get(User, notice.user_id)
        if user is None or not user.email:
            return []
        letter = messages.activation(
            self._name(user), user.username, user.role, notice.url, self.activation_hours
        )
        return self._addressed([(user, letter)])

    async def _signed(self, session: AsyncSession, notice: _Signed) -> list[EmailMessage]:
        documents = await repository.documents(session, notice.document_ids)
        batch = await session.get(Batch, notice.batch_id) if notice.batch_id else None
        due = [(d, slot) for d in documents for slot in newly_due(d, notice.role)]
        complete = [d for d in documents if d.status == DocumentStatus.SAH]
        return [
            *await self._turns(session, due, batch),
            *await self._complete(session, complete, batch),
        ]

    async def _turns(
        self,
        session: AsyncSession,
        due: Sequence[tuple[Document, SignatureSlot]],
        batch: Batch | None,
    ) -> list[EmailMessage]:
        """One message per signer: for a document, or for all theirs of a batch."""
        per_signer: defaultdict[str, list[tuple[Document, SignatureSlot]]] = defaultdict(list)
        for document, slot in due:
            if slot.assigned_signer_id is not None:
                per_signer[slot.assigned_signer_id].append((document, slot))
        accounts = await repository.accounts_of_signers(session, per_signer)
        letters: list[tuple[User, Letter]] = []
        for signer_id, waiting in per_signer.items():
            user = accounts.get(signer_id)
            if user is None:
                continue
            name = self._name(user)
            if batch is not None and len(waiting) > 1:
                labels = list(dict.fromkeys(slot.label for _, slot in waiting))
                subjects = [self._subject(d) for d, _ in waiting]
                link = self.links.batch_page(batch.id)
                letters.append(
                    (user, messages.batch_turn(name, labels, subjects, batch.filename, link))
                )
            else:
                letters += [
                    (user, messages.turn(name, slot.label, self._subject(d))) for d, slot in waiting
                ]
        return self._addressed(letters)

    async def _complete(
        self, session: AsyncSession, documents: Sequence[Document], batch: Batch | None
    ) -> list[EmailMessage]:
        """To each operator who made them: the documents now complete."""
        per_maker: defaultdict[str, list[Document]] = defaultdict(list)
        for document in documents:
            if document.created_by is not None:
                per_maker[document.created_by].append(document)
        users = await repository.users_with_email(session, per_maker)
        zones = await zones_of(session, [d.unit_id for d in documents])
        letters: list[tuple[User, Letter]] = []
        for user_id, done in per_maker.items():
            user = users.get(user_id)
            if user is None:
                continue
            name = self._name(user)
            if batch is not None and len(done) > 1:
                subjects = [self._subject(d) for d in done]
                link = self.links.batch_page(batch.id)
                letters.append(
                    (user, messages.batch_complete(name, subjects, batch.filename, link))
                )
            else:
                letters += [
                    (user, messages.complete(name, self._subject(d), _completed(d, zones)))
                    for d in done
                ]
        return self._addressed(letters)

    async def _declined(self, session: AsyncSession, notice: _Declined) -> list[EmailMessage]:
        found = await repository.documents(session, [notice.document_id])
        document = found[0] if found else None
        if document is None or document.created_by is None:
            return []
        slot = next((s for s in document.slots if s.role == notice.role), None)
        signer_id = slot.assigned_signer_id if slot else None
        signer = await session.get(Signer, signer_id) if signer_id else None
        users = await repository.users_with_email(session, [document.created_by])
        user = users.get(document.created_by)
        if slot is None or signer is None or user is None:
            return []
        ditolak = format_waktu(
            document.declined_at or datetime.now(UTC), await zone_of(session, document.unit_id)
        )
        letter = messages.declined(
            self._name(user),
            signer.name,
            slot.label,
            notice.reason,
            self._subject(document),
            ditolak,
        )
        return self._addressed([(user, letter)])

    async def _paraf_turn(self, session: AsyncSession, notice: _ParafTurn) -> list[EmailMessage]:
        found = await repository.documents(session, [notice.document_id])
        step = current_step(found[0]) if found else None
        if step is None:
            return []
        users = await repository.users_with_email(session, [step.user_id])
        user = users.get(step.user_id)
        if user is None:
            return []
        letter = messages.paraf_turn(self._name(user), step.label, self._subject(found[0]))
        return self._addressed([(user, letter)])

    async def _returned(self, session: AsyncSession, notice: _Returned) -> list[EmailMessage]:
        found = await repository.documents(session, [notice.document_id])
        document = found[0] if found else None
        if document is None or document.created_by is None:
            return []
        step = next((s for s in document.paraf_steps if s.state == ParafState.DIKEMBALIKAN), None)
        users = await repository.users_with_email(session, [document.created_by])
        user = users.get(document.created_by)
        if step is None or user is None:
            return []
        letter = messages.paraf_returned(
            self._name(user),
            step.user.username,
            step.label,
            step.note or "",
            self._subject(document),
        )
        return self._addressed([(user, letter)])

    # Composing ------------------------------------------------------------------------------

    @staticmethod
    def _name(user: User) -> str:
        return user.signer.name if user.signer is not None else user.username

    def _subject(self, document: Document) -> Subject:
        return Subject(
            document.title,
            document.number,
            document.document_date,
            self.links.document_page(document.id),
        )

    def _addressed(self, letters: Sequence[tuple[User, Letter]]) -> list[EmailMessage]:
        addressed = []
        for user, letter in letters:
            message = EmailMessage()
            try:
                message["To"] = Address(display_name=self._name(user), addr_spec=user.email or "")
            except (ValueError, IndexError, MessageError) as exc:
                log.warning("user %s: no mail to an address that does not parse: %s", user.id, exc)
                continue
            message["From"] = self.sender
            message["Subject"] = letter.subject
            message["Date"] = format_datetime(datetime.now(UTC))
            message["Message-ID"] = make_msgid(domain=self._domain)
            message.set_content(letter.body)
            addressed.append(message)
        return addressed


def _completed(document: Document, zones: dict[str, Zona]) -> str:
    """When the last signer signed ``document``, written in its unit's zone."""
    last = max(slot.signed_at for slot in document.slots if slot.signed_at is not None)
    return format_waktu(last, zones.get(document.unit_id or "", Zona.WIB))
