"""Activation links through the running service: what a link shows, the TOTP code admins and
operators must give, single use, expiry, the PIN rules, the key made only when the signer
activates, an operator's entry waiting for an admin, re-enrolment taking over from the old
certificate, a PIN change keeping the key, and the activation page."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import Any, cast

import httpx
import psycopg
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.conftest import PIN, People, Service, create_pakta, pakta_data
from tests.people import PASSWORD, Otp, activation_token

# NIPs (birth year 1972, sequence 72x) no other test module uses.
NIP_PINS = "197209262000031721"  # born 26 September 1972
NIP_PROPOSED = "197203032001041722"
NIP_REENROLLED = "197204042001042723"
NIP_PIN_CHANGE = "197205052001041724"
NIP_EXPIRED = "197206062001041725"
NIP_PAGE = "197207072001042726"
NEW_PIN = "582047"
# Login names no other test module uses.
OPERATOR_NAME = "operator-aktivasi-72"
AUDITOR_NAME = "auditor-halaman-72"


def new_pakta(client: httpx.Client, nip: str, **body: object) -> dict[str, Any]:
    """A new pakta integritas of ``nip``, made by ``client``."""
    return cast("dict[str, Any]", create_pakta(client, nip, **body))


def token_of(url: str) -> str:
    return activation_token(url)


def problem_fields(response: httpx.Response) -> set[str]:
    return {p["field"] for p in response.json().get("problems") or []}


def signer_of(people: People, signer_id: str) -> dict[str, Any]:
    response = people.admin.client.get(f"/api/v1/signers/{signer_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def registry(service: Service) -> psycopg.Connection[tuple[object, ...]]:
    return service.registry()


# Admins' and operators' accounts --------------------------------------------------------------


def test_an_operator_activates_with_a_totp_code_once(
    people: People, anonymous: httpx.Client
) -> None:
    made = people.admin.client.post(
        "/api/v1/users",
        json={"username": OPERATOR_NAME, "role": "operator", "unit_ids": [people.unit_id]},
    )
    assert made.status_code == 201, made.text
    user_id, url = made.json()["id"], made.json()["activation_url"]
    token = token_of(url)
    assert len(token) >= 22  # at least 128 random bits, URL-safe
    shown = anonymous.get(f"/api/v1/activation/{token}")
    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert view["username"] == OPERATOR_NAME and view["role"] == "operator"
    assert view["totp_required"] is True and view["pin_required"] is False
    assert view["otpauth_uri"].startswith("otpauth://totp/")
    otp = Otp(view["otpauth_uri"])
    # No code, or a wrong one: refused, and the link still works.
    without = anonymous.post(f"/api/v1/activation/{token}", json={"password": PASSWORD})
    assert without.status_code == 422 and problem_fields(without) == {"otp"}
    wrong = anonymous.post(
        f"/api/v1/activation/{token}", json={"password": PASSWORD, "otp": "000000"}
    )
    assert wrong.status_code == 422 and problem_fields(wrong) == {"otp"}
    assert anonymous.get(f"/api/v1/activation/{token}").status_code == 200
    done = anonymous.post(
        f"/api/v1/activation/{token}", json={"password": PASSWORD, "otp": otp.code()}
    )
    assert done.status_code == 200, done.text
    assert done.json()["id"] == user_id and done.json()["active"] and done.json()["totp"]
    # Single use.
    assert anonymous.get(f"/api/v1/activation/{token}").status_code == 404
    again = anonymous.post(
        f"/api/v1/activation/{token}", json={"password": "Lain-Sandi-2026!", "otp": otp.code()}
    )
    assert again.status_code == 404 and again.json()["error"] == "NotFound"
    assert anonymous.get(f"/aktivasi/{token}").status_code == 404
    # The password and TOTP set by the activation log in; the second try's password does not.
    login = anonymous.post(
        "/api/v1/auth/tokens",
        json={
            "username": OPERATOR_NAME,
            "password": PASSWORD,
            "otp": otp.code(),
            "name": "uji",
        },
    )
    assert login.status_code == 201, login.text


def test_an_expired_link_answers_404(
    people: People, service: Service, anonymous: httpx.Client
) -> None:
    enrolled = people.enrol(NIP_EXPIRED, name="Agus Wijaya, S.T.")
    token = token_of(enrolled["activation_url"])
    digest = hashlib.sha256(token.encode()).hexdigest()
    with registry(service) as db:
        created, expires = db.execute(
            "SELECT created_at, expires_at FROM activations WHERE token_sha256 = %s", (digest,)
        ).fetchone()
    lifetime = expires - created
    assert abs(lifetime - timedelta(hours=72)) < timedelta(seconds=5)
    assert anonymous.get(f"/api/v1/activation/{token}").status_code == 200
    # 72 hours later.
    aged = expires - timedelta(hours=72, seconds=1)
    with registry(service) as db:
        db.execute("UPDATE activations SET expires_at = %s WHERE token_sha256 = %s", (aged, digest))
    assert anonymous.get(f"/api/v1/activation/{token}").status_code == 404
    used = anonymous.post(f"/api/v1/activation/{token}", json={"password": PASSWORD, "pin": PIN})
    assert used.status_code == 404
    assert anonymous.get(f"/aktivasi/{token}").status_code == 404
    assert signer_of(people, enrolled["id"])["certificate_pem"] is None
    # An admin gives a new link; it works.
    fresh = people.admin.client.post(f"/api/v1/signers/{enrolled['id']}/activation")
    assert fresh.status_code == 200, fresh.text
    assert token_of(fresh.json()["activation_url"]) != token
    signer = people.activate_signer({**enrolled, **fresh.json()})
    assert signer.signer_id == enrolled["id"]
    assert signer_of(people, enrolled["id"])["status"] == "aktif"


# Signers: the PIN and the key -----------------------------------------------------------------


def test_trivial_pins_are_refused_and_the_key_is_made_only_at_activation(
    people: People, anonymous: httpx.Client
) -> None:
    enrolled = people.enrol(NIP_PINS, name="Hendra Kartika, S.E.")
    assert enrolled["status"] == "menunggu_aktivasi" and enrolled["certificate_pem"] is None
    token = token_of(enrolled["activation_url"])
    view = anonymous.get(f"/api/v1/activation/{token}").json()
    assert view["role"] == "signer" and view["pin_required"] is True
    assert view["totp_required"] is False
    trivial = [
        "000000",
        "111111",
        "123456",
        "654321",
        "1234",  # too short
        "12a456",
        "19720926",  # the birth date in the NIP, as it is written there
        "26091972",
        "260972",
    ]
    for pin in trivial:
        refused = anonymous.post(
            f"/api/v1/activation/{token}", json={"password": PASSWORD, "pin": pin}
        )
        assert refused.status_code == 422, (pin, refused.text)
        assert problem_fields(refused) == {"pin"}, pin
    missing = anonymous.post(f"/api/v1/activation/{token}", json={"password": PASSWORD})
    assert missing.status_code == 422 and problem_fields(missing) == {"pin"}
    # Nothing was made meanwhile, and the link still works.
    before = signer_of(people, enrolled["id"])
    assert before["status"] == "menunggu_aktivasi" and before["certificate_pem"] is None
    signer = people.activate_signer(enrolled, pin=NEW_PIN)
    after = signer_of(people, enrolled["id"])
    assert after["status"] == "aktif" and after["certificate_pem"]
    cert = certificate(after["certificate_pem"])
    assert "Hendra Kartika" in cert.subject.rfc4514_string()
    assert anonymous.get(f"/api/v1/activation/{token}").status_code == 404
    document = new_pakta(people.operator.client, NIP_PINS)
    assert signer.sign(document["id"]).status_code == 200


def test_an_operators_entry_waits_for_an_admins_approval(
    people: People, anonymous: httpx.Client
) -> None:
    proposed = people.operator.client.post(
        "/api/v1/signers",
        json={
            "name": "Rina Fauzi, S.Sos.",
            "nip": NIP_PROPOSED,
            "jabatan": "Kepala Seksi Kesejahteraan Sosial",
            "pangkat": "III/c",
            "unit_id": people.unit_id,
        },
    )
    assert proposed.status_code == 201, proposed.text
    entry = proposed.json()
    assert entry["status"] == "menunggu_persetujuan" and entry["activation_url"] is None
    # Not bound to a document while it waits.
    waiting = people.operator.client.post(
        "/api/v1/documents",
        json={
            "template": "pakta-integritas",
            "data": pakta_data(nip=NIP_PROPOSED),
        },
    )
    assert waiting.status_code == 422 and problem_fields(waiting) == {"signers.pembuat_pernyataan"}
    by_operator = people.operator.client.post(f"/api/v1/signers/{entry['id']}/approve")
    assert by_operator.status_code == 403
    assert signer_of(people, entry["id"])["status"] == "menunggu_persetujuan"
    approved = people.admin.client.post(f"/api/v1/signers/{entry['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "menunggu_aktivasi"
    assert approved.json()["activation_url"]
    twice = people.admin.client.post(f"/api/v1/signers/{entry['id']}/approve")
    assert twice.status_code == 409
    signer = people.activate_signer({**entry, **approved.json()})
    assert signer_of(people, entry["id"])["status"] == "aktif"
    document = new_pakta(people.operator.client, NIP_PROPOSED)
    signed = signer.sign(document["id"])
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "sah"


def signer_cert_serial(pdf: bytes, index: int = 0) -> int:
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[index]
    return int(signature.signer_cert.serial_number)


def test_reenrolment_takes_over_once_activated_and_revokes_the_old_certificate(
    people: People, anonymous: httpx.Client
) -> None:
    client = people.operator.client
    old = people.activate_signer(
        people.enrol(NIP_REENROLLED, name="Dewi Gunawan, S.H.", jabatan="Kepala Seksi Hukum")
    )
    old_cert = certificate(signer_of(people, old.signer_id)["certificate_pem"])
    signed_before = new_pakta(client, NIP_REENROLLED)
    assert old.sign(signed_before["id"]).status_code == 200
    waiting = new_pakta(client, NIP_REENROLLED)  # bound to the old enrolment, unsigned
    made = people.admin.client.post(
        f"/api/v1/signers/{old.signer_id}/reenrol", json={"jabatan": "Kepala Bagian Hukum"}
    )
    assert made.status_code == 201, made.text
    new_entry = made.json()
    assert new_entry["status"] == "menunggu_aktivasi" and new_entry["replaces_id"] == old.signer_id
    assert new_entry["certificate_pem"] is None and new_entry["activation_url"]
    # Until the new enrolment is activated the old one signs, and documents bind to it.
    meanwhile = new_pakta(client, NIP_REENROLLED)
    assert {s["assigned_signer_id"] for s in meanwhile["signers"]} == {old.signer_id}
    assert old.sign(meanwhile["id"]).status_code == 200
    assert signer_of(people, old.signer_id)["status"] == "aktif"
    # The link is for the same account.
    token = token_of(new_entry["activation_url"])
    view = anonymous.get(f"/api/v1/activation/{token}").json()
    assert view["username"] == old.username and view["pin_required"] is True
    new = people.activate_signer(new_entry, pin=NEW_PIN)
    assert new.id == old.id and new.signer_id == new_entry["id"] != old.signer_id
    # The old certificate is revoked and listed in the CRL; the new one is not.
    revoked = signer_of(people, old.signer_id)
    assert revoked["status"] == "dicabut" and revoked["revoked_at"]
    new_cert = certificate(signer_of(people, new.signer_id)["certificate_pem"])
    assert new_cert.serial_number != old_cert.serial_number
    assert "Kepala Bagian Hukum" in new_cert.subject.rfc4514_string()
    crl = x509.load_der_x509_crl(anonymous.get("/api/v1/trust/crl").content)
    assert crl.get_revoked_certificate_by_serial_number(old_cert.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(new_cert.serial_number) is None
    # The document that waited for the old enrolment now waits for the new one, and it signs.
    document = people.admin.client.get(f"/api/v1/documents/{waiting['id']}").json()
    assert {s["assigned_signer_id"] for s in document["signers"]} == {new.signer_id}
    # The activation ended the account's earlier tokens; the old PIN opens nothing.
    assert old.sign(waiting["id"]).status_code == 401
    old_pin = new.sign(waiting["id"], pin=PIN)
    assert old_pin.status_code == 403 and old_pin.json()["error"] == "WrongPin"
    signed = new.sign(waiting["id"])
    assert signed.status_code == 200, signed.text
    slot = signed.json()["signers"][0]
    assert slot["signer_id"] == new.signer_id and signed.json()["status"] == "sah"
    pdf = people.admin.client.get(f"/api/v1/documents/{waiting['id']}/pdf").content
    assert signer_cert_serial(pdf) == new_cert.serial_number
    public = anonymous.get(f"/api/v1/verify/{signed.json()['verify_code']}").json()
    assert public["signatures"][0]["jabatan"] == "Kepala Bagian Hukum"
    assert public["signatures"][0]["valid"] is True
    # What the old enrolment signed before stays as it was: its signer, and still valid.
    earlier = people.admin.client.get(f"/api/v1/documents/{signed_before['id']}").json()
    assert earlier["signers"][0]["signer_id"] == old.signer_id
    earlier_public = anonymous.get(f"/api/v1/verify/{earlier['verify_code']}").json()
    assert earlier_public["signatures"][0]["certificate_revoked_at"] is not None
    assert earlier_public["signatures"][0]["valid"] is True
    # Nothing can be re-enrolled from the revoked enrolment.
    stale = people.admin.client.post(
        f"/api/v1/signers/{old.signer_id}/reenrol", json={"jabatan": "Lain"}
    )
    assert stale.status_code == 409


def test_changing_the_pin_keeps_the_key(people: People) -> None:
    signer = people.signer(NIP_PIN_CHANGE, name="Bambang Lestari, S.Kom.")
    before = signer_of(people, signer.signer_id)["certificate_pem"]
    weak = signer.client.post("/api/v1/me/pin", json={"pin": signer.pin, "new_pin": "111111"})
    assert weak.status_code == 422 and problem_fields(weak) == {"new_pin"}
    birth = signer.client.post("/api/v1/me/pin", json={"pin": signer.pin, "new_pin": "19720505"})
    assert birth.status_code == 422 and problem_fields(birth) == {"new_pin"}
    wrong = signer.client.post("/api/v1/me/pin", json={"pin": "975310", "new_pin": NEW_PIN})
    assert wrong.status_code == 403 and wrong.json()["error"] == "WrongPin"
    changed = signer.client.post("/api/v1/me/pin", json={"pin": signer.pin, "new_pin": NEW_PIN})
    assert changed.status_code == 204, changed.text
    after = signer_of(people, signer.signer_id)
    assert after["certificate_pem"] == before and after["status"] == "aktif"
    first = new_pakta(people.operator.client, NIP_PIN_CHANGE)
    old_pin = signer.sign(first["id"], pin=PIN)
    assert old_pin.status_code == 403 and old_pin.json()["error"] == "WrongPin"
    signed = signer.sign(first["id"], pin=NEW_PIN)
    assert signed.status_code == 200, signed.text
    pdf = people.admin.client.get(f"/api/v1/documents/{first['id']}/pdf").content
    assert signer_cert_serial(pdf) == certificate(before).serial_number
    # Only a signer has a PIN to change.
    other = people.operator.client.post("/api/v1/me/pin", json={"pin": PIN, "new_pin": NEW_PIN})
    assert other.status_code == 403
    signer.pin = NEW_PIN


# The page -------------------------------------------------------------------------------------


def test_the_activation_page_shows_the_form_and_the_qr_code(
    people: People, anonymous: httpx.Client
) -> None:
    made = people.admin.client.post(
        "/api/v1/users",
        json={"username": AUDITOR_NAME, "role": "auditor", "unit_ids": [people.unit_id]},
    )
    token = token_of(made.json()["activation_url"])
    page = anonymous.get(f"/aktivasi/{token}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert AUDITOR_NAME in page.text and "<svg" in page.text
    assert 'name="password"' in page.text and 'name="pin"' not in page.text
    # A signer's page asks for the PIN; a weak one is shown as a problem, a good one activates.
    enrolled = people.enrol(NIP_PAGE, name="Sri Salim, S.Pd.")
    signer_token = token_of(enrolled["activation_url"])
    signer_page = anonymous.get(f"/aktivasi/{signer_token}")
    assert signer_page.status_code == 200
    assert 'name="pin"' in signer_page.text and "<svg" in signer_page.text
    weak = anonymous.post(f"/aktivasi/{signer_token}", data={"password": PASSWORD, "pin": "123456"})
    assert weak.status_code == 422 and "deret" in weak.text
    done = anonymous.post(f"/aktivasi/{signer_token}", data={"password": PASSWORD, "pin": NEW_PIN})
    assert done.status_code == 200 and "Akun aktif" in done.text
    assert signer_of(people, enrolled["id"])["certificate_pem"]
    assert anonymous.get(f"/aktivasi/{signer_token}").status_code == 404
    assert anonymous.get("/aktivasi/tidak-ada").status_code == 404
