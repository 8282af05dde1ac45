"""Who signs what: signers named per role, the pending list, numbers under concurrency, and
revoking a document (with its replacement) as the public sees it."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import PIN, Service, create_pakta, pakta_data, sign_pakta, signer_body

# NIPs no other test module uses, so the pending lists here are this module's own.
NIP_A = "197705172006041002"
NIP_B = "198112032010012003"


def enrol(client: httpx.Client, nip: str, name: str = "Siti Aminah, S.H.") -> str:
    response = client.post("/api/v1/signers", json=signer_body(nip=nip, name=name))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def create(client: httpx.Client, **body: object) -> dict:
    return create_pakta(client, NIP_A, **body)


@pytest.fixture(scope="module")
def signers(service: Service) -> dict[str, str]:
    with service.client() as client:
        return {
            "a": enrol(client, NIP_A),
            "a_again": enrol(client, NIP_A),  # the same person enrolled twice (a new key)
            "b": enrol(client, NIP_B, "Ir. Joko Widodo"),
        }


def test_pending_lists_what_names_the_signer(client: httpx.Client, signers: dict) -> None:
    by_nip = create(client)
    assigned = create(client, signers={"pembuat_pernyataan": signers["a_again"]})

    pending_a = client.get(f"/api/v1/signers/{signers['a']}/pending").json()
    ids_a = {p["document_id"] for p in pending_a}
    assert by_nip["id"] in ids_a
    assert assigned["id"] not in ids_a  # assigned to the other enrolment of the same NIP
    entry = next(p for p in pending_a if p["document_id"] == by_nip["id"])
    assert entry["role"] == "pembuat_pernyataan" and entry["ready"] is True
    assert entry["number"] == by_nip["number"] and entry["verify_url"] == by_nip["verify_url"]

    pending_again = client.get(f"/api/v1/signers/{signers['a_again']}/pending").json()
    assert assigned["id"] in {p["document_id"] for p in pending_again}
    assert client.get(f"/api/v1/signers/{signers['b']}/pending").json() == []

    # The assigned signer is the only one who may sign; then the document leaves the lists.
    refused = sign_pakta(client, assigned["id"], signers["a"])
    assert refused.status_code == 403 and refused.json()["error"] == "SignerMismatch"
    assert sign_pakta(client, assigned["id"], signers["a_again"]).status_code == 200
    assert sign_pakta(client, by_nip["id"], signers["a"]).status_code == 200
    left = client.get(f"/api/v1/signers/{signers['a']}/pending").json()
    assert by_nip["id"] not in {p["document_id"] for p in left}
    again = client.get(f"/api/v1/signers/{signers['a_again']}/pending").json()
    assert assigned["id"] not in {p["document_id"] for p in again}


def test_assigning_a_wrong_signer_is_refused_before_anything_is_made(
    client: httpx.Client, signers: dict
) -> None:
    response = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP_A),
            "signers": {"pembuat_pernyataan": signers["b"], "saksi": signers["a"]},
        },
    )
    assert response.status_code == 422
    problems = {p["field"]: p["message"] for p in response.json()["problems"]}
    assert "NIP" in problems["signers.pembuat_pernyataan"]
    assert "peran" in problems["signers.saksi"]
    unknown = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP_A),
            "signers": {"pembuat_pernyataan": "0" * 32},
        },
    )
    assert unknown.status_code == 422
    assert client.get("/api/v1/signers/" + "0" * 32 + "/pending").status_code == 404


def test_twenty_concurrent_creations_get_distinct_consecutive_numbers(service: Service) -> None:
    # A year no other test uses, so this scope's sequence starts here.
    good = [pakta_data(nip=NIP_B, tanggal="2019-05-02") for _ in range(20)]
    bad = [pakta_data(nip="198613262015051001", tanggal="2019-05-02") for _ in range(5)]

    def post(data: dict) -> httpx.Response:
        with service.client() as client:
            return client.post(
                "/api/v1/documents", json={"template": "pakta-integritas", "data": data}
            )

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(post, [*good[:10], *bad, *good[10:]]))
    created = [r.json() for r in responses if r.status_code == 201]
    assert len(created) == 20
    assert sorted(r.status_code for r in responses if r.status_code != 201) == [422] * 5
    numbers = [d["number"] for d in created]
    assert len(set(numbers)) == 20
    urut = sorted(int(re.match(r"800\.1\.12/(\d+)/BKPSDM/V/2019$", n)[1]) for n in numbers)  # type: ignore[index]
    assert urut == list(range(1, 21))  # no duplicates and no gaps: the refused ones took none


def test_revoked_document_shows_reason_date_and_replacement(
    client: httpx.Client, signers: dict
) -> None:
    old = create(client)
    new = create(client)
    assert sign_pakta(client, old["id"], signers["a"]).status_code == 200
    before = client.get(f"/api/v1/documents/{old['id']}").json()

    revoked = client.post(
        f"/api/v1/documents/{old['id']}/revoke",
        json={"reason": "Terdapat kesalahan penulisan jabatan", "replaced_by": new["id"]},
    )
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["status"] == "dicabut" and body["replaced_by"] == new["id"]
    assert body["revisions"] == before["revisions"]  # nothing removed, nothing added

    public = client.get(f"/api/v1/verify/{old['verify_code']}").json()
    assert public["status"] == "dicabut" and public["status_label"] == "DICABUT"
    assert public["document"]["revoke_reason"] == "Terdapat kesalahan penulisan jabatan"
    assert public["document"]["revoked_at"]
    assert public["replaced_by"]["verify_url"] == new["verify_url"]
    assert public["replaced_by"]["number"] == new["number"]

    page = client.get(f"/v/{old['verify_code']}").text
    assert "DICABUT" in page and "Terdapat kesalahan penulisan jabatan" in page
    assert f'href="{new["verify_url"]}"' in page and "WIB" in page

    # Every stored revision is still there, byte for byte.
    pdf = client.get(f"/api/v1/documents/{old['id']}/pdf")
    assert (
        pdf.status_code == 200
        and pdf.headers["X-Content-SHA256"] == before["revisions"][-1]["sha256"]
    )

    again = client.post(f"/api/v1/documents/{old['id']}/revoke", json={"reason": "lagi lagi"})
    assert again.status_code == 409
    assert sign_pakta(client, new["id"], signers["a"]).status_code == 200  # an ordinary document


def test_revoke_checks_its_input(client: httpx.Client) -> None:
    document = create(client)
    unknown = client.post(
        f"/api/v1/documents/{document['id']}/revoke", json={"reason": "ganti", "replaced_by": "x"}
    )
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["field"] == "replaced_by"
    itself = client.post(
        f"/api/v1/documents/{document['id']}/revoke",
        json={"reason": "ganti", "replaced_by": document["id"]},
    )
    assert itself.status_code == 422
    assert client.post(f"/api/v1/documents/{document['id']}/revoke", json={}).status_code == 422
    missing = client.post("/api/v1/documents/" + "f" * 32 + "/revoke", json={"reason": "ganti"})
    assert missing.status_code == 404
    assert client.get(f"/api/v1/documents/{document['id']}").json()["status"] != "dicabut"
    # A revoked document cannot be signed.
    client.post(f"/api/v1/documents/{document['id']}/revoke", json={"reason": "batal"})
    response = client.post(
        f"/api/v1/documents/{document['id']}/signatures",
        json={"role": "pembuat_pernyataan", "signer_id": "x", "pin": PIN},
    )
    assert response.status_code == 409
