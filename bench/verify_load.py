"""Public verification by code under load: what a QR code scanned by many phones costs.

    uv run python bench/verify_load.py [--seconds 15] [--connections 50] [--api-processes 1]

Starts `docgen serve` (``--workers`` = --api-processes) on a fresh data dir with its own
database, object storage and LibreOffice, with the rate limits out of the way (one client
makes all the requests here) and no access log in the service (as compose runs it: the proxy
keeps it), makes one pakta integritas and has its signer sign it, then runs
wrk (Debian's package; `make bench` installs it) on this machine, two threads and
--connections connections for --seconds on each public read of that document:

- ``GET /api/v1/verify/{code}`` (JSON) and ``GET /v/{code}`` (the page the QR code opens),

and prints requests per second and the 99th percentile latency of each beside the goals of
issue 19 (>= 1,000 requests/s, p99 < 50 ms). wrk shares the machine's cores with the service,
as it did when the issue measured 193 and 169 requests/s. Then the uploads
(``POST /api/v1/verify``), alone and under hostile load, as bench/verify_uploads.py measures
them (--no-uploads: not).
A measurement, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

import verify_uploads  # the bench beside this one

from tests.conftest import create_pakta, sign_pakta, start_service, stop_service
from tests.people import People
from tests.postgres import stop_session_cluster

NIP = "198609262015051001"  # pakta_data's
GOAL_RPS = 1000.0
GOAL_P99_MS = 50.0
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """Requests per second and the 99th percentile latency (ms) wrk measured on ``url``."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  ({errors[1]} answers were not 2xx: {url})")
    return rps, float(value) * UNITS_MS[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--no-uploads", action="store_true", help="the code routes only")
    args = parser.parse_args()
    serve_args = ("--workers", str(args.api_processes)) if args.api_processes > 1 else ()
    with tempfile.TemporaryDirectory(prefix="docgen-bench-") as where:
        process, service = start_service(
            Path(where) / "docgen",
            serve_args=serve_args,
            lean=False,  # as deployed (the views kept for a second)
            DOCGEN_RATE_LIMIT_READS="1000000000",
            DOCGEN_ACCESS_LOG="false",  # as compose runs it: the proxy keeps the access log
        )
        try:
            people = People(service.url, service.data_dir)
            signer = people.signer(NIP)
            document = create_pakta(people.operator.client, NIP)
            assert sign_pakta(signer, document["id"]).status_code == 200
            code = document["verify_code"]
            print(
                f"verify_load: {args.api_processes} API process(es), wrk -t2 "
                f"-c{args.connections} -d{args.seconds}s on this machine"
            )
            for route in (f"/api/v1/verify/{code}", f"/v/{code}"):
                wrk(service.url + route, 2, args.connections)  # warm-up
                rps, p99 = wrk(service.url + route, args.seconds, args.connections)
                met = "met" if rps >= GOAL_RPS and p99 < GOAL_P99_MS else "NOT met"
                shown = route.replace(code, "{code}")
                print(
                    f"  GET {shown:<24} {rps:8.0f} requests/s, p99 {p99:7.1f} ms; "
                    f"goal >= {GOAL_RPS:,.0f}/s, p99 < {GOAL_P99_MS:.0f} ms: {met}"
                )
        finally:
            stop_service(process)
            stop_session_cluster()
    if not args.no_uploads:
        verify_uploads.measure()


if __name__ == "__main__":
    main()
