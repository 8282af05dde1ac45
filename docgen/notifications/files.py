"""The embedded default mailer: every message kept as an ``.eml`` file in one folder, which any
mail program opens. Nothing leaves the machine."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import anyio

from docgen.notifications.api import MailFailed

__all__ = ["FileMailer"]


@dataclass(frozen=True)
class FileMailer:
    """Writes each message to ``folder`` as ``<UTC time>-<random>.eml`` (sorted by time). Only
    the service's user may read them: activation links are in them."""

    folder: Path

    @property
    def where(self) -> str:
        return f"berkas .eml di {self.folder.resolve()}"

    async def send(self, messages: Sequence[EmailMessage]) -> None:
        """Raises MailFailed (the folder cannot be written)."""
        await anyio.to_thread.run_sync(self._write, messages)

    def _write(self, messages: Sequence[EmailMessage]) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for message in messages:
                name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
                # Written aside, then renamed: a reader never sees half a message.
                partial = self.folder / f".{name}.tmp"
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(message.as_bytes())
                partial.replace(self.folder / name)
        except OSError as exc:
            raise MailFailed(f"surel tidak dapat disimpan di {self.folder}: {exc}") from exc
