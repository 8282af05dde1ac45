"""Bad input gets a clear 4xx and changes nothing."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PIN, People, Service, SignerAccount, create_pakta, pakta_data
from tests.test_templates_content import BA, peserta


def counts(service: Service) -> tuple[int, int, int]:
    with service.registry() as db:
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("documents", "revisions", "number_sequences")
        )


def last_number(service: Service) -> int:
    with service.registry() as db:
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


def test_invalid_signer_nip_is_422(client: httpx.Client, people: People) -> None:
    body = {
        "name": "Drs. Budi Santoso, M.Si.",
        "nip": "198609262015051",
        "jabatan": "Kepala Subbagian Umum dan Kepegawaian",
        "unit_id": people.unit_id,
    }
    response = client.post("/api/v1/signers", json=body)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "nip"


def own_nip() -> str:
    """A valid NIP no other test uses: this module's signers get locked and sign with wrong
    PINs, which must not touch anyone else's signer."""
    rng = random.SystemRandom()
    born = rng.randrange(1965, 1995)
    tmt = born + rng.randrange(20, 28)
    return (
        f"{born}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        f"{tmt}{rng.randrange(1, 13):02d}{rng.choice('12')}{rng.randrange(1, 1000):03d}"
    )


@pytest.fixture()
def pending(people: People, client: httpx.Client) -> tuple[SignerAccount, str]:
    """A fresh signer and a document waiting for them."""
    nip = own_nip()
    signer = people.signer(nip)
    return signer, str(create_pakta(client, nip)["id"])


def revisions(client: httpx.Client, document_id: str) -> int:
    return len(client.get(f"/api/v1/documents/{document_id}").json()["revisions"])


def test_wrong_pin_is_403_and_signs_nothing(
    client: httpx.Client, pending: tuple[SignerAccount, str]
) -> None:
    signer, document_id = pending
    response = signer.sign(document_id, pin="000000")
    assert response.status_code == 403
    assert response.json()["error"] == "WrongPin"
    assert revisions(client, document_id) == 2
    assert signer.sign(document_id).status_code == 200


def test_five_wrong_pins_lock_the_signer(
    client: httpx.Client, pending: tuple[SignerAccount, str]
) -> None:
    signer, document_id = pending
    statuses = [signer.sign(document_id, pin="999999").status_code for _ in range(5)]
    assert statuses == [403] * 5
    locked = signer.sign(document_id)  # even the right PIN now
    assert locked.status_code == 423, locked.text
    assert locked.json()["error"] == "SignerLocked"
    assert locked.json()["detail"].endswith(" WIB")  # the time Indonesian signers read
    assert revisions(client, document_id) == 2


def test_wrong_pins_must_be_in_a_row(people: People, client: httpx.Client) -> None:
    nip = own_nip()
    signer = people.signer(nip)
    first, second = create_pakta(client, nip)["id"], create_pakta(client, nip)["id"]
    for _ in range(4):
        assert signer.sign(str(first), pin="111111").status_code == 403
    assert signer.sign(str(first)).status_code == 200  # resets the count
    for _ in range(4):
        assert signer.sign(str(second), pin="111111").status_code == 403
    assert signer.sign(str(second)).status_code == 200


def test_signer_must_be_the_person_named(
    people: People, client: httpx.Client, pending: tuple[SignerAccount, str]
) -> None:
    named, document_id = pending
    other = people.signer(own_nip(), name="Siti Aminah")
    # Another signer has no role in the document: for them it does not exist, whatever the PIN.
    for pin in (other.pin, "999999"):
        response = other.sign(document_id, pin=pin)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "NotFound"
    # Nor can the operator who made it sign it, nor can a role be bound to someone whose NIP
    # is not the one in the data.
    assert (
        client.post(
            f"/api/v1/documents/{document_id}/signatures",
            json={"role": "pembuat_pernyataan", "pin": PIN},
        ).status_code
        == 403
    )
    response = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=named.nip),
            "signers": {"pembuat_pernyataan": other.signer_id},
        },
    )
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["problems"]] == ["signers.pembuat_pernyataan"]
    assert revisions(client, document_id) == 2
    assert named.sign(document_id).status_code == 200


