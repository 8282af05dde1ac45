"""Bulk work at scale: 1,000 documents generated and signed, against the straightforward way.

    uv run python bench/bulk.py [-n 1000] [--naive 50] [--runs 1]

Makes a CSV of n realistic rows for the berita acara pelantikan, one document per person (a
mass inauguration of PPPK staff: the same official and two witnesses sign every document), then
against a fresh `docgen up` (as `make run`: the API and one queue worker) on its embedded
defaults in a temporary directory:

1. generate: POST /api/v1/batches and wait until every row is made (render, convert, stamp,
   store, register);
2. bulk-sign: the two witnesses, then the official (whose signature is followed by the B-LTA
   revision), each one POST /api/v1/batches/{id}/signatures and wait until done; with
   --witnesses-together the two witnesses (one turn) start at once, as they may.

It prints documents per second for each phase, the total wall time, and the peak memory (RSS)
of the app (the API, the queue worker and their bulk processes) with LibreOffice and the S3
server beside it, sampled every 0.1 s. Then, with the service stopped, it times the straightforward
way on --naive documents of the same rows, one after the other in one process, twice:

- as the issue names it: docxtpl reading the template for each document, a warm unoserver per
  document, the key unsealed from its PIN per signature, pyHanko's own signer, stamp and B-LTA,
  one S3 put per revision;
- the same with docgen's library code for each step (its render, signing and B-LTA speed-ups),
  so the second ratio shows only what bulk adds;

and prints the ratio per document for each. With --runs N the bulk part runs N times, each
against a fresh service, and the ratios use the median total: on this 2-core machine the same
code's total varied by 20 % and more from run to run with the machine's state.
A measurement, not a test: it exits 0 whatever the figures (but 1 if a document is missing or
failed).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.conftest import start_service, stop_service
from tests.people import People
from tests.test_templates_content import BA

REPO = Path(__file__).resolve().parent.parent
PIN = "246810"
PEJABAT_NIK = "3515140108700003"  # the Bupati, who has no NIP
TEMPLATE = "berita-acara-pelantikan"
ROLES = ("saksi_1", "saksi_2", "pejabat_pelantik")

DEPAN = ["Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Eko", "Rina", "Hendra", "Nur", "Yusuf"]
BELAKANG = ["Santoso", "Wahyuni", "Hidayat", "Lestari", "Saputra", "Rahmawati", "Nugroho", "Putri"]
GELAR = ["", "", ", S.Pd.", ", S.Kom.", ", S.Kep., Ns.", ", A.Md.", ", S.E."]
JABATAN = [
    "Guru Ahli Pertama pada SD Negeri Pucang 1",
    "Perawat Terampil pada UPTD Puskesmas Waru",
    "Pranata Komputer Ahli Pertama",
    "Penata Kelola Sistem dan Teknologi Informasi",
    "Pengadministrasi Perkantoran pada Kecamatan Buduran",
]
# The test suite's berita acara, for an inauguration of PPPK staff.
CEREMONY: dict[str, str] = {
    **{k: str(v) for k, v in BA.items() if k != "peserta"},
    "nomor_keputusan": "800.1.13.2/412/438.1.1.3/2024",
    "tentang_keputusan": "Pengangkatan Pegawai Pemerintah dengan Perjanjian Kerja Formasi 2023",
}
PEOPLE = ["peserta.nama", "peserta.nip", "peserta.pangkat", "peserta.jabatan"]
AGAMA = ["Islam", "Islam", "Islam", "Kristen Protestan", "Katolik", "Hindu", "Buddha"]


def nip(i: int, rng: random.Random) -> str:
    """A valid NIP, unique per ``i`` (its last three digits and month encode it)."""
    born = 1975 + rng.randrange(0, 25)
    lahir = f"{born}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    tmt = f"{born + rng.randrange(20, 25)}{1 + i // 1000 % 12:02d}"
    return f"{lahir}{tmt}{rng.choice('12')}{i % 1000:03d}"


def staff_csv(count: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        name = f"{rng.choice(DEPAN)} {rng.choice(BELAKANG)}{rng.choice(GELAR)}"
        person = [name, nip(i, rng), rng.choice(["III/a", "III/b", "II/c"]), rng.choice(JABATAN)]
        rows.append(
            {**CEREMONY, "agama": rng.choice(AGAMA), **dict(zip(PEOPLE, person, strict=True))}
        )
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# -- memory -------------------------------------------------------------------------------


def kind_of(proc: psutil.Process) -> str:
    """app (the API, the queue worker and their bulk processes), libreoffice, s3 or postgres."""
    name = " ".join(proc.cmdline())
    if "weed" in name:
        return "s3"
    if "soffice" in name or "unoserver" in name or "oosplash" in name:
        return "libreoffice"
    if proc.name() == "postgres":  # the postmaster and its backends ("postgres: ...")
        return "postgres"
    return "app"


CPU_KINDS = ("api", "worker", "bulk processes", "libreoffice", "s3", "postgres")


def cpu_kind(proc: psutil.Process) -> str:
    """One of CPU_KINDS: the app split into its API, its queue worker (`docgen up` itself
    counted with the API) and their bulk processes."""
    kind = kind_of(proc)
    if kind != "app":
        return kind
    name = " ".join(proc.cmdline())
    if "-m docgen worker" in name:
        return "worker"
    if "-m docgen" in name:
        return "api"
    return "bulk processes"


def postmaster_of(data_dir: Path) -> psutil.Process | None:
    """The embedded cluster's postmaster: pg_ctl detaches it from `docgen up`, so it is found
    by its data directory on its command line."""
    cluster = str(data_dir / "postgres" / "cluster")
    for proc in psutil.process_iter(["cmdline"]):
        if cluster in (proc.info["cmdline"] or []):
            return proc
    return None


def cpu_seconds(pid: int, postmaster: psutil.Process | None) -> dict[str, float]:
    """CPU time so far (user + system) of `docgen up`'s process tree and of the PostgreSQL
    cluster's (the backends that have ended are not counted), by CPU_KINDS."""
    sums = dict.fromkeys(CPU_KINDS, 0.0)
    root = psutil.Process(pid)
    trees = [root, *root.children(recursive=True)]
    if postmaster is not None:
        trees += [postmaster, *postmaster.children()]
    for proc in trees:
        try:
            times = proc.cpu_times()
            sums[cpu_kind(proc)] += times.user + times.system
        except psutil.Error:
            continue
    return sums


