"""Only the right person signs, through the running service: one signer in effect per number,
nobody but the bound signer signs a role (not an operator, not an admin, not another signer),
a role that cannot be bound is refused when the document is made, a refusal tells nothing of
the PIN and does not count it, and each role reads only what is theirs."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

from tests.conftest import PIN, People, SignerAccount, create_pakta, pakta_data
from tests.test_templates_content import ba_data, mou_data

# NIPs (birth years 1971, sequence 7xx) and a NIK no other test module uses.
NIP_OWNER = "197101152000031701"
NIP_OTHER = "197102202000032702"
NIP_TWICE = "197103252001041703"
NIP_PIHAK_PERTAMA = "197104102001041704"
NIP_PIHAK_KEDUA = "197105052001042705"
NIP_COUNTED = "197106062001041706"
NIP_SAKSI_1 = "197107072001041707"
NIP_SAKSI_2 = "197108082001042708"
NIP_NOBODY = "197109092001041709"
NIP_AUDITED = "197110102001041710"
NIP_OPERATOR_ENTRY = "197111112001041711"
NIK_KETUA = "3515144807710711"  # a woman born 8 July 1971 (day + 40)
WRONG_PIN = "975310"

# The suite's MoU and berita acara, with this module's own people.
MOU = mou_data(nip_pihak_pertama=NIP_PIHAK_PERTAMA, nip_pihak_kedua=NIP_PIHAK_KEDUA)
BA = ba_data(
    1,
    nip_pejabat_pelantik="",
    nip_saksi_1=NIP_SAKSI_1,
    nip_saksi_2=NIP_SAKSI_2,
    peserta=[
        {
            "nama": "Rina Kartika",
            "nip": "197112122001042712",
            "pangkat": "III/c",
            "jabatan": "Kepala Seksi Pemerintahan",
        }
    ],
)


def new_pakta(client: httpx.Client, nip: str, **body: object) -> dict[str, Any]:
    """A new pakta integritas of ``nip``, made by ``client``."""
    return cast("dict[str, Any]", create_pakta(client, nip, **body))


def mou_of(**overrides: object) -> dict[str, object]:
    return {**MOU, **overrides}


def problem_fields(response: httpx.Response) -> set[str]:
    return {p["field"] for p in response.json().get("problems") or []}


def state(client: httpx.Client, document_id: str) -> dict[str, Any]:
    """What a refusal must not change: status, pending roles, who signed, the revisions."""
    response = client.get(f"/api/v1/documents/{document_id}")
    assert response.status_code == 200, response.text
    document = response.json()
    return {
        "status": document["status"],
        "pending_roles": document["pending_roles"],
        "signed": [(s["role"], s["signer_id"], s["signed_at"]) for s in document["signers"]],
        "revisions": [r["sha256"] for r in document["revisions"]],
    }


def sign(signer: SignerAccount, document_id: str, role: str, pin: str) -> httpx.Response:
    return signer.client.post(
        f"/api/v1/documents/{document_id}/signatures", json={"role": role, "pin": pin}
    )


@pytest.fixture(scope="module")
def owner(people: People) -> SignerAccount:
    return people.signer(NIP_OWNER, name="Drs. Agus Salim, M.Si.")


@pytest.fixture(scope="module")
def other(people: People) -> SignerAccount:
    return people.signer(NIP_OTHER, name="Dewi Lestari, S.Sos.")


@pytest.fixture(scope="module")
def owners_pakta(people: People, owner: SignerAccount) -> dict[str, Any]:
    return new_pakta(people.operator.client, NIP_OWNER)


@pytest.fixture(scope="module")
def mou_signers(people: People) -> tuple[SignerAccount, SignerAccount]:
    first = people.signer(NIP_PIHAK_PERTAMA, name="Drs. Bambang Wijaya, M.Si.", jabatan="Camat")
    second = people.signer(
        NIP_PIHAK_KEDUA, name="Siti Aminah, S.H., M.H.", jabatan="Ketua Panwaslu Kecamatan"
    )
    return first, second


def create_mou(client: httpx.Client, **body: Any) -> dict[str, Any]:
    data = body.pop("data", mou_of())
    response = client.post(
        "/api/v1/documents", json={"template": "nota-kesepahaman", "data": data, **body}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


# One signer in effect per number ------------------------------------------------------------


def test_a_second_enrolment_of_the_same_number_is_refused(people: People) -> None:
    active = people.signer(NIP_OWNER, name="Drs. Agus Salim, M.Si.")
    body = {
        "name": "Orang Lain, S.E.",
        "nip": NIP_OWNER,
        "jabatan": "Kepala Dinas",
        "unit_id": people.unit_id,
    }
    for who in (people.admin, people.operator):
        twice = who.client.post("/api/v1/signers", json=body)
        assert twice.status_code == 409, twice.text
        assert twice.json()["error"] == "Conflict"
    # An entry waiting for its activation or for an admin's approval holds the number too.
    waiting = people.enrol(NIP_TWICE, name="Nurul Hidayah, S.Pd.")
    assert waiting["status"] == "menunggu_aktivasi"
    again = people.admin.client.post("/api/v1/signers", json={**body, "nip": NIP_TWICE})
    assert again.status_code == 409
    proposed = people.operator.client.post(
        "/api/v1/signers", json={**body, "nip": NIP_OPERATOR_ENTRY}
    )
    assert proposed.status_code == 201 and proposed.json()["status"] == "menunggu_persetujuan"
    over = people.admin.client.post("/api/v1/signers", json={**body, "nip": NIP_OPERATOR_ENTRY})
    assert over.status_code == 409
    # The one in effect is still the first.
    listed = people.admin.client.get("/api/v1/signers").json()
    mine = [s for s in listed if s["nip"] == NIP_OWNER and s["status"] != "dicabut"]
    assert [s["id"] for s in mine] == [active.signer_id]


# Nobody signs for anyone else -----------------------------------------------------------------


def test_operators_and_admins_cannot_sign(
    people: People, owner: SignerAccount, owners_pakta: dict[str, Any]
) -> None:
    document_id = owners_pakta["id"]
    before = state(people.admin.client, document_id)
    for who in (people.operator, people.admin):
        refused = who.client.post(
            f"/api/v1/documents/{document_id}/signatures",
            json={"role": "pembuat_pernyataan", "pin": PIN},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "Forbidden"
        bulk = who.client.post(
            "/api/v1/batches/00000000000000000000000000000000/signatures",
            json={"role": "pembuat_pernyataan", "pin": PIN},
        )
        assert bulk.status_code == 403 and bulk.json()["error"] == "Forbidden"
    with people.anonymous() as anonymous:
        nobody = anonymous.post(
            f"/api/v1/documents/{document_id}/signatures",
            json={"role": "pembuat_pernyataan", "pin": PIN},
        )
        assert nobody.status_code == 401
    assert state(people.admin.client, document_id) == before
    assert before["status"] == "menunggu_tanda_tangan"
    assert before["pending_roles"] == ["pembuat_pernyataan"]


def test_a_signer_cannot_sign_a_document_not_bound_to_them(
    people: People, owner: SignerAccount, other: SignerAccount, owners_pakta: dict[str, Any]
) -> None:
    document_id = owners_pakta["id"]
    before = state(people.admin.client, document_id)
    refused = sign(other, document_id, "pembuat_pernyataan", other.pin)
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"] == "NotFound"
    # Asking for someone else's document by their PIN gets the same answer.
    assert sign(other, document_id, "pembuat_pernyataan", owner.pin).json() == refused.json()
    after = state(people.admin.client, document_id)
    assert after == before
    assert after["status"] == "menunggu_tanda_tangan"


def test_a_signer_cannot_sign_another_signers_role(
    people: People, mou_signers: tuple[SignerAccount, SignerAccount]
) -> None:
    first, second = mou_signers
    document = create_mou(people.operator.client)
    bound = {s["role"]: s["assigned_signer_id"] for s in document["signers"]}
    assert bound == {"pihak_pertama": first.signer_id, "pihak_kedua": second.signer_id}
    before = state(people.admin.client, document["id"])
    # PIHAK PERTAMA's turn, but the role is someone else's.
    refused = sign(second, document["id"], "pihak_pertama", second.pin)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "SignerMismatch"
    assert state(people.admin.client, document["id"]) == before
    # Once PIHAK PERTAMA has signed, they cannot take PIHAK KEDUA's turn either.
    assert sign(first, document["id"], "pihak_pertama", first.pin).status_code == 200
    middle = state(people.admin.client, document["id"])
    assert middle["pending_roles"] == ["pihak_kedua"]
    taken = sign(first, document["id"], "pihak_kedua", first.pin)
    assert taken.status_code == 403 and taken.json()["error"] == "SignerMismatch"
    assert state(people.admin.client, document["id"]) == middle
    signed = sign(second, document["id"], "pihak_kedua", second.pin)
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "sah"
    by = {s["role"]: s["signer_id"] for s in signed.json()["signers"]}
    assert by == {"pihak_pertama": first.signer_id, "pihak_kedua": second.signer_id}


# Every role bound when the document is made ---------------------------------------------------


def test_a_role_that_cannot_be_bound_is_refused_naming_it(
    people: People, mou_signers: tuple[SignerAccount, SignerAccount]
) -> None:
    client = people.operator.client
    people.enrol(NIP_SAKSI_1, name="Drs. Hendra Gunawan, M.Si.")
    people.enrol(NIP_SAKSI_2, name="Ir. Sri Rahayu, M.T.")
    # The inaugurating Bupati has no NIP and nobody was chosen for him.
    ba = client.post("/api/v1/documents", json={"template": "berita-acara-pelantikan", "data": BA})
    assert ba.status_code == 422, ba.text
    assert problem_fields(ba) == {"signers.pejabat_pelantik"}
    # The MoU's PIHAK KEDUA without a NIP and without a chosen signer.
    mou = client.post(
        "/api/v1/documents",
        json={"template": "nota-kesepahaman", "data": mou_of(nip_pihak_kedua="")},
    )
    assert mou.status_code == 422, mou.text
    assert problem_fields(mou) == {"signers.pihak_kedua"}
    # A NIP nobody is enrolled with.
    pakta = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip=NIP_NOBODY)},
    )
    assert pakta.status_code == 422, pakta.text
    assert problem_fields(pakta) == {"signers.pembuat_pernyataan"}
    assert NIP_NOBODY in pakta.json()["problems"][0]["message"]
    # A chosen signer whose NIP is not the one in the data.
    first, second = mou_signers
    mismatch = client.post(
        "/api/v1/documents",
        json={
            "template": "nota-kesepahaman",
            "data": mou_of(),
            "signers": {"pihak_kedua": first.signer_id},
        },
    )
    assert mismatch.status_code == 422
    assert problem_fields(mismatch) == {"signers.pihak_kedua"}
    # An operator's entry an admin has not approved is bound to nothing yet.
    proposed = client.post(
        "/api/v1/signers",
        json={
            "name": "Ahmad Fauzi, S.E.",
            "nip": "197101302001041713",
            "jabatan": "Sekretaris Camat",
            "unit_id": people.unit_id,
        },
    )
    assert proposed.status_code == 201 and proposed.json()["activation_url"] is None
    waiting = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip="197101302001041713")},
    )
    assert waiting.status_code == 422
    assert problem_fields(waiting) == {"signers.pembuat_pernyataan"}


def test_an_explicit_signer_for_a_role_without_nip_and_only_they_sign(
    people: People, mou_signers: tuple[SignerAccount, SignerAccount], other: SignerAccount
) -> None:
    first, _ = mou_signers
    ketua = people.signer(
        None, nik=NIK_KETUA, name="Siti Aminah, S.H., M.H.", jabatan="Ketua Panwaslu Kecamatan"
    )
    document = create_mou(
        people.operator.client,
        data=mou_of(nip_pihak_kedua=""),
        signers={"pihak_kedua": ketua.signer_id},
    )
    bound = {s["role"]: s["assigned_signer_id"] for s in document["signers"]}
    assert bound == {"pihak_pertama": first.signer_id, "pihak_kedua": ketua.signer_id}
    assert sign(first, document["id"], "pihak_pertama", first.pin).status_code == 200
    before = state(people.admin.client, document["id"])
    # Any other signer: PIHAK PERTAMA (bound to the document) is told the role is not theirs,
    # a signer with no role in it does not find the document.
    mismatch = sign(first, document["id"], "pihak_kedua", first.pin)
    assert mismatch.status_code == 403 and mismatch.json()["error"] == "SignerMismatch"
    stranger = sign(other, document["id"], "pihak_kedua", other.pin)
    assert stranger.status_code == 404
    assert state(people.admin.client, document["id"]) == before
    signed = sign(ketua, document["id"], "pihak_kedua", ketua.pin)
    assert signed.status_code == 200, signed.text
    slot = next(s for s in signed.json()["signers"] if s["role"] == "pihak_kedua")
    assert slot["signer_id"] == ketua.signer_id and slot["name"] == "Siti Aminah, S.H., M.H."
    assert signed.json()["status"] == "sah"


# A refusal tells nothing of the PIN and does not count it -------------------------------------


def test_refusals_look_the_same_with_a_right_and_a_wrong_pin_and_count_nothing(
    people: People, mou_signers: tuple[SignerAccount, SignerAccount], owners_pakta: dict[str, Any]
) -> None:
    client = people.operator.client
    counted = people.signer(NIP_COUNTED, name="Sri Wahyuni, S.Kom.")
    first, _ = mou_signers
    # ``counted`` is PIHAK KEDUA of an MoU PIHAK PERTAMA has not signed yet.
    mou = create_mou(
        client,
        data=mou_of(nip_pihak_kedua=NIP_COUNTED),
    )
    signed_pakta = new_pakta(client, NIP_COUNTED)
    assert sign(counted, signed_pakta["id"], "pembuat_pernyataan", counted.pin).status_code == 200
    refusals = {
        "not their turn": (mou["id"], "pihak_kedua", 409, "Conflict"),
        "someone else's role": (mou["id"], "pihak_pertama", 403, "SignerMismatch"),
        "already signed": (signed_pakta["id"], "pembuat_pernyataan", 409, "Conflict"),
        "no such role": (signed_pakta["id"], "saksi_1", 404, "NotFound"),
        "not their document": (owners_pakta["id"], "pembuat_pernyataan", 404, "NotFound"),
    }
    before = {d: state(people.admin.client, d) for d in (mou["id"], signed_pakta["id"])}
    for why, (document_id, role, status, error) in refusals.items():
        right = sign(counted, document_id, role, counted.pin)
        assert (right.status_code, right.json()["error"]) == (status, error), (why, right.text)
        for _ in range(2):  # more wrong PINs than it takes to lock, all uncounted
            wrong = sign(counted, document_id, role, WRONG_PIN)
            assert wrong.status_code == right.status_code, why
            assert wrong.json() == right.json(), why
    assert {d: state(people.admin.client, d) for d in before} == before
    assert sign(first, mou["id"], "pihak_pertama", first.pin).status_code == 200
    # Not one of those wrong PINs was counted: five more are needed to lock the signer.
    for left in (4, 3, 2, 1):
        wrong = sign(counted, mou["id"], "pihak_kedua", WRONG_PIN)
        assert wrong.status_code == 403 and wrong.json()["error"] == "WrongPin", wrong.text
        assert f"sisa {left} percobaan" in wrong.json()["detail"]
    fifth = sign(counted, mou["id"], "pihak_kedua", WRONG_PIN)
    assert fifth.status_code == 403 and fifth.json()["error"] == "WrongPin"
    assert "dikunci" in fifth.json()["detail"]
    locked = sign(counted, mou["id"], "pihak_kedua", counted.pin)
    assert locked.status_code == 423 and locked.json()["error"] == "SignerLocked"
    assert state(people.admin.client, mou["id"])["pending_roles"] == ["pihak_kedua"]


# Each reads only what is theirs ---------------------------------------------------------------


def test_a_signer_reads_only_their_own_documents_and_list(
    people: People, owner: SignerAccount, other: SignerAccount, owners_pakta: dict[str, Any]
) -> None:
    document_id = owners_pakta["id"]
    assert owner.client.get(f"/api/v1/documents/{document_id}").status_code == 200
    for path in ("", "/pdf", "/docx", "/revisions/1"):
        response = other.client.get(f"/api/v1/documents/{document_id}{path}")
        assert response.status_code == 404, (path, response.text)
    mine = owner.client.get(f"/api/v1/signers/{owner.signer_id}/pending")
    assert mine.status_code == 200
    assert document_id in {p["document_id"] for p in mine.json()}
    theirs = other.client.get(f"/api/v1/signers/{owner.signer_id}/pending")
    assert theirs.status_code == 404
    assert other.client.get(f"/api/v1/signers/{owner.signer_id}").status_code == 404
    assert [s["id"] for s in other.client.get("/api/v1/signers").json()] == [other.signer_id]
    # A signer prepares nothing and revokes nothing.
    made = other.client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip=NIP_OTHER)},
    )
    assert made.status_code == 403
    revoke = owner.client.post(
        f"/api/v1/documents/{document_id}/revoke", json={"reason": "Dicoba penanda tangan"}
    )
    assert revoke.status_code == 403


def test_an_operator_of_another_unit_neither_reads_nor_revokes(
    people: People, owners_pakta: dict[str, Any]
) -> None:
    document_id = owners_pakta["id"]
    elsewhere = people.user("operator", [people.unit("Dinas Pendidikan Kabupaten Sidoarjo")])
    for path in ("", "/pdf"):
        response = elsewhere.client.get(f"/api/v1/documents/{document_id}{path}")
        assert response.status_code == 404, response.text
    revoked = elsewhere.client.post(
        f"/api/v1/documents/{document_id}/revoke", json={"reason": "Bukan urusan unit ini"}
    )
    assert revoked.status_code == 404, revoked.text
    # Nor makes a document for a unit not theirs.
    foreign = elsewhere.client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP_OWNER),
            "unit_id": people.unit_id,
        },
    )
    assert foreign.status_code == 403
    document = people.admin.client.get(f"/api/v1/documents/{document_id}").json()
    assert document["status"] == "menunggu_tanda_tangan" and document["revoked_at"] is None


def test_an_auditor_reads_their_units_documents_and_audit_log_and_makes_nothing(
    people: People, owners_pakta: dict[str, Any]
) -> None:
    unit = people.unit("Inspektorat Kabupaten Sidoarjo")
    operator = people.user("operator", [unit])
    auditor = people.user("auditor", [unit])
    enrolled = people.enrol(NIP_AUDITED, name="Hendra Salim, S.H.", unit_id=unit)
    signer = people.activate_signer(enrolled)
    document = new_pakta(operator.client, NIP_AUDITED)
    assert sign(signer, document["id"], "pembuat_pernyataan", signer.pin).status_code == 200
    read = auditor.client.get(f"/api/v1/documents/{document['id']}")
    assert read.status_code == 200 and read.json()["status"] == "sah"
    assert auditor.client.get(f"/api/v1/documents/{document['id']}/pdf").status_code == 200
    # Not another unit's.
    assert auditor.client.get(f"/api/v1/documents/{owners_pakta['id']}").status_code == 404
    log = auditor.client.get("/api/v1/audit", params={"limit": 500})
    assert log.status_code == 200, log.text
    assert log.json()["chain_intact"] is True
    entries = log.json()["entries"]
    about = {(e["action"], e["actor"]) for e in entries if e["entity_id"] == document["id"]}
    assert ("document.created", operator.id) in about
    assert ("document.signed", signer.id) in about
    assert all(e["client"] for e in entries if e["entity_id"] == document["id"])
    assert owners_pakta["id"] not in {e["entity_id"] for e in entries}
    # An auditor makes and revokes nothing, and signs nothing.
    made = auditor.client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip=NIP_AUDITED)},
    )
    assert made.status_code == 403 and made.json()["error"] == "Forbidden"
    revoked = auditor.client.post(
        f"/api/v1/documents/{document['id']}/revoke", json={"reason": "Dicoba auditor"}
    )
    assert revoked.status_code == 403
    enrol = auditor.client.post(
        "/api/v1/signers",
        json={"name": "Orang Lain", "nip": NIP_NOBODY, "jabatan": "Staf", "unit_id": unit},
    )
    assert enrol.status_code == 403
    # An operator does not read the audit log.
    assert operator.client.get("/api/v1/audit").status_code == 403
