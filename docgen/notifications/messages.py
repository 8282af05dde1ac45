"""What the notifications say, in Bahasa Indonesia: plain text, each with the one link it is
about. No I/O: :class:`~docgen.notifications.service.Notifier` decides who gets which."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from docgen.indonesia.dates import tanggal_pendek
from docgen.registry.statuses import Role

__all__ = [
    "Letter",
    "Subject",
    "activation",
    "batch_complete",
    "batch_turn",
    "complete",
    "declined",
    "paraf_returned",
    "paraf_turn",
    "turn",
]

# Documents a batch message lists by number; the rest are counted.
LISTED = 10

_ROLES = {
    Role.ADMIN: "admin",
    Role.OPERATOR: "operator",
    Role.SIGNER: "penanda tangan",
    Role.AUDITOR: "auditor",
    Role.VERIFIKATOR: "verifikator",
}

_FOOTER = "\n\n-- \nSurel ini dikirim otomatis oleh docgen; mohon tidak dibalas.\n"


@dataclass(frozen=True)
class Letter:
    """A message's subject and plain-text body, before it is addressed."""

    subject: str
    body: str


@dataclass(frozen=True)
class Subject:
    """What a message about one document names of it."""

    title: str
    number: str | None
    document_date: str  # ISO, as the registry keeps it
    link: str

    def lines(self) -> str:
        on = tanggal_pendek(date.fromisoformat(self.document_date))
        return f"  {self.title}\n  Nomor   : {self.number or '-'}\n  Tanggal : {on}"

    @property
    def short(self) -> str:
        return f"{self.title} nomor {self.number}" if self.number else self.title


def _listing(documents: Sequence[Subject]) -> str:
    shown = [f"  - {d.number or '-'}  {d.title}" for d in documents[:LISTED]]
    if len(documents) > LISTED:
        shown.append(f"  ... dan {len(documents) - LISTED} dokumen lainnya")
    return "\n".join(shown)


def activation(name: str, username: str, role: Role, url: str, hours: int) -> Letter:
    """An account's one-time activation link (a new account, or a new link for it)."""
    sets = "kata sandi dan PIN tanda tangan" if role == Role.SIGNER else "kata sandi"
    return Letter(
        "Aktivasi akun docgen Anda",
        f"Yth. {name},\n\n"
        f"Akun docgen Anda sudah disiapkan.\n\n"
        f"  Nama pengguna : {username}\n"
        f"  Peran         : {_ROLES[role]}\n\n"
        f"Buka tautan berikut untuk membuat {sets} Anda:\n\n"
        f"{url}\n\n"
        f"Tautan ini hanya dapat dipakai sekali dan berlaku {hours} jam. Jangan teruskan surel "
        "ini kepada siapa pun: siapa pun yang membuka tautan ini dapat mengambil alih akun "
        "Anda. Jika Anda tidak merasa didaftarkan, abaikan surel ini." + _FOOTER,
    )


def turn(name: str, label: str, document: Subject) -> Letter:
    """A signer's turn to sign one document."""
    return Letter(
        f"Giliran Anda menandatangani: {document.short}",
        f"Yth. {name},\n\n"
        f"Giliran Anda menandatangani dokumen berikut sebagai {label}:\n\n"
        f"{document.lines()}\n\n"
        f"Buka dokumen: {document.link}\n\n"
        "Masuk dengan akun Anda, periksa isinya, lalu tandatangani dengan PIN Anda." + _FOOTER,
    )


def batch_turn(
    name: str, labels: Sequence[str], documents: Sequence[Subject], filename: str, link: str
) -> Letter:
    """A signer's turn to sign several documents of one batch."""
    return Letter(
        f"Giliran Anda menandatangani {len(documents)} dokumen",
        f"Yth. {name},\n\n"
        f"Giliran Anda menandatangani {len(documents)} dokumen dari daftar “{filename}” "
        f"sebagai {', '.join(labels)}:\n\n"
        f"{_listing(documents)}\n\n"
        f"Buka batch: {link}\n\n"
        "Anda dapat menandatangani semuanya sekaligus dengan satu kali memasukkan PIN." + _FOOTER,
    )


def complete(name: str, document: Subject, selesai: str) -> Letter:
    """To the operator: every signer signed, the document is SAH (``selesai``: the time of the
    last signature, written in the unit's zone)."""
    return Letter(
        f"Dokumen selesai ditandatangani: {document.short}",
        f"Yth. {name},\n\n"
        "Semua penanda tangan telah menandatangani dokumen berikut; dokumen kini SAH:\n\n"
        f"{document.lines()}\n  Selesai : {selesai}\n\n"
        f"Buka dokumen: {document.link}" + _FOOTER,
    )


def batch_complete(name: str, documents: Sequence[Subject], filename: str, link: str) -> Letter:
    """To the operator: every signer signed several documents of one batch."""
    return Letter(
        f"{len(documents)} dokumen selesai ditandatangani",
        f"Yth. {name},\n\n"
        f"Semua penanda tangan telah menandatangani {len(documents)} dokumen dari daftar "
        f"“{filename}”; dokumen-dokumen ini kini SAH:\n\n"
        f"{_listing(documents)}\n\n"
        f"Buka batch (unduh ZIP): {link}" + _FOOTER,
    )


def declined(
    name: str, signer: str, label: str, reason: str, document: Subject, ditolak: str
) -> Letter:
    """To the operator: a signer declined to sign, with their reason (``ditolak``: when, written
    in the unit's zone)."""
    return Letter(
        f"Dokumen ditolak: {document.short}",
        f"Yth. {name},\n\n"
        f"{signer} menolak menandatangani dokumen berikut sebagai {label}:\n\n"
        f"{document.lines()}\n  Ditolak : {ditolak}\n\n"
        f"Alasan: {reason}\n\n"
        f"Buka dokumen: {document.link}" + _FOOTER,
    )


def paraf_turn(name: str, label: str, document: Subject) -> Letter:
    """A verifikator's turn to initial (paraf) one document."""
    return Letter(
        f"Giliran Anda memaraf: {document.short}",
        f"Yth. {name},\n\n"
        f"Giliran Anda memaraf dokumen berikut sebagai {label}, sebelum ditandatangani:\n\n"
        f"{document.lines()}\n\n"
        f"Buka dokumen: {document.link}\n\n"
        "Masuk dengan akun Anda, periksa isinya, lalu paraf, atau kembalikan kepada operator "
        "dengan catatan." + _FOOTER,
    )


def paraf_returned(name: str, verifikator: str, label: str, note: str, document: Subject) -> Letter:
    """To the operator: a verifikator returned the document, with their note."""
    return Letter(
        f"Dokumen dikembalikan verifikator: {document.short}",
        f"Yth. {name},\n\n"
        f"{verifikator} ({label}) mengembalikan dokumen berikut tanpa paraf:\n\n"
        f"{document.lines()}\n\n"
        f"Catatan: {note}\n\n"
        "Dokumen ini tidak dapat diparaf atau ditandatangani lagi. Cabut dokumen ini, lalu buat "
        "dokumen baru yang sudah diperbaiki.\n\n"
        f"Buka dokumen: {document.link}" + _FOOTER,
    )
