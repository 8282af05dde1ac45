"""Uploads checked within bounds (issue 19): PDFs built to keep a checking process busy are
refused before any signature is validated, and one client cannot hold more than its share."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.conftest import Service
from tests.pdftools import form_fields_pdf


def check(client: httpx.Client, pdf: bytes, address: str = "192.0.2.1") -> httpx.Response:
    return client.post(
        "/api/v1/verify",
        files={"file": ("berkas.pdf", pdf, "application/pdf")},
        headers={"X-Forwarded-For": address},
    )


def many_signatures(count: int) -> bytes:
    return b"%PDF-1.7\n" + b"<< /Type /Sig /ByteRange [0 0 0 0] >>\n" * count + b"%%EOF\n"


def many_revisions(count: int) -> bytes:
    return b"%PDF-1.7\n" + b"xref\n0 0\ntrailer\n<< >>\nstartxref\n9\n%%EOF\n" * count


@pytest.mark.parametrize(
    ("pdf", "message"),
    [
        (form_fields_pdf(3000), "lebih dari 100 kolom tanda tangan"),
        (many_signatures(51), "lebih dari 50 tanda tangan"),
        (many_revisions(101), "lebih dari 100 revisi"),
        # Text fields: not seen in the bytes, counted by the worker after parsing the form.
        (form_fields_pdf(150, b"/Tx"), "lebih dari 100 kolom formulir"),
    ],
    ids=["signature-fields", "signatures", "revisions", "form-fields"],
)
def test_a_pdf_beyond_our_bounds_is_refused_with_400(
    anonymous: httpx.Client, pdf: bytes, message: str
) -> None:
    response = check(anonymous, pdf)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "UploadInvalid"
    assert message in response.json()["detail"]


def test_a_pdf_within_the_bounds_is_checked(anonymous: httpx.Client) -> None:
    response = check(anonymous, form_fields_pdf(90))
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "tidak_sah"


def test_one_client_has_at_most_three_checks_at_once(service: Service) -> None:
    # Ten at once from one address (each ~0.5 s of work: 90 empty signature fields): three are
    # taken (DOCGEN_VERIFY_PER_CLIENT), the others answered 429 at once; another address is
    # served meanwhile.
    pdf = form_fields_pdf(90)
    start = threading.Barrier(11)
    answers: list[httpx.Response] = []

    def one(address: str) -> None:
        with httpx.Client(base_url=service.url, timeout=120) as client:
            start.wait()
            answers.append(check(client, pdf, address))

    threads = [threading.Thread(target=one, args=("192.0.2.50",)) for _ in range(10)]
    threads.append(threading.Thread(target=one, args=("192.0.2.51",)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [r for r in answers if r.status_code == 429]
    assert 0 < len(refused) <= 7
    assert sorted({r.status_code for r in answers}) == [200, 429]
    body = refused[0].json()
    assert body == {
        "error": "TooManyRequests",
        "detail": "Masih ada pemeriksaan berkas Anda yang berjalan; coba lagi sebentar lagi",
    }
    assert int(refused[0].headers["Retry-After"]) > 0
