"""The words the office pages show for the registry's statuses."""

from __future__ import annotations

from docgen.registry.statuses import BatchStatus, DocumentStatus, SignerStatus, SigningStatus

__all__ = ["BATCH_LABELS", "SIGNER_LABELS", "SIGNING_LABELS", "STATUS_LABELS"]

STATUS_LABELS = {
    DocumentStatus.DRAF: "Draf",
    DocumentStatus.MENUNGGU_PARAF: "Menunggu paraf",
    DocumentStatus.MENUNGGU: "Menunggu tanda tangan",
    DocumentStatus.SAH: "Sah",
    DocumentStatus.DICABUT: "Dicabut",
    DocumentStatus.DITOLAK: "Ditolak",
    DocumentStatus.DIKEMBALIKAN: "Dikembalikan verifikator",
}
BATCH_LABELS = {
    BatchStatus.ANTRE: "Antre",
    BatchStatus.BERJALAN: "Berjalan",
    BatchStatus.SELESAI: "Selesai",
}
SIGNING_LABELS = {
    SigningStatus.BERJALAN: "berjalan",
    SigningStatus.SELESAI: "selesai",
    SigningStatus.TERPUTUS: "terputus; kirim lagi untuk menandatangani sisanya",
    SigningStatus.GAGAL: "gagal",
    SigningStatus.DIHENTIKAN: "dihentikan: sertifikat penanda tangan dicabut",
}
SIGNER_LABELS = {
    SignerStatus.MENUNGGU_PERSETUJUAN: "menunggu persetujuan",
    SignerStatus.MENUNGGU_AKTIVASI: "menunggu aktivasi",
    SignerStatus.AKTIF: "aktif",
    SignerStatus.DICABUT: "dicabut",
}
