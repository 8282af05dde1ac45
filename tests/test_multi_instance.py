"""Two instances of docgen on one registry (one PostgreSQL database, one object store, one
server secret), each with its own data dir: writes split over both extend one audit chain, never
two; one Idempotency-Key sent to both at once makes one document, and no request gets a 500;
both have one root CA and TSA, so a signer activated on one signs on the other; an instance
with another server secret refuses to start. A template version uploaded or a signer revoked on
one is in effect on the other within 2 seconds (issue 18), also after the other lost its
connection to the registry for notices. Ten wrong PINs at once over both lock the signer after
exactly five. Each has a queue worker beside it: a batch of 300 rows is made exactly once by the
two while one of them is killed."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography import x509

from docgen.settings import Settings
from signing.validate import validate_pdf
from tests.conftest import (
    People,
    Service,
    SignerAccount,
    create_pakta,
    kill_worker,
    pakta_data,
    registry,
    sign_pakta,
    start_service,
    stop_service,
    workers_of,
)
from tests.pdftools import pdfsig
from tests.people import http_client
from tests.test_batch_chunks import assert_every_pack_named
from tests.test_bulk import audit_chain_break, generated
from tests.test_bulk_resume import witness_and_batch
from tests.test_cli import docgen
from tests.test_template_upload import OLD_WORDING, manifest_text, new_id, pakta_docx, upload

CREATIONS = 40  # as in issue 18; 20 forked the chain there
FOLLOWED_WITHIN = 2.0  # seconds: a change on one instance is in effect on every one (issue 18)


def within(seconds: float, since: float, check: Callable[[], bool]) -> bool:
    """Whether ``check()`` holds before ``seconds`` after ``since`` (a monotonic time),
    asked again and again until then."""
    while True:
        if check():
            return True
        if time.monotonic() - since > seconds:
            return check()
        time.sleep(0.05)


def shared_parts(first: Service) -> dict[str, str]:
    """What a second instance needs to join ``first``'s deployment."""
    found = re.search(r"penyimpanan objek\s+: (\S+)", first.log.read_text())
    assert found
    keys = json.loads((first.data_dir / "s3" / "credentials.json").read_text())
    return {
        "DOCGEN_DATABASE_URL": first.database_url,
        "DOCGEN_S3_ENDPOINT": found[1],
        "DOCGEN_S3_ACCESS_KEY": keys["access_key"],
        "DOCGEN_S3_SECRET_KEY": keys["secret_key"],
    }


@dataclass
class Deployment:
    """Two instances sharing the registry, the object store and the secret; the first's
    accounts, whose sessions and tokens hold on both."""

    first: Service
    second: Service
    people: People
    processes: list[subprocess.Popen[bytes]]

    def on_both(self, client: httpx.Client) -> list[httpx.Client]:
        """``client`` and the same caller on the second instance."""
        other = http_client(self.second.url, headers=dict(client.headers))
        return [client, other]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    # One LibreOffice and one worker each: two tests convert, one document each.
    own = {
        "DOCGEN_SECRET_KEY": secrets.token_urlsafe(32),
        "DOCGEN_CONVERTER_WORKERS": "1",
        "DOCGEN_BULK_WORKERS": "1",
        # A killed worker's jobs are taken for stalled after 3 s without its heartbeat.
        "DOCGEN_WORKER_HEARTBEAT_SECONDS": "1",
        "DOCGEN_WORKER_STALLED_SECONDS": "3",
        "DOCGEN_JOB_REAPER_SECONDS": "1",
        # The deployment's own limit on public reads and its public views kept for a second
        # (the other modules' services: generous limits, nothing kept).
        "DOCGEN_RATE_LIMIT_READS": str(READS_PER_MINUTE),
        "DOCGEN_VERIFY_CACHE_SECONDS": str(Settings.model_fields["verify_cache_seconds"].default),
    }
    where = tmp_path_factory.mktemp("dua-instans")
    first_process, first = start_service(where / "first", workers=1, **own)
    second_process = None
    try:
        second_process, second = start_service(
            where / "second", workers=1, **own, **shared_parts(first)
        )
        yield Deployment(
            first, second, People(first.url, first.data_dir), [first_process, second_process]
        )
    finally:
        if second_process is not None:
            stop_service(second_process)
        stop_service(first_process)


READS_PER_MINUTE = Settings.model_fields["rate_limit_reads"].default


