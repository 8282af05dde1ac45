"""Uploaded copies that were changed after signing must be reported as not valid."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import People
from tests.pdftools import change_page_text
from tests.test_end_to_end import create_and_sign


@pytest.fixture(scope="module")
def signed_pdf(people: People) -> bytes:
    """A pakta made by the operator and signed by its signer."""
    return create_and_sign(people)[3]


def upload(public: httpx.Client, pdf: bytes) -> dict:
    response = public.post("/api/v1/verify", files={"file": ("copy.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    return response.json()


def test_untouched_copy_is_valid(anonymous: httpx.Client, signed_pdf: bytes) -> None:
    assert upload(anonymous, signed_pdf)["valid"] is True


def test_one_flipped_byte_is_not_valid(anonymous: httpx.Client, signed_pdf: bytes) -> None:
    # A byte inside the first page's content, which the signature covers.
    offset = signed_pdf.index(b"stream", len(signed_pdf) // 10) + 20
    tampered = bytearray(signed_pdf)
    tampered[offset] ^= 0x01
    result = upload(anonymous, bytes(tampered))
    assert result["issued_here"] is False
    assert result["valid"] is False
    assert not all(s["intact"] for s in result["signatures"])


def test_incremental_update_changing_page_text_is_not_valid(
    anonymous: httpx.Client, signed_pdf: bytes
) -> None:
    result = upload(anonymous, change_page_text(signed_pdf))
    assert result["issued_here"] is False
    assert result["valid"] is False
    (sig,) = result["signatures"]
    assert sig["intact"] is True  # the signed bytes are untouched ...
    assert sig["modified_after"] is True  # ... but the page changed after signing
    assert sig["reason"]


def test_public_upload_page_tells_genuine_from_tampered(
    anonymous: httpx.Client, signed_pdf: bytes
) -> None:
    assert 'action="/v"' in anonymous.get("/v").text
    genuine = anonymous.post("/v", files={"file": ("a.pdf", signed_pdf, "application/pdf")})
    assert genuine.status_code == 200
    assert "<strong>ASLI</strong>" in genuine.text and "Tanda tangan sah" in genuine.text
    tampered = bytearray(signed_pdf)
    tampered[signed_pdf.index(b"stream", len(signed_pdf) // 10) + 20] ^= 0x01
    forged = anonymous.post("/v", files={"file": ("b.pdf", bytes(tampered), "application/pdf")})
    assert forged.status_code == 200
    assert "<strong>TIDAK SAH</strong>" in forged.text
    junk = anonymous.post("/v", files={"file": ("c.pdf", b"bukan pdf", "application/pdf")})
    assert junk.status_code == 400 and "TIDAK DAPAT DIPERIKSA" in junk.text
