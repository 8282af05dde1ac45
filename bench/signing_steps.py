"""Latency of the signing steps, in process: unseal, render, prepare, sign, archive, validate.

Needs no running service, only LibreOffice (`soffice`) and the tests' helpers (tests/pdftools.py):

    uv run python bench/signing_steps.py [--runs 20]

Everything is made afresh in a temporary directory: a CA with its TSA, two signers with PIN-sealed
keys, and the pakta integritas rendered from templates/ and converted by LibreOffice. Prepare, sign
and archive run on that real pakta, the way the service handles it: the mark and the signer's field
are added, the signer certifies the document into that field, and the one-signature result gets
its validation data and document time stamp. Each step runs once to warm up (lazy imports, fonts,
caches), then --runs times; the table shows p50 and p95 beside the budget for p50, and marks the
steps outside it. The figures are only as quiet as the
machine: the header gives its load average. A measurement, not a test: it exits 0 whatever the
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from docgen.pipeline.prepare import FOOTER
from docgen.pipeline.render import render_docx
from docgen.templating.catalogue import load_template
from docgen.templating.validation import validate_data
from signing.pades.long_term import add_long_term_validation
from signing.pades.sign import SignatureAppearance, SigningIdentity, sign_pdf
from signing.pki.ca import CertificateAuthority
from signing.pki.keys import generate_private_key, seal_private_key, unseal_private_key
from signing.prepare.anchors import locate_anchors
from signing.prepare.stamp import prepare_pdf, signature_box_at
from signing.validate.validation import validate_pdf
from tests.pdftools import soffice_convert

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "templates" / "pakta-integritas"
ROLE = "pembuat_pernyataan"
PIN = "246810"
PEPPER = b"bench-pepper-0123456789abcdef012"
VERIFY_URL = "https://ttd.example.go.id/v/Q2hlY2tDb2RlMTIzNDU2Nzg5MDEy"
NOMOR = "800.1.12/15/BKPSDM/VI/2024"
DATA = {
    "nama": "Drs. Budi Santoso, M.Si.",
    "nip": "198609262015051001",
    "pangkat": "III/a",
    "jabatan": "Kepala Seksi Kurikulum dan Penilaian Sekolah Dasar",
    "unit_kerja": "Bidang Pembinaan Sekolah Dasar",
    "instansi": "Dinas Pendidikan dan Kebudayaan",
    "tempat": "Sidoarjo",
    "tanggal": "2024-06-27",
}
FIRST, SECOND = "ttd_pihak_pertama", "ttd_pihak_kedua"
CRL_URL = "http://ttd.example.go.id/crl/root.crl"


@dataclass(frozen=True)
class Budget:
    """Bounds on p50, in ms; a floor says the step got suspiciously cheap."""

    ceiling: float
    floor: float = 0.0

    def __str__(self) -> str:
        return f"{self.floor:g}-{self.ceiling:g} ms" if self.floor else f"< {self.ceiling:g} ms"

    def verdict(self, p50: float) -> str:
        if p50 >= self.ceiling:
            return "OVER BUDGET"
        if p50 <= self.floor:
            return "UNDER FLOOR (KDF weakened?)"
        return "ok"


# The limits the test suite used to assert; the unseal floor guards the scrypt cost. Prepare,
# sign and archive have the per-document CPU that 1,000 documents in ~30 s on two cores allow.
BUDGETS = {
    "unseal": Budget(100, floor=10),
    "render": Budget(500),
    "prepare": Budget(6),
    "sign": Budget(12),
    "archive": Budget(10),
    "validate": Budget(1000),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(step: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds per call of ``step``, after one call that is not counted."""
    step()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def convert_to_pdf(docx: bytes, workdir: Path) -> bytes:
    """LibreOffice's PDF of ``docx``: one headless soffice, with a profile of its own."""
    source = workdir / "pakta.docx"
    source.write_bytes(docx)
    soffice_convert(workdir, [source])
    return (workdir / "pakta.pdf").read_bytes()