@dataclass
class MemoryPeaks:
    """Peak RSS, in MiB, of the app and of its helpers, sampled from the process tree."""

    app: float = 0.0
    libreoffice: float = 0.0
    s3: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, pid: int) -> None:
        def sample() -> None:
            root = psutil.Process(pid)
            while not self._stop.wait(0.1):
                sums = {"app": 0.0, "libreoffice": 0.0, "s3": 0.0, "postgres": 0.0}
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    return
                for proc in tree:
                    try:
                        kind = kind_of(proc)
                        rss = proc.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    sums[kind] += rss
                self.app = max(self.app, sums["app"])
                self.libreoffice = max(self.libreoffice, sums["libreoffice"])
                self.s3 = max(self.s3, sums["s3"])

        threading.Thread(target=sample, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


# -- the service --------------------------------------------------------------------------


def wait(client: httpx.Client, batch_id: str, done: Any) -> dict[str, Any]:
    while True:
        progress = client.get(f"/api/v1/batches/{batch_id}", params={"documents": "false"})
        batch: dict[str, Any] = progress.json()
        if done(batch):
            return dict(client.get(f"/api/v1/batches/{batch_id}").json())
        # A phase's end is seen at most this late; polling 0.1 s cost the service ~1 ms of CPU
        # per document (the CLI polls every 0.5 s).
        time.sleep(0.25)


def signing_done(batch: dict[str, Any], signing_id: str) -> bool:
    return bool(next(s for s in batch["signings"] if s["id"] == signing_id)["status"] != "berjalan")


@dataclass
class Phase:
    seconds: float
    cpu: dict[str, float]  # CPU seconds by kind of process


def bulk(
    people: People,
    pid: int,
    postmaster: psutil.Process | None,
    rows: list[dict[str, str]],
    witnesses_together: bool,
) -> dict[str, Phase]:
    """Wall time and CPU time of each phase: the operator makes the batch, each signer signs
    their role with their own account."""
    timings: dict[str, Phase] = {}

    def phase(name: str, start: float, cpu_before: dict[str, float]) -> None:
        after = cpu_seconds(pid, postmaster)
        used = {kind: after[kind] - cpu_before[kind] for kind in after}
        timings[name] = Phase(time.perf_counter() - start, used)

    client = people.operator.client
    signers = {
        "saksi_1": people.signer(
            CEREMONY["nip_saksi_1"], name=CEREMONY["nama_saksi_1"], jabatan="Kepala BKPSDM"
        ),
        "saksi_2": people.signer(
            CEREMONY["nip_saksi_2"], name=CEREMONY["nama_saksi_2"], jabatan="Asisten"
        ),
        # A Bupati has no NIP: enrolled by NIK, chosen for the role explicitly.
        "pejabat_pelantik": people.signer(
            nik=PEJABAT_NIK, name=CEREMONY["nama_pejabat_pelantik"], jabatan="Bupati Sidoarjo"
        ),
    }
    start, cpu_before = time.perf_counter(), cpu_seconds(pid, postmaster)
    pejabat = signers["pejabat_pelantik"].signer_id
    response = client.post(
        "/api/v1/batches",
        data={"template": TEMPLATE, "signers": json.dumps({"pejabat_pelantik": pejabat})},
        files={"file": ("daftar-pppk.csv", to_csv(rows), "text/csv")},
    ).raise_for_status()  # fmt: skip
    batch_id = response.json()["id"]
    made = wait(client, batch_id, lambda b: b["status"] == "selesai")
    phase("generate", start, cpu_before)
    if made["done"] != len(rows):
        print(f"NOT ALL MADE: {made['done']} of {len(rows)}; {made['errors'][:3]}")
        raise SystemExit(1)
    # Each turn's roles at once (--witnesses-together: both witnesses, then the official),
    # else one role after the other.
    turns = [ROLES[:2], ROLES[2:]] if witnesses_together else [(role,) for role in ROLES]
    for turn in turns:
        start, cpu_before = time.perf_counter(), cpu_seconds(pid, postmaster)
        signing_ids = [
            signers[role].sign_batch(batch_id, role).raise_for_status().json()["id"]
            for role in turn
        ]
        batch = wait(
            client, batch_id, lambda b, ids=signing_ids: all(signing_done(b, i) for i in ids)
        )
        phase(f"sign {' + '.join(turn)}", start, cpu_before)
        for role, signing_id in zip(turn, signing_ids, strict=True):
            result = next(s for s in batch["signings"] if s["id"] == signing_id)
            if result["done"] != len(rows):
                print(f"NOT ALL SIGNED ({role}): {result}")
                raise SystemExit(1)
    final = client.get(f"/api/v1/batches/{batch_id}").json()
    if {d["status"] for d in final["documents"]} != {"sah"}:
        raise SystemExit("some documents are not SAH")
    return timings


# -- the straightforward way ---------------------------------------------------------------


def naive(rows: list[dict[str, str]], workdir: Path, *, plain: bool) -> float:
    """Seconds for these rows one document after the other, each step on its own.

    ``plain``: the way the issue names it, with the libraries as they come: docxtpl reading the
    template for each document, pyHanko's own signer and stamp (SimpleSigner, QRStampStyle) and
    its B-LTA on the last signature (embed_validation_info + use_pades_lta). Otherwise docgen's
    library code for each step (TemplateRenderer, sign_pdf, add_long_term_validation), so that
    the ratio shows only what bulk adds.
    """
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from docxtpl import DocxTemplate
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import QRStampStyle
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from docgen.batches.staff_list import read_staff_list
    from docgen.pipeline.convert import UnoserverPool
    from docgen.pipeline.prepare import field_name, stamp_converted
    from docgen.pipeline.render import TemplateRenderer
    from docgen.templating.catalogue import load_template
    from docgen.templating.jinja import jinja_environment, ttd_markup
    from docgen.templating.validation import validate_data
    from signing.pades.long_term import add_long_term_validation
    from signing.pades.sign import SignatureAppearance, SigningIdentity, sign_pdf
    from signing.pki.ca import CertificateAuthority
    from signing.pki.keys import generate_private_key, seal_private_key, unseal_private_key
    from storage import EmbeddedS3Server, S3ObjectStore

    template = load_template(REPO / "templates" / TEMPLATE)
    staff = read_staff_list("daftar.csv", to_csv(rows), template.manifest)
    ca = CertificateAuthority.load_or_create(workdir / "ca")
    crl = ca.issue_crl([], crl_number=1)
    pepper = b"bench-pepper-0123456789abcdef012"
    sealed = {}
    certificates = {}
    for role in ROLES:
        key = generate_private_key()
        certificates[role] = ca.issue_signer_certificate(
            key.public_key(), name=role, nip=None, jabatan=role, unit="Sidoarjo",
            crl_url="http://127.0.0.1/crl",
        )  # fmt: skip
        sealed[role] = seal_private_key(key, PIN, pepper)

    def asn1_cert(cert: Any) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    def render_plain(data: dict[str, object], nomor: str) -> bytes:
        doc = DocxTemplate(io.BytesIO(template.docx_bytes))
        doc.render({**data, "nomor": nomor, "ttd": ttd_markup}, jinja_env=jinja_environment())
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()

    async def sign_plain(pdf: bytes, n: int, role: str, url: str) -> bytes:
        key = unseal_private_key(sealed[role], PIN, pepper)
        key_der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        signer = signers.SimpleSigner(
            signing_cert=asn1_cert(certificates[role]),
            signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs([asn1_cert(c) for c in ca.chain]),
        )
        last = n == len(ROLES) - 1
        meta = signers.PdfSignatureMetadata(
            field_name=field_name(role),
            subfilter=fields.SigSeedSubFilter.PADES,
            certify=n == 0,
            docmdp_permissions=fields.MDPPerm.FILL_FORMS,
            embed_validation_info=last,
            use_pades_lta=last,
            validation_context=ValidationContext(
                trust_roots=[asn1_cert(ca.root_certificate)],
                crls=[crl.public_bytes(serialization.Encoding.DER)],
                allow_fetching=False,
            )
            if last
            else None,
        )
        style = QRStampStyle(stamp_text="Ditandatangani secara elektronik oleh\n%(signer)s\n%(ts)s")
        out = await signers.PdfSigner(
            meta, signer, timestamper=ca.timestamper(), stamp_style=style
        ).async_sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)), appearance_text_params={"url": url}
        )
        return bytes(out.getvalue())

    converter = UnoserverPool(workdir / "converter", size=1, python="/usr/bin/python3")
    converter.start()
    s3 = EmbeddedS3Server(workdir / "s3")
    s3.start()
    try:
        store = S3ObjectStore(s3.endpoint, s3.access_key, s3.secret_key, "naive")
        store.ensure_bucket()

        async def one(i: int, data: dict[str, object]) -> None:
            clean = validate_data(template.manifest, data)
            nomor = f"800.1/{i}/BKPSDM/VI/2024"
            if plain:
                docx = render_plain(clean, nomor)
            else:  # the template read afresh for each document, as one request at a time would
                docx = TemplateRenderer(template).render(clean, nomor=nomor)
            await store.put(f"{i}/source.docx", docx, "application/octet-stream")
            pdf = await converter.to_pdf(docx)
            url = f"http://127.0.0.1/v/{i:024d}"
            roles = [r.name for r in template.manifest.roles_in_order]
            pdf, _ = stamp_converted(pdf, TEMPLATE, roles, url)
            await store.put(f"{i}/prepared.pdf", pdf, "application/pdf")
            for n, role in enumerate(ROLES):
                if plain:
                    pdf = await sign_plain(pdf, n, role, url)
                else:
                    identity = SigningIdentity(
                        private_key=unseal_private_key(sealed[role], PIN, pepper),
                        certificate=certificates[role],
                        chain=ca.chain,
                    )
                    pdf = await sign_pdf(
                        pdf, field_name=field_name(role), identity=identity,
                        appearance=SignatureAppearance(role, role, url),
                        timestamper=ca.timestamper(), certify=n == 0,
                    )  # fmt: skip
                await store.put(f"{i}/signed-{role}.pdf", pdf, "application/pdf")
            if not plain:  # pyHanko added the B-LTA revision with the last signature
                pdf = await add_long_term_validation(
                    pdf, trust_roots=[ca.root_certificate], crls=[crl],
                    timestamper=ca.timestamper(),
                )  # fmt: skip
                await store.put(f"{i}/lta.pdf", pdf, "application/pdf")

        async def all_of_them() -> float:
            await one(0, staff.rows[0].data)  # warm-up, not counted
            start = time.perf_counter()
            for i, row in enumerate(staff.rows[1:], start=1):
                await one(i, row.data)
            return time.perf_counter() - start

        return asyncio.run(all_of_them())
    finally:
        converter.stop()
        s3.stop()