def test_signing_twice_is_409(client: httpx.Client, pending: tuple[SignerAccount, str]) -> None:
    signer, document_id = pending
    assert signer.sign(document_id).status_code == 200
    again = signer.sign(document_id)
    assert again.status_code == 409
    assert revisions(client, document_id) == 4  # source, prepared, signed, B-LTA


def test_unknown_codes_all_get_the_same_404(anonymous: httpx.Client) -> None:
    client = anonymous
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
def test_non_pdf_upload_is_400(anonymous: httpx.Client, unchanged: None, content: bytes) -> None:
    response = anonymous.post(
        "/api/v1/verify", files={"file": ("x.pdf", content, "application/pdf")}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "UploadInvalid"


def test_oversized_upload_is_413(anonymous: httpx.Client) -> None:
    big = b"%PDF-1.7\n" + b"0" * (21 * 1024 * 1024)
    response = anonymous.post("/api/v1/verify", files={"file": ("big.pdf", big, "application/pdf")})
    assert response.status_code == 413
    assert response.json()["error"] == "UploadTooLarge"


def test_huge_json_body_is_refused(client: httpx.Client, unchanged: None) -> None:
    huge = {"template": "pakta-integritas", "data": {"nama": "x" * (30 * 1024 * 1024)}}
    response = client.post("/api/v1/documents", json=huge)
    assert response.status_code == 413


def test_streamed_upload_without_length_is_cut_off(
    anonymous: httpx.Client, unchanged: None
) -> None:
    boundary = b"docgenbatas"

    def chunks():  # type: ignore[no-untyped-def]
        yield (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
        )
        for _ in range(30):
            yield b"0" * 2**20
        yield b"\r\n--" + boundary + b"--\r\n"

    response = anonymous.post(
        "/api/v1/verify",
        content=chunks(),  # a generator: sent chunked, with no Content-Length
        headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Permintaan melebihi batas")


def test_missing_upload_field_is_422(anonymous: httpx.Client) -> None:
    response = anonymous.post("/api/v1/verify", data={"nothing": "here"})
    assert response.status_code == 422


# Text a name never holds, and one character more than its column (signers.name, units.name:
# String(200)); each refused with the field named, in Indonesian.
HIDDEN = [
    ("Budi\x00Santoso", "karakter kontrol atau tak tampak (U+0000)"),
    ("Budi\nSantoso", "karakter kontrol atau tak tampak (U+000A)"),
    ("Budi \u202eosotnaS", "karakter kontrol atau tak tampak (U+202E)"),
    ("B" * 201, "maksimal 200 karakter"),
]


def refused_naming(response: httpx.Response, field: str, message: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["error"], body["detail"]) == ("DataInvalid", f"Data tidak valid: {field}")
    [problem] = body["problems"]
    assert problem["field"] == field and message in problem["message"], problem


@pytest.mark.parametrize(("value", "message"), HIDDEN)
@pytest.mark.parametrize("field", ["name", "jabatan"])
def test_a_signer_with_hidden_or_overlong_text_is_refused(
    people: People, field: str, value: str, message: str
) -> None:
    admin = people.admin.client
    nip = own_nip()
    body = {"name": "Budi Santoso", "nip": nip, "jabatan": "Camat", "unit_id": people.unit_id}
    response = admin.post("/api/v1/signers", json={**body, field: value})
    refused_naming(response, field, message)
    assert nip not in [s["nip"] for s in admin.get("/api/v1/signers").json()]


@pytest.mark.parametrize(("value", "message"), HIDDEN)
def test_a_unit_with_hidden_or_overlong_name_is_refused(
    people: People, value: str, message: str
) -> None:
    admin = people.admin.client
    code = f"U{secrets.token_hex(4)}"
    response = admin.post("/api/v1/units", json={"name": value, "code": code})
    refused_naming(response, "name", message)
    assert code not in [u["code"] for u in admin.get("/api/v1/units").json()]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "budi@contoh.go.id\u202e", "karakter kontrol atau tak tampak (U+202E)"),
        ("email", "budi\x00@contoh.go.id", "karakter kontrol atau tak tampak (U+0000)"),
        ("username", "b" * 101, "maksimal 100 karakter"),
        ("username", "budi\n", "bentuknya tidak sesuai"),
    ],
)
def test_a_user_with_hidden_or_overlong_text_is_refused(
    people: People, field: str, value: str, message: str
) -> None:
    admin = people.admin.client
    username = f"operator-{secrets.token_hex(4)}"
    body = {"username": username, "role": "operator", "unit_ids": [people.unit_id]}
    response = admin.post("/api/v1/users", json={**body, field: value})
    refused_naming(response, field, message)
    assert not [u for u in admin.get("/api/v1/users").json() if u["username"] in (username, value)]


