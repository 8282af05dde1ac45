"""The route matrix: every route of the OpenAPI schema called as the public and as each role,
against the one policy declared for it below (issue 16: "A test walks every route of the
OpenAPI schema as each role and checks the whole matrix").

Anonymous calls to a route that is not public answer 401; a logged-in role the route does not
allow gets 403; a role it allows gets neither. GET routes are called with real objects that
every allowed role may read (a document and a batch of the tests' unit, bound to the signer),
so they must answer 200; changes are called with dummy ids or empty bodies, so an allowed role
gets 404 or 422 and nothing changes.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import People, create_pakta, pakta_data
from tests.people import Account

ANONYMOUS = "anonymous"
ROLES = ("admin", "operator", "signer", "auditor", "verifikator")

PUBLIC = frozenset({ANONYMOUS, *ROLES})
LOGGED_IN = frozenset(ROLES)
ADMIN = frozenset({"admin"})
STAFF = frozenset({"admin", "operator"})
SIGNER = frozenset({"signer"})
READERS = frozenset({"admin", "operator", "auditor"})
AUDITORS = frozenset({"admin", "auditor"})
VERIFIKATOR = frozenset({"verifikator"})

# Who may call each route. A route added to the service without a line here fails the test.
POLICIES: dict[tuple[str, str], frozenset[str]] = {
    # Logging in, API tokens, the caller's own account
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): LOGGED_IN,
    ("POST", "/api/v1/auth/tokens"): PUBLIC,
    ("GET", "/api/v1/auth/tokens"): LOGGED_IN,
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): LOGGED_IN,
    ("GET", "/api/v1/me"): LOGGED_IN,
    ("POST", "/api/v1/me/password"): LOGGED_IN,
    ("POST", "/api/v1/me/pin"): SIGNER,
    # Units and users: the admin's
    ("GET", "/api/v1/units"): LOGGED_IN,
    ("POST", "/api/v1/units"): ADMIN,
    ("GET", "/api/v1/units/{unit_id}/profile"): LOGGED_IN,
    ("PUT", "/api/v1/units/{unit_id}/profile"): ADMIN,
    ("GET", "/api/v1/units/{unit_id}/emblem"): LOGGED_IN,
    ("PUT", "/api/v1/units/{unit_id}/emblem"): ADMIN,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/activation"): ADMIN,
    # Activation links: whoever holds one
    ("GET", "/api/v1/activation/{token}"): PUBLIC,
    ("POST", "/api/v1/activation/{token}"): PUBLIC,
    # The audit log: admins, and auditors for their units
    ("GET", "/api/v1/audit"): AUDITORS,
    # Templates: read by everyone logged in, new versions by admins only
    ("GET", "/api/v1/templates"): LOGGED_IN,
    ("POST", "/api/v1/templates"): ADMIN,
    ("GET", "/api/v1/templates/{template_id}"): LOGGED_IN,
    ("GET", "/api/v1/templates/{template_id}/versions/{version}/docx"): LOGGED_IN,
    # A list field read from a file, and its empty list: whoever makes documents
    ("POST", "/api/v1/templates/{template_id}/lists/{field}"): STAFF,
    ("GET", "/api/v1/templates/{template_id}/lists/{field}"): STAFF,
    # Documents: made and revoked by staff, read by whoever they concern, signed by signers
    ("POST", "/api/v1/documents"): STAFF,
    ("GET", "/api/v1/documents"): LOGGED_IN,
    ("GET", "/api/v1/documents/{document_id}"): LOGGED_IN,
    ("GET", "/api/v1/documents/{document_id}/pdf"): LOGGED_IN,
    ("GET", "/api/v1/documents/{document_id}/docx"): LOGGED_IN,
    ("GET", "/api/v1/documents/{document_id}/revisions/{seq}"): LOGGED_IN,
    ("POST", "/api/v1/documents/{document_id}/signatures"): SIGNER,
    ("POST", "/api/v1/documents/{document_id}/revoke"): STAFF,
    ("POST", "/api/v1/documents/{document_id}/emeterai"): STAFF,
    ("PUT", "/api/v1/documents/{document_id}"): STAFF,
    ("DELETE", "/api/v1/documents/{document_id}"): STAFF,
    ("POST", "/api/v1/documents/{document_id}/issue"): STAFF,
    ("POST", "/api/v1/documents/{document_id}/decline"): SIGNER,
    # Paraf: the verifikator a document names, in order, before its signatures
    ("GET", "/api/v1/paraf"): VERIFIKATOR,
    ("POST", "/api/v1/documents/{document_id}/paraf"): VERIFIKATOR,
    ("POST", "/api/v1/documents/{document_id}/paraf/return"): VERIFIKATOR,
    ("GET", "/api/v1/documents/{document_id}/pages"): LOGGED_IN,
    ("GET", "/api/v1/documents/{document_id}/pages/{page}"): LOGGED_IN,
    # Signers: entered by staff, put in effect and revoked by admins
    ("GET", "/api/v1/signers"): LOGGED_IN,
    ("POST", "/api/v1/signers"): STAFF,
    ("GET", "/api/v1/signers/{signer_id}"): LOGGED_IN,
    ("POST", "/api/v1/signers/{signer_id}/approve"): ADMIN,
    ("POST", "/api/v1/signers/{signer_id}/reenrol"): STAFF,
    ("POST", "/api/v1/signers/{signer_id}/activation"): ADMIN,
    ("POST", "/api/v1/signers/{signer_id}/revoke"): ADMIN,
    ("GET", "/api/v1/signers/{signer_id}/pending"): LOGGED_IN,
    # Batches: made by staff, signed by signers; the ZIP holds every row, so no signer gets it
    ("POST", "/api/v1/batches"): STAFF,
    ("GET", "/api/v1/batches"): READERS,
    ("GET", "/api/v1/batches/{batch_id}"): LOGGED_IN,
    ("POST", "/api/v1/batches/{batch_id}/signatures"): SIGNER,
    ("GET", "/api/v1/batches/{batch_id}/zip"): READERS,
    # Verification: the public surface
    ("GET", "/api/v1/verify/{code}"): PUBLIC,
    ("POST", "/api/v1/verify"): PUBLIC,
    ("GET", "/api/v1/trust/ca.pem"): PUBLIC,
    ("GET", "/api/v1/trust/crl"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
}

# GET routes called with a dummy id (a real activation link would be used up by nobody, but
# there is none to read without making one; the pakta has no list field): an allowed caller
# gets 404, not 200.
DUMMY_GETS = {
    ("GET", "/api/v1/activation/{token}"),
    ("GET", "/api/v1/templates/{template_id}/lists/{field}"),
}

MATRIX_NIP = "198205142009031003"
EMBLEM_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><circle r="4"/></svg>'


@dataclass
class Objects:
    """Real objects of the tests' unit that every role's account may read."""

    document: dict[str, Any]
    batch_id: str
    signer_id: str
    unit_id: str

    def path_values(self) -> dict[str, str]:
        return {
            "document_id": str(self.document["id"]),
            "seq": str(self.document["revisions"][-1]["seq"]),
            "page": "1",
            "signer_id": self.signer_id,
            "batch_id": self.batch_id,
            "template_id": str(self.document["template"]),
            "version": str(self.document["template_version"]),
            "code": str(self.document["verify_code"]),
            "unit_id": self.unit_id,
        }


@pytest.fixture(scope="module")
def verifikator(people: People) -> Account:
    return people.user("verifikator")


@pytest.fixture(scope="module")
def callers(people: People, verifikator: Account) -> Iterator[dict[str, httpx.Client]]:
    """One client per role: nobody, the admin, the unit's operator, a signer, an auditor, a
    verifikator."""
    anonymous = people.anonymous()
    yield {
        ANONYMOUS: anonymous,
        "admin": people.admin.client,
        "operator": people.operator.client,
        "signer": people.signer(MATRIX_NIP).client,
        "auditor": people.user("auditor").client,
        "verifikator": verifikator.client,
    }
    anonymous.close()


@pytest.fixture(scope="module")
def objects(people: People, verifikator: Account) -> Objects:
    """A pakta and a one-row batch made by the unit's operator, both bound to the signer, the
    pakta to be initialled by the verifikator; the unit has an emblem."""
    signer = people.signer(MATRIX_NIP)
    operator = people.operator.client
    document = create_pakta(operator, MATRIX_NIP, paraf=[verifikator.id])
    row = pakta_data(nip=MATRIX_NIP)
    staff_list = io.StringIO()
    writer = csv.writer(staff_list)
    writer.writerow(row)
    writer.writerow(row.values())
    content = staff_list.getvalue().encode()
    made = operator.post(
        "/api/v1/batches",
        data={"template": "pakta-integritas"},
        files={"file": ("daftar.csv", content, "text/csv")},
    )
    assert made.status_code == 202, made.text
    batch_id = str(made.json()["id"])
    deadline = time.monotonic() + 300
    while (batch := operator.get(f"/api/v1/batches/{batch_id}").json())["status"] != "selesai":
        assert time.monotonic() < deadline, batch
        time.sleep(0.2)
    assert len(batch["documents"]) == 1, batch
    emblem = people.admin.client.put(
        f"/api/v1/units/{people.unit_id}/emblem",
        files={"file": ("lambang.svg", EMBLEM_SVG, "image/svg+xml")},
    )
    assert emblem.status_code == 200, emblem.text
    return Objects(document, batch_id, signer.signer_id, people.unit_id)


def openapi_routes(anonymous: httpx.Client) -> set[tuple[str, str]]:
    schema = anonymous.get("/openapi.json")
    assert schema.status_code == 200, schema.text
    return {
        (method.upper(), path)
        for path, operations in schema.json()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_route_of_the_schema_declares_its_policy(
    callers: dict[str, httpx.Client],
) -> None:
    routes = openapi_routes(callers[ANONYMOUS])
    undeclared = sorted(routes - set(POLICIES))
    gone = sorted(set(POLICIES) - routes)
    assert not undeclared, f"routes without a policy in this test: {undeclared}"
    assert not gone, f"policies of routes the schema no longer has: {gone}"


def call(
    client: httpx.Client, method: str, path: str, objects: Objects
) -> tuple[str, httpx.Response]:
    """The route called with real objects (GET) or dummy ids and an empty body (changes)."""
    values = objects.path_values() if method == "GET" else {}
    url = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x"), path)
    if method == "GET":
        return url, client.get(url)
    return url, client.request(method, url, json={} if method != "DELETE" else None)


def expected(who: str, method: str, path: str) -> str:
    """What the caller must get: "401", "403", "200" (a read of a real object) or "allowed"
    (a change with a dummy id or an empty body: neither 401 nor 403, no server error)."""
    if who not in POLICIES[(method, path)]:
        return "401" if who == ANONYMOUS else "403"
    return "200" if method == "GET" and (method, path) not in DUMMY_GETS else "allowed"


def answers(response: httpx.Response, want: str) -> bool:
    status = response.status_code
    if want == "401":
        return status == 401 and response.json()["error"] == "NotAuthenticated"
    if want == "403":
        return status == 403 and response.json()["error"] == "Forbidden"
    if want == "200":
        return status == 200
    return status not in (401, 403) and status < 500


def test_route_matrix(callers: dict[str, httpx.Client], objects: Objects) -> None:
    """Every (route, caller) pair against the table; all mismatches are reported at once."""
    routes = openapi_routes(callers[ANONYMOUS])
    assert routes == set(POLICIES)
    wrong: list[str] = []
    checked = 0
    for method, path in sorted(routes, key=lambda r: (r[1], r[0])):
        for who, client in callers.items():
            url, response = call(client, method, path, objects)
            want = expected(who, method, path)
            checked += 1
            if not answers(response, want):
                got = f"{response.status_code} (want {want}) {response.text[:120]}"
                wrong.append(f"{who:9} {method:6} {url}: {got}")
    assert checked == len(POLICIES) * (len(ROLES) + 1)
    assert not wrong, "\n".join(wrong)


def test_pages_send_the_public_to_the_login_page(
    callers: dict[str, httpx.Client], objects: Objects
) -> None:
    anonymous = callers[ANONYMOUS]
    home = anonymous.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/masuk?lanjut=/"

    login = anonymous.get("/masuk")
    assert login.status_code == 200
    assert login.headers["content-type"].startswith("text/html")
    assert 'name="password"' in login.text

    unknown = anonymous.get("/aktivasi/" + "0" * 43)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")

    # Logging out of nothing is a change, not a page: the JSON 401.
    logout = anonymous.post("/keluar")
    assert logout.status_code == 401
    assert logout.json()["error"] == "NotAuthenticated"

    # Every logged-in role is sent to its start page.
    starts = {"admin": "/dokumen", "operator": "/dokumen", "signer": "/kotak-masuk"}
    starts |= {"auditor": "/dokumen", "verifikator": "/paraf"}
    for role in ROLES:
        page = callers[role].get("/")
        assert page.status_code == 303, (role, page.text[:200])
        assert page.headers["location"] == starts[role]


def test_verification_and_api_docs_stay_public(
    callers: dict[str, httpx.Client], objects: Objects
) -> None:
    anonymous = callers[ANONYMOUS]
    code = objects.document["verify_code"]
    for path in ("/v", f"/v/{code}", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz"):
        response = anonymous.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    # Reached by anyone; the PDF itself waits for every signature (test_workflow downloads
    # one that has them).
    pdf = anonymous.get(f"/v/{code}/pdf")
    assert pdf.status_code == 404 and "belum dapat diunduh" in pdf.json()["detail"]
    assert anonymous.get("/v/" + "0" * 12).status_code == 404
    # The verification page reads no session: a logged-in caller sees the same page.
    assert callers["signer"].get(f"/v/{code}").text == anonymous.get(f"/v/{code}").text
