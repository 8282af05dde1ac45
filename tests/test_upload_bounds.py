"""Uploads checked within bounds (issue 19): one client cannot hold more than its share."""

from __future__ import annotations

import threading

import httpx

from tests.conftest import Service
from tests.pdftools import form_fields_pdf


def check(client: httpx.Client, pdf: bytes, address: str = "192.0.2.1") -> httpx.Response:
    return client.post(
        "/api/v1/verify",
        files={"file": ("berkas.pdf", pdf, "application/pdf")},
        headers={"X-Forwarded-For": address},
    )


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
