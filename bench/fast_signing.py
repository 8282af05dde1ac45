"""CPU per call of signing's fast paths for reading PDFs and building CMS, beside the library's.

    uv run python bench/fast_signing.py [--runs 200]

Makes what the bulk run (bench/bulk.py) signs: the berita acara pelantikan for one person,
rendered, converted by LibreOffice and prepared with its three signature fields; then signs it
three times (the first signature certifies) and adds the B-LTA revision, as the service does.
On those documents it times each piece of signing/fast/ that reads PDFs or builds CMS, once
with the fast paths on and once with them off (``signing.fast.use``), the way the bulk run
calls it:

- ``open_pdf``: four times per document (each signature and the B-LTA revision open the PDF
  they add to: the prepared PDF and the signed ones);
- preloading the objects signing reads (catalog, /Info, form, fields, signature dictionaries;
  for the B-LTA revision also the page tree down to the first page), and reading them: four
  times per document; the column is that reading, less opening the file;
- the signature container (``_RsaKeySigner.async_sign``): three per document, RSA-2048
  signature included, time stamp token not (the time stamper hands out one token made before);
- the time stamp token (``InternalTimeStamper.async_timestamp``, P-256): four per document
  (one per signature, one document time stamp).

Then the whole of it per document (3 x ``sign_pdf`` + ``add_long_term_validation``), all fast
paths on and all off (the appearance's QR code and font too: the switch is one).

CPU time (``time.process_time``) of each call, the median over --runs calls after one call not
counted, in this process: on the shared 2-core machine CPU time hardly depends on what else
runs, wall time does. The share is of 45 ms, the CPU per document the whole bulk run used over
all its processes (render, conversion, prepare, signing, storage) in the last quiet
measurement; today's machine is slower, so shares are indicative. A measurement, not a test: it
prints and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps.api import TimeStamper

import signing.fast
from docgen.pipeline.prepare import FOOTER as FOOTER_TEMPLATE
from docgen.pipeline.render import render_docx
from docgen.templating.catalogue import load_template
from signing.fast.objects import preload_first_page, preload_signature_dictionaries
from signing.fast.pdf_reading import open_pdf
from signing.pades.long_term import add_long_term_validation
from signing.pades.sign import SignatureAppearance, SigningIdentity, _RsaKeySigner, sign_pdf
from signing.pki.ca import CertificateAuthority
from signing.pki.keys import generate_private_key
from signing.pki.tsa import InternalTimeStamper
from signing.prepare.anchors import locate_anchors
from signing.prepare.stamp import prepare_pdf, signature_box_at
from tests.pdftools import soffice_convert
from tests.test_templates_content import ba_data

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "templates" / "berita-acara-pelantikan"
VERIFY_URL = "http://127.0.0.1:8000/v/Q2hlY2tDb2RlMTIzNDU2Nzg5"
# The service's footer, under every page.
FOOTER = FOOTER_TEMPLATE.format(url=VERIFY_URL)
BULK_CPU_MS_PER_DOCUMENT = 45.0


@dataclass(frozen=True)
class Row:
    piece: str
    fast_ms: float
    """Per call, the median."""
    library_ms: float
    calls: int
    """Per document in the bulk run."""
    saved_ms: float
    """Per document."""


@contextmanager
def fast_paths(on: bool) -> Iterator[None]:
    signing.fast.use(on)
    try:
        yield
    finally:
        signing.fast.use(True)


def cpu_ms(step: Callable[[], object], runs: int) -> float:
    """The median CPU time of ``step`` in ms, after one call that is not counted."""
    step()
    timings = []
    for _ in range(runs):
        start = time.process_time()
        step()
        timings.append((time.process_time() - start) * 1000)
    return statistics.median(timings)


def both(step: Callable[[], object], runs: int) -> tuple[float, float]:
    """``step``'s CPU ms with the fast paths on, and off."""
    with fast_paths(True):
        fast = cpu_ms(step, runs)
    with fast_paths(False):
        library = cpu_ms(step, runs)
    return fast, library


class OneToken(TimeStamper):
    """Hands out one token made before: the container's own cost, without the TSA's."""

    def __init__(self, token: cms.ContentInfo) -> None:
        super().__init__()
        self._token = token

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        return self._token


def berita_acara(workdir: Path) -> tuple[bytes, list[str]]:
    """The bulk run's document, prepared for signing, and its signers' roles in order."""
    template = load_template(TEMPLATE)
    docx = workdir / "ba.docx"
    docx.write_bytes(render_docx(template, ba_data(1), nomor="800.1/1/BKPSDM/VI/2024"))
    soffice_convert(workdir, [docx])
    pdf = (workdir / "ba.pdf").read_bytes()
    roles = [role.name for role in template.manifest.roles_in_order]
    anchors = locate_anchors(pdf, roles)
    boxes = [signature_box_at(anchors[role], f"ttd_{role}") for role in roles]
    return prepare_pdf(pdf, verify_url=VERIFY_URL, footer_text=FOOTER, fields=boxes), roles


def read_what_signing_reads(reader: PdfFileReader, archive: bool) -> None:
    """Resolve the objects that sign_pdf (``archive`` False) or add_long_term_validation
    resolves in the file it adds to: /Info, the catalog, the form and its fields, and the
    certification signature's dictionary to sign; every signature dictionary, the page tree
    down to the first page and its resources to archive. (The same objects as end up in the
    reader's cache after each of those calls on the bulk run's documents, no more.)"""
    reader.trailer["/Info"]
    root = reader.root
    for field in root["/AcroForm"]["/Fields"]:
        field = field.get_object()
        if archive and "/V" in field:
            field["/V"]
    if archive:
        page, _ = reader.find_page_for_modification(0)
        page.get_object()["/Resources"]
    elif "/Perms" in root:
        root["/Perms"]["/DocMDP"]


