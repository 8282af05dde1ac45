"""Bad input gets a clear 4xx and changes nothing."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PIN, Service, pakta_data, signer_body


def counts(service: Service) -> tuple[int, int, int]:
    with sqlite3.connect(service.data_dir / "docgen.db") as db:
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("documents", "revisions", "number_sequences")
        )


def last_number(service: Service) -> int:
    with sqlite3.connect(service.data_dir / "docgen.db") as db:
        row = db.execute("SELECT COALESCE(SUM(last), 0) FROM number_sequences").fetchone()
        return int(row[0])


@pytest.fixture()
def unchanged(service: Service) -> Iterator[None]:
    """Fails the test if it stored a document, a revision or an object, or took a number."""
    before = counts(service), last_number(service), len(service.stored_objects())
    yield
    assert (counts(service), last_number(service), len(service.stored_objects())) == before


def create(client: httpx.Client, **data: object) -> httpx.Response:
    return client.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data(**data)}
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nip", "198613262015051001"),  # month 13 in the birth date
        ("nip", "198609262015131001"),  # month 13 in the TMT
        ("nip", "12345"),
        ("pangkat", "III/e"),
        ("tanggal", "27-06-2024x"),
    ],
)
def test_invalid_field_is_422_naming_it(
    client: httpx.Client, unchanged: None, field: str, value: str
) -> None:
    response = create(client, **{field: value})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "DataInvalid"
    assert [p["field"] for p in body["problems"]] == [field]


def test_missing_field_is_422(client: httpx.Client, unchanged: None) -> None:
    data = pakta_data()
    del data["jabatan"]
    response = client.post("/api/v1/documents", json={"template": "pakta-integritas", "data": data})
    assert response.status_code == 422
    assert "jabatan" in [p["field"] for p in response.json()["problems"]]


def test_unknown_template_is_404(client: httpx.Client, unchanged: None) -> None:
    response = client.post("/api/v1/documents", json={"template": "surat-cinta", "data": {}})
    assert response.status_code == 404
    assert response.json()["error"] == "TemplateNotFound"


def test_invalid_signer_nip_is_422(client: httpx.Client) -> None:
    response = client.post("/api/v1/signers", json=signer_body(nip="198609262015051"))
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "nip"


@pytest.fixture()
def pending(client: httpx.Client) -> tuple[str, str]:
    """A fresh signer and a document waiting for them."""
    signer = client.post("/api/v1/signers", json=signer_body()).json()
    document = create(client).json()
    return signer["id"], document["id"]


def sign(client: httpx.Client, document_id: str, signer_id: str, pin: str) -> httpx.Response:
    return client.post(
        f"/api/v1/documents/{document_id}/signatures",
        json={"role": "pembuat_pernyataan", "signer_id": signer_id, "pin": pin},
    )


def revisions(client: httpx.Client, document_id: str) -> int:
    return len(client.get(f"/api/v1/documents/{document_id}").json()["revisions"])


def test_wrong_pin_is_403_and_signs_nothing(client: httpx.Client, pending: tuple[str, str]) -> None:
    signer_id, document_id = pending
    response = sign(client, document_id, signer_id, "000000")
    assert response.status_code == 403
    assert response.json()["error"] == "WrongPin"
    assert revisions(client, document_id) == 2
    assert sign(client, document_id, signer_id, PIN).status_code == 200


def test_five_wrong_pins_lock_the_signer(client: httpx.Client, pending: tuple[str, str]) -> None:
    signer_id, document_id = pending
    statuses = [sign(client, document_id, signer_id, "999999").status_code for _ in range(5)]
    assert statuses == [403] * 5
    locked = sign(client, document_id, signer_id, PIN)  # even the right PIN now
    assert locked.status_code == 423, locked.text
    assert locked.json()["error"] == "SignerLocked"
    assert locked.json()["detail"].endswith(" WIB")  # the time Indonesian signers read
    assert revisions(client, document_id) == 2


def test_wrong_pins_must_be_in_a_row(client: httpx.Client) -> None:
    signer_id = client.post("/api/v1/signers", json=signer_body()).json()["id"]
    first, second = create(client).json()["id"], create(client).json()["id"]
    for _ in range(4):
        assert sign(client, first, signer_id, "111111").status_code == 403
    assert sign(client, first, signer_id, PIN).status_code == 200  # resets the count
    for _ in range(4):
        assert sign(client, second, signer_id, "111111").status_code == 403
    assert sign(client, second, signer_id, PIN).status_code == 200


def test_signer_must_be_the_person_named(client: httpx.Client) -> None:
    other = client.post(
        "/api/v1/signers", json=signer_body(name="Siti Aminah", nip="199001152019032005")
    ).json()
    document_id = create(client).json()["id"]
    response = sign(client, document_id, other["id"], PIN)
    assert response.status_code == 403
    assert response.json()["error"] == "SignerMismatch"


def test_signing_twice_is_409(client: httpx.Client, pending: tuple[str, str]) -> None:
    signer_id, document_id = pending
    assert sign(client, document_id, signer_id, PIN).status_code == 200
    again = sign(client, document_id, signer_id, PIN)
    assert again.status_code == 409
    assert revisions(client, document_id) == 4  # source, prepared, signed, B-LTA


def test_unknown_codes_all_get_the_same_404(client: httpx.Client) -> None:
    answers = [client.get(f"/api/v1/verify/{secrets.token_urlsafe(18)}") for _ in range(3)]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    pages = [client.get(f"/v/{secrets.token_urlsafe(18)}") for _ in range(2)]
    assert {p.status_code for p in pages} == {404}
    assert pages[0].text == pages[1].text and "TIDAK DITEMUKAN" in pages[0].text


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not a PDF", b"%PDF-1.7\n" + b"\x00garbage" * 1000, b"%PDF-1.4\n%%EOF"],
)
def test_non_pdf_upload_is_400(client: httpx.Client, unchanged: None, content: bytes) -> None:
    response = client.post("/api/v1/verify", files={"file": ("x.pdf", content, "application/pdf")})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "UploadInvalid"


def test_oversized_upload_is_413(client: httpx.Client) -> None:
    big = b"%PDF-1.7\n" + b"0" * (21 * 1024 * 1024)
    response = client.post("/api/v1/verify", files={"file": ("big.pdf", big, "application/pdf")})
    assert response.status_code == 413
    assert response.json()["error"] == "UploadTooLarge"


def test_huge_json_body_is_refused(client: httpx.Client, unchanged: None) -> None:
    huge = {"template": "pakta-integritas", "data": {"nama": "x" * (30 * 1024 * 1024)}}
    response = client.post("/api/v1/documents", json=huge)
    assert response.status_code == 413


def test_streamed_upload_without_length_is_cut_off(client: httpx.Client, unchanged: None) -> None:
    boundary = b"docgenbatas"

    def chunks():  # type: ignore[no-untyped-def]
        yield (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
        )
        for _ in range(30):
            yield b"0" * 2**20
        yield b"\r\n--" + boundary + b"--\r\n"

    response = client.post(
        "/api/v1/verify",
        content=chunks(),  # a generator: sent chunked, with no Content-Length
        headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Permintaan melebihi batas")


def test_missing_upload_field_is_422(client: httpx.Client) -> None:
    response = client.post("/api/v1/verify", data={"nothing": "here"})
    assert response.status_code == 422
