"""What a client sees when a part behind the service fails, or when its input reaches a limit of
a library: the right status and the one error body, never a 500."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from docgen.errors import ErrorOut
from tests.conftest import (
    People,
    Service,
    create_pakta,
    pakta_data,
    sign_pakta,
    start_service,
    stop_service,
)
from tests.test_errors import own_nip

NIP = "198609262015051001"  # pakta_data's


@pytest.fixture()
def own_service(tmp_path: Path) -> Iterator[Service]:
    """A service of its own, without the local revision cache (reads go to object storage)."""
    process, service = start_service(tmp_path / "docgen", DOCGEN_REVISION_CACHE_MB="0")
    try:
        yield service
    finally:
        stop_service(process)


def _error(response: httpx.Response, status: int, name: str) -> ErrorOut:
    assert response.status_code == status, response.text
    body = ErrorOut.model_validate(response.json())
    assert body.error == name and body.detail
    return body


def unready(response: httpx.Response) -> str:
    """What /readyz says is not ready ("" when all is)."""
    return "" if response.status_code == 200 else str(response.json()["detail"])


def _kill_groups(pid_file: Path) -> None:
    for line in pid_file.read_text(encoding="ascii").split():
        os.killpg(int(line), signal.SIGKILL)


def test_object_storage_unreachable_is_503(own_service: Service) -> None:
    people = People(own_service.url, own_service.data_dir)
    signer = people.signer(NIP)  # enrolled and activated while storage is up
    client = people.operator.client
    document = create_pakta(client, NIP)
    assert sign_pakta(signer, document["id"]).status_code == 200  # its public PDF is offered
    _kill_groups(own_service.data_dir / "s3" / "weed.pid")
    with own_service.client() as anonymous:
        ready = anonymous.get("/readyz")
    assert "penyimpanan: penyimpanan objek tidak menjawab" in _error(ready, 503, "NotReady").detail
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf")
    assert "coba lagi" in _error(pdf, 503, "StorageUnavailable").detail
    with own_service.client() as anonymous:
        public = anonymous.get(f"/v/{document['verify_code']}/pdf")
    _error(public, 503, "StorageUnavailable")
    created = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data()},
    )
    _error(created, 503, "StorageUnavailable")


def test_converter_failing_is_502_and_the_next_document_is_made(
    service: Service, people: People
) -> None:
    # On the session's service: its LibreOffice is started afresh, which the test checks.
    nip = own_nip()
    people.signer(nip)  # the role binds: the request gets as far as the converter
    client = people.operator.client
    with service.client() as anonymous:
        assert "konverter" not in unready(anonymous.get("/readyz"))
        _kill_groups(service.data_dir / "converter" / "servers.pid")
        # (at once, or as soon as the killed processes are gone)
        deadline = time.monotonic() + 10
        while "konverter" not in (detail := unready(anonymous.get("/readyz"))):
            assert time.monotonic() < deadline, detail
            time.sleep(0.1)
        assert "konverter: LibreOffice (unoserver) tidak menerima konversi" in detail
        failed = client.post(
            "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data(nip=nip)}
        )
        _error(failed, 502, "ConversionFailed")
        # The converter that failed was started afresh.
        create_pakta(client, nip)
        assert "konverter" not in unready(anonymous.get("/readyz"))


def test_a_signer_name_longer_than_a_certificate_allows_is_enrolled(people: People) -> None:
    name = "Prof. Dr. Ir. H. Muhammad Abdurrahman Syaifuddin Wicaksono, S.H., M.Si., M.Kn., CPL."
    # An official without a NIP, known by a NIK of their own (one signer in effect per NIK).
    nik = f"3515141207790{secrets.randbelow(900) + 100}"
    enrolled = people.enrol(None, nik=nik, name=name + " " + "x" * 90)
    assert enrolled["name"].startswith(name)
    # The key and certificate are made at activation: the name still fits its certificate.
    signer = people.activate_signer(enrolled)
    shown = people.admin.client.get(f"/api/v1/signers/{signer.signer_id}").json()
    assert shown["status"] == "aktif" and shown["name"].startswith(name)
    certificate = x509.load_pem_x509_certificate(shown["certificate_pem"].encode())
    (common_name,) = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert 0 < len(str(common_name.value)) <= 64  # the most X.520 allows


def test_a_manifest_nested_too_deeply_is_422(people: People) -> None:
    manifest = b"description = " + b"[" * 5000 + b"]" * 5000
    response = people.admin.client.post(
        "/api/v1/templates",
        files={"manifest": ("manifest.toml", manifest), "docx": ("t.docx", b"PK")},
    )
    body = _error(response, 422, "TemplateInvalid")
    assert body.problems and "terlalu dalam" in body.problems[0].message


def test_library_errors_get_the_status_a_client_should_see() -> None:
    from docgen.errors import (
        Conflict,
        SignerFailed,
        StorageFailed,
        StorageUnavailable,
        TemplateInvalid,
        first_translated,
        translate,
    )
    from signing import errors as signing_errors
    from storage import errors as storage_errors

    cases = [
        (storage_errors.StorageUnavailable("putus"), StorageUnavailable, 503),
        (storage_errors.ObjectCorrupted("k", "a" * 64, "b" * 64), StorageFailed, 502),
        (storage_errors.ObjectNotFound("k"), StorageFailed, 502),
        (storage_errors.ObjectExists("k"), Conflict, 409),
        (signing_errors.SignatureCreationFailed("tsa"), SignerFailed, 502),
        (signing_errors.LongTermValidationFailed("crl"), SignerFailed, 502),
        (signing_errors.SignatureFieldAlreadySigned("ttd_x"), Conflict, 409),
        (TemplateInvalid("rusak"), TemplateInvalid, 422),
    ]
    for error, expected, status in cases:
        translated = translate(error)
        assert isinstance(translated, expected) and translated.status_code == status, error
    assert translate(ValueError("a bug")) is None
    nested = ExceptionGroup("g", [ValueError("x"), ExceptionGroup("h", [cases[0][0]])])
    found = first_translated([nested])
    assert isinstance(found, StorageUnavailable)
