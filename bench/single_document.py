"""Latency of one pakta integritas: create (render, convert, stamp, store) and sign.

Runs against a started service (`make run` in another terminal), on the same machine: it makes
its own admin with `docgen users add` in the service's data directory, then an operator and the
signer through the API:

    uv run python bench/single_document.py [--url http://127.0.0.1:8000] [--data-dir var] [-n 30]

Prints p50/p95 of both over n documents, after a warm-up document.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tests.people import People

SIGNER = {
    "name": "Dra. Sri Wahyuni, M.AP.",
    "nip": "197803152005012003",
    "jabatan": "Analis Kebijakan Ahli Muda",
    "pangkat": "III/d",
}
DATA = {
    "nama": SIGNER["name"],
    "nip": SIGNER["nip"],
    "pangkat": SIGNER["pangkat"],
    "jabatan": SIGNER["jabatan"],
    "instansi": "Sekretariat Daerah Kabupaten Banyuwangi",
    "tempat": "Banyuwangi",
    "tanggal": "2024-06-27",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(url: str, data_dir: Path, n: int) -> None:
    people = People(url, data_dir, database_url="")  # the service's embedded registry
    client = people.operator.client
    signer = people.signer(**SIGNER)
    create_ms: list[float] = []
    sign_ms: list[float] = []
    for i in range(n + 1):
        t0 = time.perf_counter()
        created = client.post(
            "/api/v1/documents", json={"template": "pakta-integritas", "data": DATA}
        )
        t1 = time.perf_counter()
        created.raise_for_status()
        signed = signer.sign(created.json()["id"])
        t2 = time.perf_counter()
        signed.raise_for_status()
        if i:  # the first round warms caches
            create_ms.append((t1 - t0) * 1000)
            sign_ms.append((t2 - t1) * 1000)
    for name, values in (("create", create_ms), ("sign", sign_ms)):
        print(
            f"{name:6s} n={len(values)}  p50={statistics.median(values):7.1f} ms"
            f"  p95={percentile(values, 0.95):7.1f} ms  max={max(values):7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--data-dir", type=Path, default=Path("var"), help="the service's")
    parser.add_argument("-n", type=int, default=30, help="documents to measure (>= 20)")
    args = parser.parse_args()
    run(args.url, args.data_dir, max(args.n, 20))


if __name__ == "__main__":
    main()