def test_a_clients_rate_limit_holds_over_both_instances(deployment: Deployment) -> None:
    # A client address of its own (uvicorn takes X-Forwarded-For from the loopback proxy),
    # so the module's other requests do not count; all of it inside one minute (~20 s).
    if time.time() % 60 > 30:
        time.sleep(60 - time.time() % 60 + 0.5)
    client = {"X-Forwarded-For": f"198.51.100.{secrets.randbelow(250) + 1}"}
    unknown = "/api/v1/verify/" + "0" * 12
    first, second = (
        http_client(d.url, headers=client) for d in (deployment.first, deployment.second)
    )
    with first, second:
        half = READS_PER_MINUTE * 2 // 3
        assert {first.get(unknown).status_code for _ in range(half)} == {404}
        time.sleep(2.5)  # the first instance's counts reach the registry
        # About 16 a second, as a client could: an instance learns the deployment's count once
        # a second, and lets through what it sees meanwhile (at full speed here, 200 requests
        # took less than that second).
        answers: Counter[int] = Counter()
        for _ in range(half):
            answers[second.get(unknown).status_code] += 1
            time.sleep(0.06)
        time.sleep(2.5)
        refused = first.get(unknown)
        page = second.get("/v/" + "0" * 12)
        elsewhere = http_client(deployment.second.url, headers={"X-Forwarded-For": "203.0.113.9"})
        with elsewhere:
            other = elsewhere.get(unknown)
    # The second instance let through what was left of the minute's reads (and what it saw
    # in the second before it learnt the sum), then refused.
    left = READS_PER_MINUTE - half
    assert left <= answers[404] <= left + 20, answers
    assert answers[429] == half - answers[404]
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "TooManyRequests" and "coba lagi dalam" in body["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert page.status_code == 429 and "Terlalu banyak permintaan" in page.text
    assert "retry-after" in page.headers
    assert other.status_code == 404  # another client is not held back


def test_concurrent_creations_over_two_instances_keep_one_audit_chain(
    deployment: Deployment,
) -> None:
    first = deployment.first
    clients = deployment.on_both(deployment.people.admin.client)
    tag = uuid.uuid4().hex[:6]
    together = threading.Barrier(CREATIONS)

    def create(i: int) -> httpx.Response:
        body = {"name": f"Unit {i}", "code": f"M{tag}{i:02d}"}
        together.wait()  # all at once, half on each instance
        return clients[i % 2].post("/api/v1/units", json=body)

    with ThreadPoolExecutor(CREATIONS) as pool:
        answers = list(pool.map(create, range(CREATIONS)))
    assert [a.status_code for a in answers] == [201] * CREATIONS, [a.text for a in answers]
    # Each instance sees every unit, whichever made it.
    for client in clients:
        codes = {u["code"] for u in client.get("/api/v1/units").json()}
        assert {f"M{tag}{i:02d}" for i in range(CREATIONS)} <= codes

    assert anyio.run(audit_chain_break, first) is None
    with first.registry() as db:
        forks = db.execute(
            "SELECT prev_hash FROM audit_log GROUP BY prev_hash HAVING count(*) > 1"
        ).fetchall()
        created = db.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'unit.created'"
        ).fetchone()
    assert forks == []
    assert created is not None and created[0] >= CREATIONS
    clients[1].close()


def test_one_idempotency_key_sent_to_both_instances_makes_one_document(
    deployment: Deployment,
) -> None:
    people = deployment.people
    nip = "197002142000031007"  # used by no other module
    people.enrol(nip, name="Drs. Hari Santoso")
    clients = deployment.on_both(people.operator.client)
    body = {"template": "pakta-integritas", "data": pakta_data(nip=nip, nama="Drs. Hari Santoso")}
    key = {"Idempotency-Key": f"simpeg-{uuid.uuid4().hex}"}
    together = threading.Barrier(4)

    def create(i: int) -> httpx.Response:
        together.wait()  # the same request four times at once, two on each instance
        return clients[i % 2].post("/api/v1/documents", json=body, headers=key)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(create, range(4)))
    statuses = sorted(a.status_code for a in answers)
    # One made it; the others waited behind its claim (409, retry later) or replayed it.
    assert statuses[0] == 201 and set(statuses) <= {201, 409}, [a.text for a in answers]
    made = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(made) == 1
    for conflict in (a for a in answers if a.status_code == 409):
        assert conflict.json()["error"] == "Conflict"
    # A retry on either instance now gets that document, marked as a replay.
    for client in clients:
        again = client.post("/api/v1/documents", json=body, headers=key)
        assert again.status_code == 201 and again.json()["id"] in made
        assert again.headers["Idempotent-Replayed"] == "true"
    with deployment.first.registry() as db:
        count = db.execute(
            "SELECT count(*) FROM documents WHERE data->>'nip' = %s", (nip,)
        ).fetchone()
    assert count is not None and count[0] == 1
    clients[1].close()