def two_field_pdf() -> bytes:
    """A blank A4 page with two empty signature fields, for the two-signer document."""
    writer = PdfFileWriter()
    empty = writer.add_object(generic.StreamObject(stream_data=b""))
    writer.insert_page(PageObject(contents=empty, media_box=(0, 0, 595, 842)))
    append_signature_field(writer, SigFieldSpec(FIRST, box=(60, 480, 300, 560)))
    append_signature_field(writer, SigFieldSpec(SECOND, box=(320, 480, 560, 560)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signer(ca: CertificateAuthority, name: str, jabatan: str) -> tuple[SigningIdentity, bytes]:
    """A signer's identity, and its key sealed under PIN the way the registry stores it."""
    key = generate_private_key()
    certificate = ca.issue_signer_certificate(
        key.public_key(), name=name, nip=None, jabatan=jabatan, unit="Sukamaju", crl_url=CRL_URL
    )
    identity = SigningIdentity(private_key=key, certificate=certificate, chain=ca.chain)
    return identity, seal_private_key(key, PIN, PEPPER)


def bench(runs: int, workdir: Path) -> list[tuple[str, str, list[float]]]:
    """(budget key, label, timings in ms) of each step."""
    ca = CertificateAuthority.load_or_create(workdir / "ca", organization="Pemkab Sidoarjo")
    timestamper = ca.timestamper()
    roots = [ca.root_certificate]
    crl = ca.issue_crl([], crl_number=1)
    budi, sealed = signer(ca, "Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju")
    siti, _ = signer(ca, "SITI AMINAH, S.H.", "Ketua Panwaslu Kecamatan Sukamaju")
    looks = {
        FIRST: SignatureAppearance("Drs. BUDI SANTOSO, M.Si.", "Camat Sukamaju", VERIFY_URL),
        SECOND: SignatureAppearance("SITI AMINAH, S.H.", "Ketua Panwaslu", VERIFY_URL),
    }

    template = load_template(TEMPLATE)
    data = validate_data(template.manifest, DATA)
    pdf = convert_to_pdf(render_docx(template, data, nomor=NOMOR), workdir)
    pakta_field = f"ttd_{ROLE}"
    box = signature_box_at(locate_anchors(pdf, [ROLE])[ROLE], pakta_field)
    footer = FOOTER.format(url=VERIFY_URL)
    blank = two_field_pdf()
    looks[pakta_field] = SignatureAppearance(DATA["nama"], DATA["jabatan"], VERIFY_URL)

    with asyncio.Runner() as loop:

        def sign(pdf: bytes, field: str, who: SigningIdentity, certify: bool = False) -> bytes:
            return loop.run(
                sign_pdf(
                    pdf,
                    field_name=field,
                    identity=who,
                    appearance=looks[field],
                    timestamper=timestamper,
                    certify=certify,
                )
            )

        def archive(pdf: bytes) -> bytes:
            return loop.run(
                add_long_term_validation(
                    pdf, trust_roots=roots, crls=[crl], timestamper=timestamper
                )
            )

        # What the service makes of a two-signer document: the first certifies, the last
        # signature is followed by the validation data and a document time stamp.
        countersigned = sign(sign(blank, FIRST, budi, certify=True), SECOND, siti)
        archived = archive(countersigned)
        report = validate_pdf(archived, roots, [crl])
        if not (report.valid and report.level == "B-LTA" and len(report.signatures) == 2):
            raise SystemExit(f"the two-signer document is not a valid B-LTA: {report}")
        # And of the pakta: one signer, who certifies it.
        prepared = prepare_pdf(pdf, verify_url=VERIFY_URL, footer_text=footer, fields=[box])
        certified = sign(prepared, pakta_field, budi, certify=True)
        pakta_archived = archive(certified)
        report = validate_pdf(pakta_archived, roots, [crl])
        if not (report.valid and report.level == "B-LTA" and report.signatures[0].certified):
            raise SystemExit(f"the pakta is not a certified, valid B-LTA: {report}")

        return [
            (
                "unseal",
                "unseal_private_key (PIN-sealed RSA-2048)",
                measure(lambda: unseal_private_key(sealed, PIN, PEPPER), runs),
            ),
            (
                "render",
                "render_docx (pakta integritas)",
                measure(lambda: render_docx(template, data, nomor=NOMOR), runs),
            ),
            (
                "prepare",
                "prepare_pdf (LibreOffice pakta, 1 field)",
                measure(
                    lambda: prepare_pdf(
                        pdf, verify_url=VERIFY_URL, footer_text=footer, fields=[box]
                    ),
                    runs,
                ),
            ),
            (
                "sign",
                "sign_pdf (pakta, certify, with TSA)",
                measure(lambda: sign(prepared, pakta_field, budi, certify=True), runs),
            ),
            (
                "archive",
                "add_long_term_validation (pakta, 1 sig)",
                measure(lambda: archive(certified), runs),
            ),
            (
                "validate",
                "validate_pdf (2 signatures, B-LTA)",
                measure(lambda: validate_pdf(archived, roots, [crl]), runs),
            ),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per step (default 20)")
    args = parser.parse_args()
    runs = max(args.runs, 1)
    with tempfile.TemporaryDirectory(prefix="docgen-signing-steps-") as tmp:
        rows = bench(runs, Path(tmp))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{runs} runs per step after one warm-up; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load}; budgets are on p50"
    )
    print(f"{'step':44s} {'p50 ms':>8s} {'p95 ms':>8s}  {'budget':12s} verdict")
    for key, label, timings in rows:
        p50, p95 = statistics.median(timings), percentile(timings, 0.95)
        budget = BUDGETS[key]
        print(f"{label:44s} {p50:8.1f} {p95:8.1f}  {budget!s:12s} {budget.verdict(p50)}")


if __name__ == "__main__":
    main()
