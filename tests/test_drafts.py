"""Drafts: a document before it is issued. No number is used and nothing is public; it can be
changed, previewed as page images marked DRAF, deleted, and issued, which takes the number and
opens it for signing under the same id. `POST /api/v1/documents` without "draft" still issues at
once (integrations rely on it)."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from tests.conftest import People, pakta_data

NIP = "196807122000031801"  # used by no other module


def draft(client: httpx.Client, **data: object) -> dict[str, Any]:
    response = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(**{"nip": NIP, **data}),
            "draft": True,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def red_share(png: bytes) -> float:
    """The share of pixels that are clearly reddish: the DRAF mark, on black-on-white pages."""
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((200, 280))
    pixels = [image.getpixel((x, y)) for x in range(200) for y in range(280)]
    return sum(1 for r, g, b in pixels if r > g + 25 and r > b + 25) / len(pixels)


def test_a_draft_has_no_number_and_nothing_public(
    people: People, client: httpx.Client, anonymous: httpx.Client
) -> None:
    made = draft(client)
    assert made["status"] == "draf"
    assert made["number"] is None and made["verify_code"] is None and made["verify_url"] is None
    assert made["signers"] == [] and made["revisions"] == []
    # Nothing to download, sign or verify yet.
    assert client.get(f"/api/v1/documents/{made['id']}/pdf").status_code == 409
    signer = people.signer(NIP)
    assert signer.sign(made["id"]).status_code == 404  # not bound to anyone yet
    assert signer.client.get(f"/api/v1/documents/{made['id']}").status_code == 404
    assert anonymous.get(f"/api/v1/documents/{made['id']}").status_code == 401
    # An operator of another unit sees nothing of it.
    other = people.user("operator", [people.unit("Bagian Hukum")])
    assert other.client.get(f"/api/v1/documents/{made['id']}").status_code == 404
    assert other.client.post(f"/api/v1/documents/{made['id']}/issue").status_code == 404


def test_a_draft_is_changed_previewed_and_issued_with_the_next_number(
    people: People, client: httpx.Client, anonymous: httpx.Client
) -> None:
    signer = people.signer(NIP)
    made = draft(client, jabatan="Jabatan yang salah ketik")
    changed = client.put(
        f"/api/v1/documents/{made['id']}",
        json={"data": pakta_data(nip=NIP, jabatan="Kepala Seksi Pengadaan")},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["jabatan"] == "Kepala Seksi Pengadaan"
    assert changed.json()["status"] == "draf"
    bad = client.put(f"/api/v1/documents/{made['id']}", json={"data": pakta_data(nip="123")})
    assert bad.status_code == 422
    assert "nip" in {p["field"] for p in bad.json()["problems"]}

    pages = client.get(f"/api/v1/documents/{made['id']}/pages")
    assert pages.status_code == 200, pages.text
    assert pages.json()["draft"] is True and pages.json()["pages"] >= 1
    first = client.get(pages.json()["images"][0], params={"width": 600})
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(first.content))
    assert image.width == 600 and image.height > image.width  # a portrait page
    assert red_share(first.content) > 0.01  # marked DRAF
    beyond = client.get(f"/api/v1/documents/{made['id']}/pages/{pages.json()['pages'] + 1}")
    assert beyond.status_code == 404

    # Another document issued meanwhile: the draft used no number, so it takes the next one.
    before = client.post(
        "/api/v1/documents", json={"template": "pakta-integritas", "data": pakta_data(nip=NIP)}
    ).json()
    issued = client.post(f"/api/v1/documents/{made['id']}/issue")
    assert issued.status_code == 200, issued.text
    document = issued.json()
    assert document["id"] == made["id"] and document["status"] == "menunggu_tanda_tangan"
    sequence = int(before["number"].split("/")[1])
    assert int(document["number"].split("/")[1]) == sequence + 1
    assert document["data"]["jabatan"] == "Kepala Seksi Pengadaan"
    assert [s["assigned_signer_id"] for s in document["signers"]] == [signer.signer_id]
    # Issued: no more changes, deleting or issuing again; the pages are the stamped PDF's.
    assert client.post(f"/api/v1/documents/{made['id']}/issue").status_code == 409
    assert client.delete(f"/api/v1/documents/{made['id']}").status_code == 409
    again = client.put(f"/api/v1/documents/{made['id']}", json={"data": pakta_data(nip=NIP)})
    assert again.status_code == 409
    issued_pages = client.get(f"/api/v1/documents/{made['id']}/pages").json()
    assert issued_pages["draft"] is False
    plain = client.get(issued_pages["images"][0], params={"width": 600})
    assert red_share(plain.content) < red_share(first.content) / 4
    # Open for signing, and public once signed.
    signed = signer.sign(made["id"])
    assert signed.status_code == 200, signed.text
    code = document["verify_code"]
    assert anonymous.get(f"/api/v1/verify/{code}").json()["status"] == "sah"
    # The signer reads the pages of what they signed.
    assert signer.client.get(f"/api/v1/documents/{made['id']}/pages").status_code == 200


def test_issuing_binds_the_roles_and_refuses_what_cannot_be_bound(
    people: People, client: httpx.Client
) -> None:
    nobody = "196807122000031899"  # a valid NIP that no signer has
    made = draft(client, nip=nobody)  # a draft may wait for its signer's enrolment
    refused = client.post(f"/api/v1/documents/{made['id']}/issue")
    assert refused.status_code == 422
    assert "signers.pembuat_pernyataan" in {p["field"] for p in refused.json()["problems"]}
    assert client.get(f"/api/v1/documents/{made['id']}").json()["status"] == "draf"
    unknown = client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP),
            "signers": {"pembuat_pernyataan": "tidak-ada"},
            "draft": True,
        },
    )
    assert unknown.status_code == 422


def test_a_draft_is_deleted_by_its_unit_only(people: People, client: httpx.Client) -> None:
    made = draft(client)
    signer = people.signer(NIP)
    assert signer.client.delete(f"/api/v1/documents/{made['id']}").status_code == 403
    other = people.user("operator", [people.unit("Inspektorat")])
    assert other.client.delete(f"/api/v1/documents/{made['id']}").status_code == 404
    assert client.delete(f"/api/v1/documents/{made['id']}").status_code == 204
    assert client.get(f"/api/v1/documents/{made['id']}").status_code == 404
    assert client.delete(f"/api/v1/documents/{made['id']}").status_code == 404
    actions = [e["action"] for e in people.audit_log() if e["entity_id"] == made["id"]]
    assert actions == ["document.drafted", "document.draft_deleted"]
