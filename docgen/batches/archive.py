"""A batch as one ZIP: the current PDF of every document and a CSV manifest listing them.

Streamed: one PDF at a time is read from object storage and written out, so a batch of
thousands never sits in memory. PDFs are stored uncompressed (they are compressed already).
The manifest comes first, named ``daftar.csv``, with the number, name, NIP, status,
verification URL and SHA-256 of each file, in the batch's row order; its cells are neutralised
against CSV injection (:func:`spreadsheet_safe`).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator

from docgen.batches import repository
from docgen.documents.service import DocumentService
from docgen.registry.models import Document

__all__ = ["MANIFEST_NAME", "batch_zip", "pdf_name", "spreadsheet_safe"]

MANIFEST_NAME = "daftar.csv"
MANIFEST_HEADER = ["no", "nomor", "nama", "nip", "status", "verify_url", "sha256", "berkas"]
_UNSAFE = re.compile(r"[^A-Za-z0-9.]+")
# What makes Excel or LibreOffice read a cell as a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> str:
    """The cell as text a spreadsheet shows as text: one starting like a formula gets a leading
    ``'`` (OWASP's advice), which Excel hides and which keeps ``=HYPERLINK(...)`` from running.

    Legitimate values starting so (a negative number, a phone number ``+62...``) get the quote
    too: OWASP recommends it for every such cell, since whether ``-1+1`` or ``+62...`` is a
    formula is the spreadsheet's call, not ours.
    """
    text = str(cell)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def pdf_name(index: int, document: Document) -> str:
    """``0001-800.1.12-15-BKPSDM-VI-2024.pdf``: in order, and the number readable."""
    return f"{index:04d}-{_UNSAFE.sub('-', document.issued_number).strip('-')}.pdf"


class _Sink(io.RawIOBase):
    """Where zipfile writes; the generator hands out what piled up after each entry."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


async def batch_zip(service: DocumentService, batch_id: str) -> AsyncIterator[bytes]:
    """The ZIP of the batch, piece by piece. Raises NotFound before the first piece."""
    async with service.db.session() as session:
        batch = await repository.get(session, batch_id)
        documents = await repository.documents_of(session, batch_id)
    template = service.catalogue.get(batch.template_id, batch.template_version)

    async def pieces() -> AsyncIterator[bytes]:
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            listing = io.StringIO()
            writer = csv.writer(listing, lineterminator="\r\n")
            writer.writerow(MANIFEST_HEADER)
            for index, document in enumerate(documents, start=1):
                name, nip = template.manifest.person_of(document.data)
                row = [
                    index,
                    document.issued_number,
                    name,
                    nip,
                    document.status,
                    service.links.verify_url(document.issued_code),
                    document.revisions[-1].sha256,
                    pdf_name(index, document),
                ]
                writer.writerow([spreadsheet_safe(cell) for cell in row])
            # With a BOM, so that Excel opens the names with their accents right.
            archive.writestr(MANIFEST_NAME, "\ufeff" + listing.getvalue(), zipfile.ZIP_DEFLATED)
            yield sink.take()
            for index, document in enumerate(documents, start=1):
                pdf = await service.read(document.revisions[-1])
                archive.writestr(pdf_name(index, document), pdf)
                yield sink.take()
        yield sink.take()

    return pieces()