def test_both_instances_have_one_root_and_tsa(deployment: Deployment) -> None:
    first, second = deployment.first, deployment.second
    # The worker processes sign with the files of their data dir: the same CA on both.
    for name in ("root.pem", "tsa.pem"):
        assert (first.data_dir / "ca" / name).read_bytes() == (
            second.data_dir / "ca" / name
        ).read_bytes()
    roots = (first.data_dir / "trust-roots.pem").read_bytes()
    assert (second.data_dir / "trust-roots.pem").read_bytes() == roots
    with first.client() as one, second.client() as other:
        assert one.get("/api/v1/trust/ca.pem").content == roots
        assert other.get("/api/v1/trust/ca.pem").content == roots
        root = x509.load_pem_x509_certificate(roots)
        for client in (one, other):
            crl = x509.load_der_x509_crl(client.get("/api/v1/trust/crl").content)
            assert crl.issuer == root.subject and crl.is_signature_valid(root.public_key())
    with first.registry() as db:
        (count, stored_root) = db.execute(
            "SELECT count(*), max(root_pem) FROM certificate_authority"
        ).fetchone()
    assert count == 1 and str(stored_root).encode() == roots


def test_a_signer_activated_on_one_instance_signs_on_the_other(
    deployment: Deployment, tmp_path: Path
) -> None:
    people = deployment.people
    nip = "197104152001121008"  # used by no other module
    signer = people.signer(nip, name="Ir. Wahyu Pratama")  # enrolled and activated on the first
    document = create_pakta(people.operator.client, nip)
    on_second = deployment.on_both(signer.client)[1]
    signed = on_second.post(
        f"/api/v1/documents/{document['id']}/signatures",
        json={"role": "pembuat_pernyataan", "pin": signer.pin},
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "sah"
    pdf = on_second.get(f"/api/v1/documents/{document['id']}/pdf").content

    root_pem = (deployment.first.data_dir / "trust-roots.pem").read_bytes()
    report = validate_pdf(pdf, [x509.load_pem_x509_certificate(root_pem)])
    assert report.valid and all(s.trusted and s.timestamp for s in report.signatures)
    path = tmp_path / "ditandatangani-di-kedua.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, root_pem, tmp_path)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    for instance in (deployment.first, deployment.second):
        with instance.client() as anyone:
            verified = anyone.get(f"/api/v1/verify/{document['verify_code']}").json()
            assert verified["status"] == "sah"
            assert verified["sha256"] == hashlib.sha256(pdf).hexdigest()
            upload = anyone.post(
                "/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")}
            ).json()
            assert upload["issued_here"] is True and upload["valid"] is True, upload
            assert all(c["trusted"] for c in upload["signatures"])
    on_second.close()


def test_an_instance_with_another_secret_key_refuses_to_start(
    deployment: Deployment, tmp_path: Path
) -> None:
    refused = docgen(
        None,
        "serve",
        env={
            "DOCGEN_DATA_DIR": str(tmp_path / "third"),
            "DOCGEN_DATABASE_URL": deployment.first.database_url,
            "DOCGEN_SECRET_KEY": secrets.token_urlsafe(32),  # not the deployment's
            "DOCGEN_PORT": "1",  # never bound: it stops before serving
        },
    )
    assert refused.returncode == 1, refused.stderr
    assert "DOCGEN_SECRET_KEY tidak dapat membuka kunci CA deployment" in refused.stderr
    assert "Traceback" not in refused.stderr
    # It kept nothing of the deployment's CA, and the registry still has the one CA.
    assert not (tmp_path / "third" / "ca" / "root.pem").exists()
    with deployment.first.registry() as db:
        assert db.execute("SELECT count(*) FROM certificate_authority").fetchone() == (1,)


def has_version(client: httpx.Client, template_id: str, version: int) -> Callable[[], bool]:
    def check() -> bool:
        found = client.get(f"/api/v1/templates/{template_id}/versions/{version}/docx")
        return found.status_code == 200

    return check