# A document's data refuses, in every text field of its manifest and in the text fields of its
# list records, what a signer's name refuses (the one rule of docgen.kit.types), and bounds
# each text value (validation.MAX_TEXT_LENGTH).
HIDDEN_IN_DATA = [
    ("Budi\x07Santoso", "karakter kontrol atau tak tampak (U+0007)"),
    ("Budi\nSantoso", "karakter kontrol atau tak tampak (U+000A)"),
    ("Budi\u200bSantoso", "karakter kontrol atau tak tampak (U+200B)"),
    ("Budi \u202eosotnaS", "karakter kontrol atau tak tampak (U+202E)"),
    ("B" * 2**20, "terlalu panjang (maksimal 2000 karakter)"),
]


@pytest.mark.parametrize(("value", "message"), HIDDEN_IN_DATA)
@pytest.mark.parametrize("field", ["nama", "jabatan"])
def test_a_document_with_hidden_or_overlong_text_is_refused(
    client: httpx.Client, unchanged: None, field: str, value: str, message: str
) -> None:
    refused_naming(create(client, **{field: value}), field, message)


@pytest.mark.parametrize(("value", "message"), HIDDEN_IN_DATA[:4])
def test_a_list_record_with_hidden_text_is_refused(
    client: httpx.Client, unchanged: None, value: str, message: str
) -> None:
    people = peserta(3)
    people[1]["nama"] = value
    response = client.post(
        "/api/v1/documents",
        json={"template": "berita-acara-pelantikan", "data": {**BA, "peserta": people}},
    )
    assert response.status_code == 422, response.text
    problems = {p["field"]: p["message"] for p in response.json()["problems"]}
    assert message in problems["peserta[2].nama"], problems


def test_names_as_people_write_them_are_accepted(client: httpx.Client, people: People) -> None:
    nip = own_nip()
    people.signer(nip)
    for name in ("Moch. Sya'roni, S.Sos.", "Sri Wahyuni", "Dédé Ñurhayati, S.H.,\u00a0M.Kn."):
        response = client.post(
            "/api/v1/documents",
            json={"template": "pakta-integritas", "data": pakta_data(nip=nip, nama=name)},
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["nama"] == name


# Decline and revoke reasons: a few lines (PlainLines), nothing else hidden, in Indonesian.
REFUSED_REASONS = [
    ("Data keliru \u202eurileK", "karakter kontrol atau tak tampak (U+202E)"),
    ("Data\u200b keliru", "karakter kontrol atau tak tampak (U+200B)"),
    ("Data\x00keliru", "karakter kontrol atau tak tampak (U+0000)"),
    ("x", "minimal 3 karakter"),
]


def test_a_reason_with_hidden_text_is_refused(
    client: httpx.Client, pending: tuple[SignerAccount, str]
) -> None:
    signer, document_id = pending
    for reason, message in REFUSED_REASONS:
        declined = signer.client.post(
            f"/api/v1/documents/{document_id}/decline",
            json={"role": "pembuat_pernyataan", "reason": reason},
        )
        refused_naming(declined, "reason", message)
        revoked = client.post(f"/api/v1/documents/{document_id}/revoke", json={"reason": reason})
        refused_naming(revoked, "reason", message)
    shown = client.get(f"/api/v1/documents/{document_id}").json()
    assert shown["status"] == "menunggu_tanda_tangan"
    # A reason of a few lines is still a reason.
    revoked = client.post(
        f"/api/v1/documents/{document_id}/revoke", json={"reason": "Data keliru:\r\n\tnama"}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoke_reason"] == "Data keliru:\r\n\tnama"
