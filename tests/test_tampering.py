"""Uploaded copies that were changed after signing must be reported as not valid."""

from __future__ import annotations

import httpx
import pytest

from tests.pdftools import change_page_text
from tests.test_end_to_end import create_and_sign


@pytest.fixture(scope="module")
def signed_pdf(service) -> bytes:  # type: ignore[no-untyped-def]
    with service.client() as client:
        return create_and_sign(client)[3]


def upload(client: httpx.Client, pdf: bytes) -> dict:
    response = client.post("/api/v1/verify", files={"file": ("copy.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    return response.json()


def test_untouched_copy_is_valid(client: httpx.Client, signed_pdf: bytes) -> None:
    assert upload(client, signed_pdf)["valid"] is True


def test_one_flipped_byte_is_not_valid(client: httpx.Client, signed_pdf: bytes) -> None:
    # A byte inside the first page's content, which the signature covers.
    offset = signed_pdf.index(b"stream", len(signed_pdf) // 10) + 20
    tampered = bytearray(signed_pdf)
    tampered[offset] ^= 0x01
    result = upload(client, bytes(tampered))
    assert result["issued_here"] is False
    assert result["valid"] is False
    assert not all(s["intact"] for s in result["signatures"])


def test_incremental_update_changing_page_text_is_not_valid(
    client: httpx.Client, signed_pdf: bytes
) -> None:
    result = upload(client, change_page_text(signed_pdf))
    assert result["issued_here"] is False
    assert result["valid"] is False
    (sig,) = result["signatures"]
    assert sig["intact"] is True  # the signed bytes are untouched ...
    assert sig["modified_after"] is True  # ... but the page changed after signing
    assert sig["reason"]


def test_public_upload_page_tells_genuine_from_tampered(
    client: httpx.Client, signed_pdf: bytes
) -> None:
    assert 'action="/v"' in client.get("/v").text
    genuine = client.post("/v", files={"file": ("a.pdf", signed_pdf, "application/pdf")})
    assert genuine.status_code == 200
    assert "<strong>ASLI</strong>" in genuine.text and "Tanda tangan sah" in genuine.text
    tampered = bytearray(signed_pdf)
    tampered[signed_pdf.index(b"stream", len(signed_pdf) // 10) + 20] ^= 0x01
    forged = client.post("/v", files={"file": ("b.pdf", bytes(tampered), "application/pdf")})
    assert forged.status_code == 200
    assert "<strong>TIDAK SAH</strong>" in forged.text
    junk = client.post("/v", files={"file": ("c.pdf", b"bukan pdf", "application/pdf")})
    assert junk.status_code == 400 and "TIDAK DAPAT DIPERIKSA" in junk.text