@dataclass
class Run:
    timings: dict[str, Phase]
    memory: MemoryPeaks

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.timings.values())


def run_bulk(rows: list[dict[str, str]], data_dir: Path, witnesses_together: bool) -> Run:
    """One measured run against a fresh service in ``data_dir``."""
    data_dir.mkdir()
    # Its own embedded PostgreSQL, as `make run`, not the tests'.
    process, service = start_service(data_dir, up=True, lean=False)
    memory = MemoryPeaks()
    memory.watch(process.pid)
    try:
        people = People(service.url, service.data_dir, database_url="")
        timings = bulk(
            people, process.pid, postmaster_of(service.data_dir), rows, witnesses_together
        )
    finally:
        memory.stop()
        stop_service(process)
    return Run(timings, memory)


TARGET_SECONDS_PER_1000 = 30.0  # 1,000 berita acara generated and signed three times


def reference_cpu() -> float:
    """CPU seconds of a fixed piece of pure-Python work, printed beside the figures: machines
    (and one machine from day to day) differ by 2x and more, and this shows by how much."""
    started = time.process_time()
    total = 0
    for i in range(20_000_000):
        total += i
    assert total == 199_999_990_000_000
    return time.process_time() - started


def report(count: int, run: Run) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    total = run.seconds
    print(f"{count} documents ({TEMPLATE}, 3 signers each); {os.cpu_count()} CPUs, "
          f"load average after the run {load}")  # fmt: skip
    print(f"  {'phase':26s} {'wall':>9s}  {'documents/s':>11s}   CPU ms per document: "
          + ", ".join(CPU_KINDS))  # fmt: skip
    for name, p in run.timings.items():
        cpu = ", ".join(f"{p.cpu[k] * 1000 / count:.1f}" for k in CPU_KINDS)
        print(f"  {name:26s} {p.seconds:7.1f} s  {count / p.seconds:11.1f}   {cpu}")
    cpu_total = sum(sum(p.cpu.values()) for p in run.timings.values())
    print(f"  {'total (generated, signed, stored)':26s} {total:7.1f} s  "
          f"{count / total:7.1f} documents/s   {cpu_total * 1000 / count:.1f} ms of CPU per "
          f"document, {cpu_total / total / (os.cpu_count() or 1):.0%} of the CPUs")  # fmt: skip
    memory = run.memory
    print(f"  peak memory: app {memory.app:.0f} MiB (API, queue worker, bulk processes); "
          f"LibreOffice {memory.libreoffice:.0f} MiB; S3 server {memory.s3:.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="rows in the batch (default 1000)")
    parser.add_argument(
        "--naive", type=int, default=50, help="documents the straightforward way (0: skip it)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="bulk runs, each against a fresh service; the ratios use their median (default 1)",
    )
    parser.add_argument(
        "--witnesses-together",
        action="store_true",
        help="the two witnesses (one turn) start their bulk signings at once, as they may",
    )
    args = parser.parse_args()
    rows = staff_csv(args.n)
    with tempfile.TemporaryDirectory(prefix="docgen-bench-bulk-") as tmp:
        Path(tmp).chmod(0o755)  # run as root, PostgreSQL runs as the postgres user
        runs = []
        for i in range(args.runs):
            runs.append(run_bulk(rows, Path(tmp) / f"service-{i + 1}", args.witnesses_together))
            if args.runs > 1:
                print(f"run {i + 1} of {args.runs}: ", end="")
            report(args.n, runs[-1])
        naive_rows = staff_csv(args.naive + 1, seed=11)
        naive_seconds = {
            "straightforward way (docxtpl, pyHanko as they come)": naive(
                naive_rows, Path(tmp) / "plain", plain=True
            ),
            "the same with docgen's per-step speed-ups": naive(
                naive_rows, Path(tmp) / "ours", plain=False
            ),
        } if args.naive else {}  # fmt: skip

    totals = sorted(run.seconds for run in runs)
    middle = statistics.median(totals)
    if args.runs > 1:
        print(f"total of the {args.runs} runs: {', '.join(f'{t:.1f}' for t in totals)} s; "
              f"median {middle:.1f} s; peak memory of the app at most "
              f"{max(run.memory.app for run in runs):.0f} MiB")  # fmt: skip
    per_bulk = middle / args.n
    target = TARGET_SECONDS_PER_1000 / 1000
    print(f"  bulk: {per_bulk * 1000:.1f} ms per document; target under {target * 1000:.1f} "
          f"(1,000 documents in {TARGET_SECONDS_PER_1000:.0f} s): "
          f"{'met' if per_bulk < target else 'NOT met'}")  # fmt: skip
    print(
        f"  this machine: {reference_cpu():.2f} s of CPU for the fixed reference work "
        "(reference_cpu; lower is faster)"
    )
    for label, seconds in naive_seconds.items():
        per_naive = seconds / args.naive
        print(f"  {label}, {args.naive} documents: {seconds:.1f} s, {per_naive * 1000:.0f} ms "
              f"per document; bulk is {per_naive / per_bulk:.1f} times faster")  # fmt: skip


if __name__ == "__main__":
    main()
