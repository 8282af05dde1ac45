"""Checking uploaded PDFs: alone, and while other clients upload hostile PDFs (issue 19).

    uv run python bench/verify_uploads.py [-n 50] [--hostile 4] [--fields 3000] [--loaded N]

Against a fresh `docgen up` (as `make run`, the settings' defaults, the upload rate limit
lifted so it does not interfere) in a temporary directory: an MoU signed by both its parties
(two signatures and the B-LTA document timestamp), then ``POST /api/v1/verify`` of it, n times
one after the other, alone; then n (``--loaded``) times again while ``--hostile`` threads keep
uploading a small hostile PDF (``--fields`` empty signature widgets: 3,000 make ~360 KB), each
from its own address (``X-Forwarded-For``, honoured from loopback) and the honest client from
another. Prints p50 and p90 of each beside the issue's goals. A measurement, not a test: it
exits 0 whatever the figures (1 if the honest upload is not answered ASLI).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import start_service, stop_service
from tests.pdftools import form_fields_pdf
from tests.people import People
from tests.test_several_signers import bound_mou, mou_parties

GOAL_ALONE_MS = 150.0
GOAL_HOSTILE_MS = 1000.0
HONEST_ADDRESS = "198.51.100.10"


def signed_mou(people: People) -> bytes:
    """An MoU made by the operator and signed by the Camat, then the Ketua Panwaslu."""
    camat, ketua = mou_parties(people)
    operator = people.operator.client
    created = operator.post("/api/v1/documents", json=bound_mou(ketua))
    created.raise_for_status()
    doc_id = created.json()["id"]
    camat.sign(doc_id, "pihak_pertama").raise_for_status()
    ketua.sign(doc_id, "pihak_kedua").raise_for_status()
    return operator.get(f"/api/v1/documents/{doc_id}/pdf").content


def upload(client: httpx.Client, pdf: bytes, address: str) -> httpx.Response:
    return client.post(
        "/api/v1/verify",
        files={"file": ("berkas.pdf", pdf, "application/pdf")},
        headers={"X-Forwarded-For": address},
    )


def timed_uploads(url: str, pdf: bytes, n: int) -> list[float]:
    """Milliseconds of each of n uploads of ``pdf``, one after the other."""
    times = []
    with httpx.Client(base_url=url, timeout=300) as client:
        upload(client, pdf, HONEST_ADDRESS)  # warm-up, not counted
        for _ in range(n):
            start = time.perf_counter()
            response = upload(client, pdf, HONEST_ADDRESS)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200 or response.json()["verdict"] != "asli":
                print(f"the honest upload was answered {response.status_code}: {response.text}")
                sys.exit(1)
    return times


def keep_uploading(url: str, pdf: bytes, address: str, stop: threading.Event) -> dict[int, int]:
    """Upload ``pdf`` again and again until ``stop``; how many answers of each status."""
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=300) as client:
        while not stop.is_set():
            status = upload(client, pdf, address).status_code
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


def show(name: str, times: list[float], goal: float) -> None:
    cuts = statistics.quantiles(times, n=10)
    p50, p90 = statistics.median(times), cuts[8]
    met = "met" if p50 < goal else "NOT met"
    print(f"  {name:34s} p50 {p50:7.0f} ms  p90 {p90:7.0f} ms   goal p50 < {goal:,.0f} ms: {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="honest uploads per part (default 50)")
    parser.add_argument("--hostile", type=int, default=4, help="hostile clients (default 4)")
    parser.add_argument(
        "--fields",
        type=int,
        default=3000,
        help="signature fields of the hostile PDF (default 3000; 90 passes the bounds of the "
        "bytes and of the form, and keeps a process busy for each upload)",
    )
    parser.add_argument(
        "--loaded", type=int, default=0, help="honest uploads under hostile load (default: n)"
    )
    args = parser.parse_args()
    measure(args.n, args.hostile, args.fields, args.loaded or args.n)


def measure(n: int = 50, hostile_clients: int = 4, fields: int = 3000, loaded_n: int = 50) -> None:
    """Print the figures of n uploads alone and ``loaded_n`` under ``hostile_clients`` clients
    uploading a PDF of ``fields`` signature fields (see the module)."""
    hostile = form_fields_pdf(fields)
    with tempfile.TemporaryDirectory(prefix="docgen-bench-verify-") as tmp:
        Path(tmp).chmod(0o755)  # run as root, PostgreSQL runs as the postgres user
        data_dir = Path(tmp) / "service"
        data_dir.mkdir()
        process, service = start_service(
            data_dir, up=True, lean=False, DOCGEN_RATE_LIMIT_UPLOADS="1000000"
        )
        try:
            people = People(service.url, service.data_dir, database_url="")
            pdf = signed_mou(people)
            alone = timed_uploads(service.url, pdf, n)
            stop = threading.Event()
            answers: list[dict[int, int]] = []
            threads = [
                threading.Thread(
                    target=lambda i=i: answers.append(
                        keep_uploading(service.url, hostile, f"203.0.113.{i + 1}", stop)
                    )
                )
                for i in range(hostile_clients)
            ]
            for thread in threads:
                thread.start()
            time.sleep(2)  # the hostile uploads fill the queue first
            try:
                loaded = timed_uploads(service.url, pdf, loaded_n)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
        finally:
            stop_service(process)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"POST /api/v1/verify of a signed MoU ({len(pdf) // 1024} KB, 2 signatures + B-LTA), "
          f"n={n}; {os.cpu_count()} CPUs, load average after {load}")  # fmt: skip
    show("alone", alone, GOAL_ALONE_MS)
    show(f"with {hostile_clients} hostile clients (n={len(loaded)})", loaded, GOAL_HOSTILE_MS)
    total: dict[int, int] = {}
    for counted in answers:
        for status, count in counted.items():
            total[status] = total.get(status, 0) + count
    print(
        f"  hostile uploads ({len(hostile) // 1024} KB, {fields:,} signature fields) "
        "answered: " + ", ".join(f"{count} x {status}" for status, count in sorted(total.items()))
    )


if __name__ == "__main__":
    main()
