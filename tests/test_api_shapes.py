"""The API describes itself: every /api/v1 operation declares the shape of its answers in the
OpenAPI schema, every error answer is the one error model, and the errors the service really
gives match it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from docgen.errors import ErrorOut
from tests.conftest import People, pakta_data

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture(scope="module")
def spec(service: Any) -> dict[str, Any]:
    with service.client() as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def _named_shape(schema: dict[str, Any]) -> bool:
    """A reference to a declared model, a list of them, or one of several."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _named_shape(schema["items"])
    return "anyOf" in schema and all(_named_shape(s) for s in schema["anyOf"])


def test_every_api_operation_declares_the_shape_of_its_success(spec: dict[str, Any]) -> None:
    api = [(p, m, o) for p, m, o in operations(spec) if p.startswith("/api/v1/")]
    # Every route the README lists: the documents', signers', batches', templates' and public
    # ones (a list field from a file and its empty list among them), the accounts' (login,
    # tokens, me, units and their profiles and emblems, users, activation, audit), the
    # verifikator's paraf (3) and the operator's e-Meterai retry (1).
    assert len(api) == 61
    for path, method, operation in api:
        successes = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
        assert successes, f"{method} {path} declares no success"
        for code, response in successes.items():
            if code == "204":  # logout, a revoked token, a new password or PIN: no body
                assert not response.get("content"), f"{method} {path} 204 has content"
                continue
            assert response.get("content"), f"{method} {path} {code} has no content"
            for media_type, body in response["content"].items():
                schema = body["schema"]
                if media_type == "application/json":
                    assert _named_shape(schema), f"{method} {path} {code}: {schema}"
                else:  # a file: PDF, DOCX, ZIP, PEM, CRL
                    assert schema.get("type") == "string", f"{method} {path} {code} {media_type}"


def test_every_error_answer_is_the_one_error_model(spec: dict[str, Any]) -> None:
    errors = 0
    for path, method, operation in operations(spec):
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                errors += 1
                schema = response["content"]["application/json"]["schema"]
                assert schema == ERROR_REF, f"{method} {path} {code}: {schema}"
    assert errors > 50
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = spec["components"]["schemas"]["ProblemOut"]["properties"]
    assert {"field", "where", "row", "column", "message"} <= set(problem)


def _error(response: httpx.Response, status: int, name: str) -> ErrorOut:
    assert response.status_code == status, response.text
    body = ErrorOut.model_validate(response.json())  # extra keys are refused
    assert body.error == name and body.detail
    return body


