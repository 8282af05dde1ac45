"""Independent tools used by the tests: poppler's pdfsig/pdftoppm and zxing-cpp."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import zxingcpp
from PIL import Image


def pdfsig(pdf: Path, root_pem: bytes, workdir: Path) -> str:
    """pdfsig's report with our root imported into a fresh NSS database."""
    nss = workdir / "nss"
    nss.mkdir(exist_ok=True)
    root = workdir / "root.pem"
    root.write_bytes(root_pem)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{nss}"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-n",
            "docgen-root",
            "-t",
            "CT,C,C",
            "-i",
            str(root),
            "-d",
            f"sql:{nss}",
        ],
        check=True,
    )
    result = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True, timeout=60
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


def page_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def pages_text(pdf: bytes) -> list[str]:
    """``pdftotext -layout`` of each page, without trailing whitespace on any line."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(pdf)
        tmp.flush()
        text = subprocess.run(
            ["pdftotext", "-layout", tmp.name, "-"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    pages = text.split("\f")[:-1]  # pdftotext ends every page with a form feed
    return ["\n".join(line.rstrip() for line in page.splitlines()) for page in pages]