def test_a_template_version_uploaded_on_one_instance_is_used_on_the_other_within_2_seconds(
    deployment: Deployment,
) -> None:
    people = deployment.people
    nip = "198203172006041002"  # used by no other module
    people.enrol(nip, name="Rina Marlina, S.H.")
    admin_first, admin_second = deployment.on_both(people.admin.client)
    operator_second = deployment.on_both(people.operator.client)[1]
    template_id = new_id()
    content = pakta_docx((OLD_WORDING, "dengan ini menyatakan dengan sungguh-sungguh:"))
    uploaded = upload(admin_first, manifest_text(template_id), content)
    answered = time.monotonic()
    assert uploaded.status_code == 201, uploaded.text
    version = uploaded.json()["version"]

    assert within(FOLLOWED_WITHIN, answered, has_version(admin_second, template_id, version))
    download = admin_second.get(f"/api/v1/templates/{template_id}/versions/{version}/docx")
    assert download.content == content
    # Used there: a document made on the second instance from the version made on the first.
    made = operator_second.post(
        "/api/v1/documents",
        json={"template": template_id, "data": pakta_data(nip=nip, nama="Rina Marlina, S.H.")},
    )
    assert made.status_code == 201, made.text
    assert (made.json()["template"], made.json()["template_version"]) == (template_id, version)
    for client in (admin_second, operator_second):
        client.close()