def test_errors_the_service_gives_match_the_model(
    people: People, client: httpx.Client, anonymous: httpx.Client
) -> None:
    bad_nip = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip="12345")},
    )
    problems = _error(bad_nip, 422, "DataInvalid").problems
    assert problems and [p.field for p in problems] == ["nip"]

    no_body = client.post("/api/v1/documents", json={"data": {}})
    problems = _error(no_body, 422, "DataInvalid").problems
    assert problems and problems[0].field == "template"

    # A role no enrolled signer can be bound to (nobody has this NIP) names the role.
    unbound = client.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip="199001012015031999")},
    )
    problems = _error(unbound, 422, "DataInvalid").problems
    assert problems and [p.field for p in problems] == ["signers.pembuat_pernyataan"]

    _error(client.get("/api/v1/documents/" + "0" * 32), 404, "NotFound")
    _error(client.get("/api/v1/tidak-ada"), 404, "NotFound")
    _error(client.delete("/api/v1/documents"), 405, "MethodNotAllowed")
    _error(
        anonymous.post("/api/v1/verify", files={"file": ("a.pdf", b"bukan")}), 400, "UploadInvalid"
    )

    # Nobody logged in: 401 on anything but the public surface; a token that is not one: 401.
    _error(anonymous.get("/api/v1/templates"), 401, "NotAuthenticated")
    _error(anonymous.post("/api/v1/documents", json={}), 401, "NotAuthenticated")
    forged = {"Authorization": "Bearer dg_bukan-token"}
    _error(anonymous.get("/api/v1/me", headers=forged), 401, "NotAuthenticated")

    manifest = {"manifest": ("manifest.toml", b"id = ["), "docx": ("t.docx", b"x")}
    # Only admins upload templates.
    _error(client.post("/api/v1/templates", files=manifest), 403, "Forbidden")
    template = people.admin.client.post("/api/v1/templates", files=manifest)
    problems = _error(template, 422, "TemplateInvalid").problems
    assert problems and all(p.where and p.message for p in problems)

    staff = client.post(
        "/api/v1/batches",
        data={"template": "pakta-integritas"},
        files={"file": ("daftar.csv", b"warna\nmerah\n")},
    )
    problems = _error(staff, 422, "StaffListInvalid").problems
    assert problems and all(p.row == 1 and p.column for p in problems)

    big = b"%PDF-1.7\n" + b"0" * (21 * 1024 * 1024)
    oversized = anonymous.post(
        "/api/v1/verify", files={"file": ("big.pdf", big, "application/pdf")}
    )
    _error(oversized, 413, "UploadTooLarge")

    # Only admins revoke signers; an admin's request with a reason too short is refused.
    revoke = "/api/v1/signers/" + "0" * 32 + "/revoke"
    _error(client.post(revoke, json={"reason": "Pindah tugas"}), 403, "Forbidden")
    _error(people.admin.client.post(revoke, json={"reason": "x"}), 422, "DataInvalid")
    _error(people.admin.client.post(revoke, json={"reason": "Pindah tugas"}), 404, "NotFound")

    # Only a signer signs, as themselves: the operator may not; a signer gets 404 for a
    # document that does not exist (or is not theirs).
    signature = {"role": "pembuat_pernyataan", "pin": "135792"}
    unknown = "/api/v1/documents/" + "0" * 32 + "/signatures"
    _error(client.post(unknown, json=signature), 403, "Forbidden")
    signer = people.signer("198802142012031003")
    _error(signer.client.post(unknown, json=signature), 404, "NotFound")


# What a schema lets into a String(n) column of the registry: its table and column.
COLUMNS_FILLED = {
    ("SignerIn", "name"): ("signers", "name"),
    ("SignerIn", "jabatan"): ("signers", "jabatan"),
    ("SignerIn", "unit_id"): ("units", "id"),
    ("SignerIn", "username"): ("users", "username"),
    ("SignerIn", "email"): ("users", "email"),
    ("ReenrolIn", "name"): ("signers", "name"),
    ("ReenrolIn", "jabatan"): ("signers", "jabatan"),
    ("ReenrolIn", "unit_id"): ("units", "id"),
    ("UnitIn", "name"): ("units", "name"),
    ("UnitIn", "code"): ("units", "code"),
    ("UserIn", "username"): ("users", "username"),
    ("UserIn", "email"): ("users", "email"),
    ("UserIn", "unit_ids"): ("units", "id"),
    ("TokenIn", "name"): ("api_tokens", "name"),
}


def max_length(schema: dict[str, Any]) -> int | None:
    """The maxLength of a string property, or of a list's items, or of the string an optional
    property may be."""
    if "maxLength" in schema:
        return int(schema["maxLength"])
    if schema.get("type") == "array":
        return max_length(schema["items"])
    found = [max_length(s) for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return found[0] if len(found) == 1 else None


def test_each_text_going_into_a_column_is_no_longer_than_the_column(
    spec: dict[str, Any], service: Any
) -> None:
    with service.registry() as db:
        lengths = {
            (table, column): length
            for table, column, length in db.execute(
                "SELECT table_name, column_name, character_maximum_length"
                " FROM information_schema.columns WHERE table_schema = current_schema()"
            )
        }
    schemas = spec["components"]["schemas"]
    for (model, field), column in COLUMNS_FILLED.items():
        assert lengths[column], column  # a String(n) column of the migrated registry
        declared = max_length(schemas[model]["properties"][field])
        assert declared == lengths[column], (model, field, declared, lengths[column])
