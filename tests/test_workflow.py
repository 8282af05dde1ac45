"""Who signs what: every role bound to one signer when the document is made, the pending list,
numbers under concurrency, and revoking a document (with its replacement) as the public sees
it."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import People, SignerAccount, create_pakta, pakta_data, sign_pakta

# NIPs no other test module uses, so the pending lists here are this module's own.
NIP_A = "197705172006041002"
NIP_B = "198112032010012003"
NIP_NOBODY = "197902142005011007"  # enrolled by no test


def create(client: httpx.Client, **body: object) -> dict:
    return create_pakta(client, NIP_A, **body)


def upload(anonymous: httpx.Client, pdf: bytes) -> dict:
    response = anonymous.post("/api/v1/verify", files={"file": ("p.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    return dict(response.json())


def pending(account: SignerAccount) -> list[dict]:
    """The signer's own list, as they read it."""
    response = account.client.get(f"/api/v1/signers/{account.signer_id}/pending")
    assert response.status_code == 200, response.text
    return list(response.json())


@pytest.fixture(scope="module")
def signers(people: People) -> dict[str, SignerAccount]:
    return {
        "a": people.signer(NIP_A, name="Siti Aminah, S.H."),
        "b": people.signer(NIP_B, name="Ir. Joko Widodo"),
    }


def test_a_number_has_one_signer_in_effect(people: People, signers: dict) -> None:
    # The same person enrolled twice (once a second key anyone could sign with) is refused.
    again = people.admin.client.post(
        "/api/v1/signers",
        json={
            "name": "Siti Aminah, S.H.",
            "nip": NIP_A,
            "jabatan": "Kepala Bidang Mutasi",
            "unit_id": people.unit_id,
            "username": "siti-aminah-lagi",
        },
    )
    assert again.status_code == 409, again.text
    assert "Nomor induk" in again.json()["detail"]  # the number, not the username
    listed = people.admin.client.get("/api/v1/signers").json()
    assert [s["id"] for s in listed if s["nip"] == NIP_A] == [signers["a"].signer_id]


def test_pending_lists_what_is_bound_to_the_signer(client: httpx.Client, signers: dict) -> None:
    a, b = signers["a"], signers["b"]
    for_a = create(client)
    for_b: dict = create_pakta(client, NIP_B)
    for role, document, signer in (("a", for_a, a), ("b", for_b, b)):
        (slot,) = client.get(f"/api/v1/documents/{document['id']}").json()["signers"]
        assert slot["assigned_signer_id"] == signer.signer_id, role  # by the NIP in the data

    pending_a = pending(a)
    ids_a = {p["document_id"] for p in pending_a}
    assert for_a["id"] in ids_a
    assert for_b["id"] not in ids_a  # bound to the other signer
    entry = next(p for p in pending_a if p["document_id"] == for_a["id"])
    assert entry["role"] == "pembuat_pernyataan" and entry["ready"] is True
    assert entry["number"] == for_a["number"] and entry["verify_url"] == for_a["verify_url"]
    ids_b = {p["document_id"] for p in pending(b)}
    assert for_b["id"] in ids_b and for_a["id"] not in ids_b
    # The unit's operator reads the same list; a signer reads only their own.
    operator_view = client.get(f"/api/v1/signers/{a.signer_id}/pending").json()
    assert for_a["id"] in {p["document_id"] for p in operator_view}
    assert a.client.get(f"/api/v1/signers/{b.signer_id}/pending").status_code == 404

    # The bound signer is the only one who may sign: to anyone else the document is not there.
    refused = sign_pakta(a, for_b["id"])
    assert refused.status_code == 404, refused.text
    assert a.client.get(f"/api/v1/documents/{for_b['id']}").status_code == 404
    by_operator = client.post(
        f"/api/v1/documents/{for_b['id']}/signatures",
        json={"role": "pembuat_pernyataan", "pin": b.pin},
    )
    assert by_operator.status_code == 403
    assert client.get(f"/api/v1/documents/{for_b['id']}").json()["pending_roles"] == [
        "pembuat_pernyataan"
    ]
    assert sign_pakta(b, for_b["id"]).status_code == 200
    assert sign_pakta(a, for_a["id"]).status_code == 200
    assert for_a["id"] not in {p["document_id"] for p in pending(a)}
    assert for_b["id"] not in {p["document_id"] for p in pending(b)}


def test_a_role_that_cannot_be_bound_is_refused_before_anything_is_made(
    client: httpx.Client, signers: dict
) -> None:
    response = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP_A),
            "signers": {
                "pembuat_pernyataan": signers["b"].signer_id,
                "saksi": signers["a"].signer_id,
            },
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
    assert unknown.json()["problems"][0]["field"] == "signers.pembuat_pernyataan"
    # A NIP nobody is enrolled with binds to no one: refused, naming the role and the number.
    nobody = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip=NIP_NOBODY)},
    )
    assert nobody.status_code == 422
    (problem,) = nobody.json()["problems"]
    assert problem["field"] == "signers.pembuat_pernyataan" and NIP_NOBODY in problem["message"]
    assert client.get("/api/v1/signers/" + "0" * 32 + "/pending").status_code == 404


def test_twenty_concurrent_creations_get_distinct_consecutive_numbers(
    client: httpx.Client, signers: dict
) -> None:
    # A year no other test uses, so this scope's sequence starts here.
    good = [pakta_data(nip=NIP_B, tanggal="2019-05-02") for _ in range(20)]
    bad = [pakta_data(nip="198613262015051001", tanggal="2019-05-02") for _ in range(5)]

    def post(data: dict) -> httpx.Response:
        with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=120) as own:
            return own.post(
                "/api/v1/documents", json={"template": "pakta-integritas", "data": data}
            )

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(post, [*good[:10], *bad, *good[10:]]))
    created = [r.json() for r in responses if r.status_code == 201]
    assert len(created) == 20
    assert sorted(r.status_code for r in responses if r.status_code != 201) == [422] * 5
    numbers = [d["number"] for d in created]
    assert len(set(numbers)) == 20
    pattern = re.compile(r"800\.1\.12/(\d+)/[A-Za-z0-9]+/V/2019")
    urut = sorted(int(pattern.fullmatch(n)[1]) for n in numbers)  # type: ignore[index]
    assert urut == list(range(1, 21))  # no duplicates and no gaps: the refused ones took none