def test_concurrent_uploads_over_two_instances_get_distinct_versions(
    deployment: Deployment,
) -> None:
    clients = deployment.on_both(deployment.people.admin.client)
    template_id = new_id()
    manifest = manifest_text(template_id)
    variants = [pakta_docx((OLD_WORDING, f"dengan ini menyatakan ({n}):")) for n in range(6)]
    together = threading.Barrier(len(variants))

    def send(i: int) -> httpx.Response:
        together.wait()  # all at once, half on each instance
        return upload(clients[i % 2], manifest, variants[i])

    with ThreadPoolExecutor(len(variants)) as pool:
        answers = list(pool.map(send, range(len(variants))))
    answered = time.monotonic()
    assert [a.status_code for a in answers] == [201] * len(variants), [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == list(range(1, len(variants) + 1))
    # Each instance serves each version as uploaded, whichever instance took it.
    for client in clients:
        for answer, content in zip(answers, variants, strict=True):
            version = answer.json()["version"]
            assert within(FOLLOWED_WITHIN, answered, has_version(client, template_id, version))
            got = client.get(f"/api/v1/templates/{template_id}/versions/{version}/docx")
            assert got.content == content
    with deployment.first.registry() as db:
        rows = db.execute(
            "SELECT version FROM template_versions WHERE template_id = %s ORDER BY version",
            (template_id,),
        ).fetchall()
    assert [v for (v,) in rows] == list(range(1, len(variants) + 1))
    clients[1].close()


def signed_pakta(people: People, nip: str, name: str) -> tuple[SignerAccount, dict[str, Any]]:
    """A pakta of the signer of ``nip`` (enrolled as ``name``), signed by them."""
    signer = people.signer(nip, name=name)
    document = create_pakta(people.operator.client, nip)
    assert sign_pakta(signer, str(document["id"])).status_code == 200
    return signer, document


def crl_of(client: httpx.Client) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(client.get("/api/v1/trust/crl").content)


def test_a_signer_revoked_on_one_instance_is_revoked_on_the_other_within_2_seconds(
    deployment: Deployment,
) -> None:
    people = deployment.people
    # A NIP used by no other module.
    signer, document = signed_pakta(people, "197907232005012004", "Dra. Sri Wahyuni")
    pdf = people.operator.client.get(f"/api/v1/documents/{document['id']}/pdf").content

    with deployment.first.client() as first, deployment.second.client() as second:
        number_before = crl_of(second).extensions.get_extension_for_class(x509.CRLNumber)
        revoked = people.revoke_signer(signer.signer_id, "Mutasi")  # on the first
        answered = time.monotonic()
        assert revoked.status_code == 200, revoked.text
        certificate = revoked.json()["certificate_pem"].encode()
        serial = x509.load_pem_x509_certificate(certificate).serial_number

        def listed_on_second() -> bool:
            return crl_of(second).get_revoked_certificate_by_serial_number(serial) is not None

        assert within(FOLLOWED_WITHIN, answered, listed_on_second)
        # One CRL for the deployment: the same list, under a higher number, on both.
        assert first.get("/api/v1/trust/crl").content == second.get("/api/v1/trust/crl").content
        number_after = crl_of(second).extensions.get_extension_for_class(x509.CRLNumber)
        assert number_after.value.crl_number > number_before.value.crl_number

        # The second's upload check reads the CRL it loaded: signed before, revoked after.
        report = second.post(
            "/api/v1/verify", files={"file": ("pakta.pdf", pdf, "application/pdf")}
        ).json()
        (checked,) = report["signatures"]
        assert checked["revoked_at"] is not None and "dicabut" in checked["reason"], report
        assert report["valid"] is True  # time-stamped before the revocation
        public = second.get(f"/api/v1/verify/{document['verify_code']}").json()
        assert public["signatures"][0]["certificate_revoked_at"] is not None
        assert "tetap sah" in second.get(f"/v/{document['verify_code']}").text


def test_a_document_revoked_on_one_instance_is_red_on_the_others_page_within_2_seconds(
    deployment: Deployment,
) -> None:
    people = deployment.people
    # A NIP used by no other module.
    _, document = signed_pakta(people, "198101152006042003", "Ratna Dewi, S.Sos.")
    code = document["verify_code"]
    with deployment.second.client() as second:
        # Read on the second again and again: what it keeps of the view must not outlive
        # the deployment's two seconds.
        for _ in range(20):
            assert second.get(f"/api/v1/verify/{code}").json()["status"] == "sah"
        revoked = people.operator.client.post(  # on the first
            f"/api/v1/documents/{document['id']}/revoke", json={"reason": "Salah ketik"}
        )
        answered = time.monotonic()
        assert revoked.status_code == 200, revoked.text

        def red_on_second() -> bool:
            view = second.get(f"/api/v1/verify/{code}").json()
            page = second.get(f"/v/{code}").text
            return view["status"] == "dicabut" and "<strong>DICABUT</strong>" in page

        assert within(FOLLOWED_WITHIN, answered, red_on_second)


def test_a_kept_view_is_answered_as_the_routes_answer_it_and_counts_toward_the_limit(
    deployment: Deployment,
) -> None:
    # The second read within the second is answered from the view the process keeps, without
    # the routes (docgen.verification.kept_reads): the same answer, the same headers, the
    # same rate limit.
    _, document = signed_pakta(deployment.people, "198203172009031005", "Drs. Agus Salim")
    code = document["verify_code"]
    if time.time() % 60 > 45:  # all of the limit's reads inside one minute
        time.sleep(60 - time.time() % 60 + 0.5)
    client = {"X-Forwarded-For": f"198.51.100.{secrets.randbelow(250) + 1}"}
    with http_client(deployment.first.url, headers=client) as first:
        for route in (f"/api/v1/verify/{code}", f"/v/{code}"):
            loaded, kept = first.get(route), first.get(route)
            assert loaded.status_code == kept.status_code == 200
            assert kept.content == loaded.content
            shown = {
                "content-type",
                "content-length",
                "x-content-type-options",
                "referrer-policy",
                "content-security-policy",
                "x-frame-options",
            }
            assert {k: v for k, v in kept.headers.items() if k in shown} == {
                k: v for k, v in loaded.headers.items() if k in shown
            }
        assert loaded.headers["content-type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'none'" in kept.headers["content-security-policy"]
        assert json.loads(first.get(f"/api/v1/verify/{code}").content)["status"] == "sah"
        answers = Counter(
            first.get(f"/api/v1/verify/{code}").status_code for _ in range(READS_PER_MINUTE)
        )
    assert answers[429] == 5, answers  # 5 reads above: the minute's last 5 are refused


def listener_pid(service: Service) -> int | None:
    """The backend PID of ``service``'s change listener, if it is connected."""
    with service.registry() as db:
        found = db.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s",
            (f"docgen changes {service.pid} %",),
        ).fetchall()
    assert len(found) <= 1, found
    return int(str(found[0][0])) if found else None


def test_the_listener_follows_changes_again_after_its_connection_drops(
    deployment: Deployment,
) -> None:
    second = deployment.second
    dropped = listener_pid(second)
    assert dropped is not None
    with second.registry() as db:
        assert db.execute("SELECT pg_terminate_backend(%s)", (dropped,)).fetchone() == (True,)
    # Made while it may not be listening yet: caught up on when it connects again.
    admin_first, admin_second = deployment.on_both(deployment.people.admin.client)
    template_id = new_id()
    uploaded = upload(admin_first, manifest_text(template_id), pakta_docx())
    assert uploaded.status_code == 201, uploaded.text
    assert within(10, time.monotonic(), has_version(admin_second, template_id, 1))

    # Listening again on a new connection: the next change is followed within 2 seconds.
    assert within(10, time.monotonic(), lambda: listener_pid(second) not in (None, dropped))
    again = upload(admin_first, manifest_text(template_id), pakta_docx())
    answered = time.monotonic()
    assert again.json()["version"] == 2
    assert within(FOLLOWED_WITHIN, answered, has_version(admin_second, template_id, 2))
    assert "following changes again after a lost connection" in second.log.read_text()
    admin_second.close()


WRONG_PINS = 10  # as in issue 18


def test_ten_wrong_pins_at_once_over_both_instances_lock_the_signer_after_exactly_five(
    deployment: Deployment,
) -> None:
    nip = "197404192001041741"  # no other test of the module uses it
    signer = deployment.people.signer(nip)
    document = create_pakta(deployment.people.operator.client, nip)
    clients = deployment.on_both(signer.client)
    together = threading.Barrier(WRONG_PINS)

    def guess(i: int) -> tuple[int, str]:
        body = {"role": "pembuat_pernyataan", "pin": f"{140_000 + 7 * i:06d}"}
        together.wait(timeout=60)  # all at once, half on each instance
        response = clients[i % 2].post(f"/api/v1/documents/{document['id']}/signatures", json=body)
        return response.status_code, response.json()["error"]

    with ThreadPoolExecutor(WRONG_PINS) as pool:
        outcomes = Counter(pool.map(guess, range(WRONG_PINS)))
    assert outcomes == {(403, "WrongPin"): 5, (423, "SignerLocked"): WRONG_PINS - 5}, outcomes
    # Locked on both: the right PIN is refused too.
    for client in clients:
        right = client.post(
            f"/api/v1/documents/{document['id']}/signatures",
            json={"role": "pembuat_pernyataan", "pin": signer.pin},
        )
        assert right.status_code == 423, right.text


BATCH_ROWS = 300  # as in issue 18: three chunks of 100


def test_a_batch_is_made_exactly_once_by_two_workers_while_one_is_killed(
    deployment: Deployment,
) -> None:
    workers = {w.pid: w for p in deployment.processes for w in workers_of(p)}
    assert len(workers) == 2
    _, batch_id = witness_and_batch(deployment.people, BATCH_ROWS)
    url = deployment.first.database_url

    def claimed() -> list[tuple[int, str]]:
        with registry(url) as db:
            return db.execute(
                "SELECT chunk, claimed_by FROM batch_chunks WHERE batch_id = %s "
                "AND status = 'berjalan' ORDER BY chunk",
                (batch_id,),
            ).fetchall()

    deadline = time.monotonic() + 120
    while not (held := claimed()):
        assert time.monotonic() < deadline, "no worker took a chunk"
        time.sleep(0.05)
    # The worker holding the first chunk taken dies in the middle of it, as the OOM killer
    # would end it; the other makes the rest and, once the reaper saw it dead, its chunks.
    doomed = workers[int(held[0][1].rsplit(":", 1)[1])]
    kill_worker(doomed)
    lost = [chunk for chunk, by in held if by.endswith(f":{doomed.pid}")]

    batch = generated(deployment.people.operator.client, batch_id)
    assert (batch["total"], batch["done"], batch["failed"]) == (BATCH_ROWS, BATCH_ROWS, 0)
    stored = [
        str(o.object_name) for o in deployment.first.stored_objects(f"batches/{batch_id}/dibuat-")
    ]
    with registry(url) as db:
        rows = db.execute(
            "SELECT count(*), count(DISTINCT r.document_id), count(DISTINCT d.number), "
            "count(DISTINCT d.verify_code) FROM batch_rows r JOIN documents d "
            "ON d.id = r.document_id WHERE r.batch_id = %s",
            (batch_id,),
        ).fetchone()
        retried = db.execute(
            "SELECT chunk, attempts, claimed_by FROM batch_chunks WHERE batch_id = %s "
            "AND chunk = ANY(%s)",
            (batch_id, lost),
        ).fetchall()
        # Every pack under the batch's prefix named: a current one holding exactly the
        # registered revisions, or the killed attempt's, abandoned. No orphan, no duplicate.
        assert_every_pack_named(db, batch_id, stored)
    assert rows == (BATCH_ROWS,) * 4
    assert len(retried) == len(lost) >= 1
    assert all(attempts >= 2 and not by.endswith(f":{doomed.pid}") for _, attempts, by in retried)