def bench(runs: int, workdir: Path) -> tuple[list[Row], tuple[float, float]]:
    """The rows per piece, and the whole signing of a document (fast, library) in CPU ms."""
    ca = CertificateAuthority.load_or_create(workdir / "ca", organization="Pemkab Sidoarjo")
    crl = ca.issue_crl([], crl_number=1)
    tsa = ca.timestamper()
    prepared, roles = berita_acara(workdir)
    signers = []
    for role in roles:
        key = generate_private_key()
        certificate = ca.issue_signer_certificate(
            key.public_key(), name=role, nip=None, jabatan=role, unit="Sidoarjo",
            crl_url="http://127.0.0.1/crl",
        )  # fmt: skip
        identity = SigningIdentity(private_key=key, certificate=certificate, chain=ca.chain)
        signers.append((f"ttd_{role}", identity, SignatureAppearance(role, role, VERIFY_URL)))
    loop = asyncio.new_event_loop()

    def sign_document() -> list[bytes]:
        """The PDFs each step opens (prepared, signed once, twice, three times) and the B-LTA
        one."""
        pdfs = [prepared]
        for n, (field, identity, look) in enumerate(signers):
            pdfs.append(
                loop.run_until_complete(
                    sign_pdf(
                        pdfs[-1],
                        field_name=field,
                        identity=identity,
                        appearance=look,
                        timestamper=tsa,
                        certify=n == 0,
                    )  # fmt: skip
                )
            )
        pdfs.append(
            loop.run_until_complete(
                add_long_term_validation(
                    pdfs[-1], trust_roots=[ca.root_certificate], crls=[crl], timestamper=tsa
                )
            )
        )
        return pdfs

    opened = sign_document()[:4]  # what the three signatures and the B-LTA revision open
    rows = []

    pairs = [both(lambda pdf=pdf: open_pdf(pdf), runs) for pdf in opened]
    rows.append(piece_row("open_pdf (xref tables, trailers)", pairs))

    pairs = []
    for ix, pdf in enumerate(opened):
        archive = ix == len(opened) - 1

        def read(preload: bool, pdf: bytes = pdf, archive: bool = archive) -> None:
            reader = open_pdf(pdf)
            if preload:  # the library path preloads nothing: pyHanko parses on demand
                preload_signature_dictionaries(reader, pdf)
                if archive:
                    preload_first_page(reader, pdf)
            read_what_signing_reads(reader, archive)

        opening = cpu_ms(lambda pdf=pdf: open_pdf(pdf), runs)
        pairs.append(
            (
                cpu_ms(lambda: read(True), runs) - opening,
                cpu_ms(lambda: read(False), runs) - opening,
            )
        )
    rows.append(piece_row("preloading the objects signing reads", pairs))

    digest = hashlib.sha256(b"isi dokumen").digest()
    token = loop.run_until_complete(tsa.async_timestamp(digest, "sha256"))
    pairs = []
    for _, identity, _ in signers:
        signer = _RsaKeySigner(identity)

        def container(signer: _RsaKeySigner = signer) -> None:
            loop.run_until_complete(
                signer.async_sign(
                    digest,
                    "sha256",
                    use_pades=True,
                    timestamper=OneToken(token),
                    signed_attr_settings=PdfCMSSignedAttributes(),
                )  # fmt: skip
            )

        pairs.append(both(container, runs))
    rows.append(piece_row("signature container (RSA-2048 included)", pairs))

    tsa_key = serialization.load_pem_private_key(
        (workdir / "ca" / "tsa-key.pem").read_bytes(), None
    )
    assert isinstance(tsa_key, ec.EllipticCurvePrivateKey)
    fresh_tsa = InternalTimeStamper(ca.tsa_certificate, tsa_key, chain=ca.chain)
    pair = both(lambda: loop.run_until_complete(fresh_tsa.async_timestamp(digest, "sha256")), runs)
    rows.append(piece_row("time stamp token (P-256, signature included)", [pair] * 4))

    whole = both(sign_document, max(runs // 10, 10))
    loop.close()
    return rows, whole


def piece_row(piece: str, pairs: list[tuple[float, float]]) -> Row:
    """One row from the (fast, library) ms of each call of ``piece`` in one document."""
    return Row(
        piece=piece,
        fast_ms=statistics.mean(fast for fast, _ in pairs),
        library_ms=statistics.mean(library for _, library in pairs),
        calls=len(pairs),
        saved_ms=sum(library - fast for fast, library in pairs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed calls per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docgen-fast-signing-") as tmp:
        rows, (fast_whole, library_whole) = bench(max(args.runs, 1), Path(tmp))
    print(
        f"CPU ms per call (median of {args.runs} after a warm-up, time.process_time); shares "
        f"of {BULK_CPU_MS_PER_DOCUMENT:g} ms, the bulk run's CPU per document"
    )
    print(
        f"{'piece':46s} {'fast':>7s} {'library':>8s} {'calls/doc':>9s} {'saved/doc':>9s} "
        f"{'share':>6s}"
    )
    for row in rows:
        share = row.saved_ms / BULK_CPU_MS_PER_DOCUMENT
        print(
            f"{row.piece:46s} {row.fast_ms:7.3f} {row.library_ms:8.3f} {row.calls:9d} "
            f"{row.saved_ms:9.2f} {share:6.1%}"
        )
    share = (library_whole - fast_whole) / BULK_CPU_MS_PER_DOCUMENT
    print(
        f"{'3 x sign_pdf + B-LTA, all fast paths':46s} {fast_whole:7.1f} {library_whole:8.1f} "
        f"{1:9d} {library_whole - fast_whole:9.2f} {share:6.1%}"
    )


if __name__ == "__main__":
    main()