def test_revoked_document_shows_reason_date_and_replacement(
    client: httpx.Client, anonymous: httpx.Client, signers: dict
) -> None:
    a = signers["a"]
    old = create(client)
    new = create(client)
    assert sign_pakta(a, old["id"]).status_code == 200
    before = client.get(f"/api/v1/documents/{old['id']}").json()

    # Only the unit's staff revoke a document: not its signer, not the public.
    reason = {"reason": "Terdapat kesalahan penulisan jabatan", "replaced_by": new["id"]}
    assert a.client.post(f"/api/v1/documents/{old['id']}/revoke", json=reason).status_code == 403
    assert anonymous.post(f"/api/v1/documents/{old['id']}/revoke", json=reason).status_code == 401
    revoked = client.post(f"/api/v1/documents/{old['id']}/revoke", json=reason)
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["status"] == "dicabut" and body["replaced_by"] == new["id"]
    assert body["revisions"] == before["revisions"]  # nothing removed, nothing added

    public = anonymous.get(f"/api/v1/verify/{old['verify_code']}").json()
    assert public["status"] == "dicabut" and public["status_label"] == "DICABUT"
    assert public["document"]["revoke_reason"] == "Terdapat kesalahan penulisan jabatan"
    assert public["document"]["revoked_at"]
    assert public["replaced_by"]["verify_url"] == new["verify_url"]
    assert public["replaced_by"]["number"] == new["number"]

    page = anonymous.get(f"/v/{old['verify_code']}").text
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
    assert sign_pakta(a, new["id"]).status_code == 200  # an ordinary document


def test_an_uploaded_copy_of_a_revoked_document_is_red_with_its_reason(
    client: httpx.Client, anonymous: httpx.Client, signers: dict
) -> None:
    document = create(client)
    assert sign_pakta(signers["a"], document["id"]).status_code == 200
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    code = document["verify_code"]
    assert upload(anonymous, pdf)["verdict"] == "asli"  # until it is revoked
    reason = {"reason": "Pejabat penanda tangan salah"}
    assert client.post(f"/api/v1/documents/{document['id']}/revoke", json=reason).status_code == 200

    report = upload(anonymous, pdf)
    assert report["valid"] is True and report["is_latest"] is True  # the file itself is intact
    assert (report["verdict"], report["verdict_label"]) == ("dicabut", "DICABUT")
    assert report["document"]["document"]["revoke_reason"] == "Pejabat penanda tangan salah"
    page = anonymous.post("/v", files={"file": ("p.pdf", pdf, "application/pdf")}).text
    assert '<div class="status dicabut"><strong>DICABUT</strong>' in page
    assert "ASLI" not in page and "Pejabat penanda tangan salah" in page and "WIB" in page
    # The public PDF stays there, marked revoked.
    view = anonymous.get(f"/api/v1/verify/{code}").json()
    download = anonymous.get(view["download_url"])
    assert download.status_code == 200 and download.content == pdf
    assert 'filename="DICABUT-' in download.headers["content-disposition"]
    assert "yang telah DICABUT (PDF)" in anonymous.get(f"/v/{code}").text


def test_the_public_pdf_waits_for_every_signature(
    client: httpx.Client, anonymous: httpx.Client, signers: dict
) -> None:
    document = create(client)
    code = document["verify_code"]
    view = anonymous.get(f"/api/v1/verify/{code}").json()
    assert view["status"] == "menunggu_tanda_tangan" and view["download_url"] is None
    refused = anonymous.get(f"/v/{code}/pdf")
    assert refused.status_code == 404 and "belum dapat diunduh" in refused.json()["detail"]
    page = anonymous.get(f"/v/{code}").text
    assert "/pdf" not in page and "setelah seluruh penanda tangan" in page
    prepared = client.get(f"/api/v1/documents/{document['id']}/pdf").content
    report = upload(anonymous, prepared)
    assert (report["verdict"], report["verdict_label"]) == ("belum_lengkap", "BELUM LENGKAP")

    assert sign_pakta(signers["a"], document["id"]).status_code == 200
    view = anonymous.get(f"/api/v1/verify/{code}").json()
    assert anonymous.get(view["download_url"]).status_code == 200
    # The prepared file of a document signed since: an earlier revision, amber.
    report = upload(anonymous, prepared)
    assert report["verdict"] == "bukan_versi_terakhir" and report["is_latest"] is False
    page = anonymous.post("/v", files={"file": ("p.pdf", prepared, "application/pdf")}).text
    assert '<div class="status bukan_versi_terakhir"><strong>BUKAN VERSI TERAKHIR</strong>' in page
    assert f'href="{document["verify_url"]}"' in page


def test_revoke_checks_its_input(client: httpx.Client, signers: dict) -> None:
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
    # A revoked document cannot be signed, not even by the signer bound to it.
    revoked = client.post(f"/api/v1/documents/{document['id']}/revoke", json={"reason": "batal"})
    assert revoked.status_code == 200, revoked.text
    response = sign_pakta(signers["a"], document["id"])
    assert response.status_code == 409
    assert client.get(f"/api/v1/documents/{document['id']}").json()["pending_roles"] == [
        "pembuat_pernyataan"
    ]
