"""Tools used by the tests: LibreOffice once, poppler's pdfsig/pdftoppm, zxing-cpp, and a forged
PDF change."""

from __future__ import annotations

import io
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as SafeXml
import zxingcpp
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter


def soffice_convert(workdir: Path, docx_files: list[Path]) -> None:
    """Convert the DOCX files to PDF beside them: one cold headless soffice, a profile of its
    own (so it runs beside the service's servers)."""
    profile = workdir / f"lo-profile-{uuid.uuid4().hex}"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(workdir),
            *map(str, docx_files),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


def nss_db_trusting(directory: Path, root_pem: bytes) -> str:
    """A fresh NSS database in ``directory`` that trusts only ``root_pem``, for pdfsig."""
    directory.mkdir(exist_ok=True)
    root = directory / "root.pem"
    root.write_bytes(root_pem)
    db = f"sql:{directory}"
    subprocess.run(["certutil", "-N", "--empty-password", "-d", db], check=True, timeout=30)
    subprocess.run(
        ["certutil", "-A", "-n", "docgen-root", "-t", "CT,C,C", "-i", str(root), "-d", db],
        check=True,
        timeout=30,
    )
    return db


def pdfsig(pdf: Path, root_pem: bytes, workdir: Path) -> str:
    """pdfsig's report with our root imported into a fresh NSS database."""
    db = nss_db_trusting(workdir / "nss", root_pem)
    result = subprocess.run(
        ["pdfsig", "-nssdir", db, str(pdf)], capture_output=True, text=True, timeout=60
    )
    return result.stdout + result.stderr


def qr_codes_per_page(pdf: Path, workdir: Path, dpi: int = 150) -> list[list[str]]:
    """Render every page and decode the QR codes on it."""
    prefix = workdir / "page"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True, timeout=60
    )
    pages = sorted(workdir.glob("page*.png"))
    return [
        [
            r.text
            for r in zxingcpp.read_barcodes(Image.open(p))
            if r.format == zxingcpp.BarcodeFormat.QRCode
        ]
        for p in pages
    ]


def pdftotext(pdf: Path, *options: str) -> str:
    return subprocess.run(
        ["pdftotext", *options, str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def raw_text(pdf: bytes, tmp_path: Path) -> str:
    """pdftotext -raw of PDF bytes (written to a new file in ``tmp_path``)."""
    path = tmp_path / f"text-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    return pdftotext(path, "-raw")


def change_page_text(pdf: bytes) -> bytes:
    """``pdf`` plus an incremental update that writes new text on page 1 (a forged change)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    stream = writer.add_object(
        generic.StreamObject(
            stream_data=b"BT /FPalsu 24 Tf 72 400 Td (DIUBAH: TIDAK BERLAKU) Tj ET"
        )
    )
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/FPalsu"): writer.add_object(font)}
            )
        }
    )
    writer.add_stream_to_page(0, stream, resources=resources)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_text(pdf: Path) -> str:
    return pdftotext(pdf, "-layout")


def pages_text(pdf: bytes) -> list[str]:
    """``pdftotext -layout`` of each page, without trailing whitespace on any line."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(pdf)
        tmp.flush()
        text = pdftotext(Path(tmp.name), "-layout")
    pages = text.split("\f")[:-1]  # pdftotext ends every page with a form feed
    return ["\n".join(line.rstrip() for line in page.splitlines()) for page in pages]


def form_fields_pdf(fields: int, field_type: bytes = b"/Sig") -> bytes:
    """A valid one-page PDF with ``fields`` empty form fields of ``field_type`` (``/Sig``:
    signature fields), each its own widget: 3,000 signature fields make ~300 KB that held a
    checking process for the whole time limit (issue 19)."""
    refs = b" ".join(b"%d 0 R" % (4 + i) for i in range(fields))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % refs,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [%s] >>" % refs,
    ]
    objects += [
        b"<< /Subtype /Widget /FT %s /T (F%d) /Rect [0 0 0 0] /P 3 0 R >>" % (field_type, i)
        for i in range(fields)
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass(frozen=True)
class Block:
    """A line of text or an image on a page, as poppler's pdftohtml places it (pixels at its
    72 dpi scale from the page's top-left)."""

    top: float
    left: float
    width: float
    height: float
    text: str = ""  # empty for an image
    image: bytes = b""  # the image's bytes as pdftohtml wrote them (PNG or JPEG)

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def right(self) -> float:
        return self.left + self.width


def page_blocks(pdf: bytes, page: int, workdir: Path) -> list[Block]:
    """The text lines and images of page ``page`` (1-based) in reading order (top, then left):
    what a person sees where, read by poppler's pdftohtml."""
    out = Path(tempfile.mkdtemp(dir=workdir))
    source = out / "dokumen.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftohtml", "-xml", "-q", "-f", str(page), "-l", str(page), str(source), str(out / "p")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    root = SafeXml.fromstring((out / "p.xml").read_bytes())
    blocks = []
    for element in (e for e in root.iter() if e.tag in ("text", "image")):
        place = {k: float(element.get(k, "0")) for k in ("top", "left", "width", "height")}
        if element.tag == "image":
            blocks.append(
                Block(**place, image=(out / Path(element.get("src", "")).name).read_bytes())
            )
        else:
            blocks.append(Block(**place, text=" ".join("".join(element.itertext()).split())))
    return sorted(blocks, key=lambda b: (b.top, b.left))


def words_with_annotations(pdf: bytes, workdir: Path) -> list[list[tuple[str, tuple[float, ...]]]]:
    """Per page, every word as a person sees it printed, the visible signatures' and stamps'
    text included (their appearances flattened into the page by qpdf, then ``pdftotext
    -bbox``): (word, (x1, y1, x2, y2)) in PDF points, origin bottom-left."""
    import html
    import re

    import pikepdf

    flat = workdir / f"flat-{time.monotonic_ns()}.pdf"
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.flatten_annotations(mode="all")
        doc.save(flat)
    pattern = re.compile(
        r'<page width="([\d.]+)" height="([\d.]+)">'
        r'|<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    )
    pages: list[list[tuple[str, tuple[float, ...]]]] = []
    height = 0.0
    for m in pattern.finditer(pdftotext(flat, "-bbox")):
        if m[1]:
            pages.append([])
            height = float(m[2])
            continue
        x0, y0, x1, y1 = (float(v) for v in m.group(3, 4, 5, 6))
        pages[-1].append((html.unescape(m[7]), (x0, height - y1, x1, height - y0)))
    return pages
