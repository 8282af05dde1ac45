"""Logging in: the session and CSRF cookies, one answer for every failure, TOTP codes good once,
failed logins that slow down and then lock, CSRF on cookie changes (not on bearer tokens), API
tokens revoked, logging out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from fastapi import Response

from docgen.people.routes import set_session_cookies
from docgen.people.security import Passwords
from docgen.people.service import NewSession
from docgen.settings import Settings
from tests.conftest import People, Service
from tests.people import PASSWORD, Account, http_client

SESSION = "docgen_sesi"
CSRF = "docgen_csrf"
WRONG = "Bukan-Sandinya-99"
NEW_PASSWORD = "Sandi-Baru-2026?"


def login(people: People, username: str, password: str, otp: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return httpx.post(f"{people.url}/api/v1/auth/login", json=body, timeout=60)


def log_in(browser: httpx.Client, account: Account, otp: str | None = None) -> None:
    """The browser gets the account's session cookie."""
    body: dict[str, Any] = {"username": account.username, "password": account.password}
    if otp is not None:
        body["otp"] = otp
    response = browser.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of the ``Set-Cookie`` header of ``name`` (keys lowercased; the cookie's
    own value under ``value``)."""
    for header in response.headers.get_list("set-cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        key, _, value = first.partition("=")
        if key == name:
            attributes = {"value": value}
            for part in rest:
                attribute, _, setting = part.partition("=")
                attributes[attribute.lower()] = setting
            return attributes
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


@pytest.fixture(scope="module")
def refusal(people: People) -> dict[str, Any]:
    """The one answer of a failed login (here: a user that does not exist)."""
    response = login(people, f"tidak-ada-{uuid.uuid4().hex[:8]}", PASSWORD)
    assert response.status_code == 401
    body: dict[str, Any] = response.json()
    assert body["error"] == "LoginFailed"
    return body


def assert_refused(response: httpx.Response, refusal: dict[str, Any]) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == refusal
    assert SESSION not in response.cookies


# The session ---------------------------------------------------------------------------------


def test_login_sets_the_session_and_csrf_cookies(people: People) -> None:
    auditor = people.user("auditor")
    with http_client(people.url) as browser:
        response = browser.post(
            "/api/v1/auth/login", json={"username": auditor.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        me = response.json()
        assert (me["id"], me["username"], me["role"]) == (auditor.id, auditor.username, "auditor")
        assert me["unit_ids"] == [people.unit_id]

        session = cookie_attributes(response, SESSION)
        assert len(session["value"]) >= 32
        assert "httponly" in session
        assert session["samesite"].lower() == "lax"
        assert session["path"] == "/"
        assert int(session["max-age"]) > 0

        # The CSRF token: readable by the pages (not HttpOnly), the same one as in the body.
        csrf = cookie_attributes(response, CSRF)
        assert "httponly" not in csrf
        assert csrf["samesite"].lower() == "lax"
        assert csrf["value"] == me["csrf_token"]
        assert csrf["value"] != session["value"]

        # The cookie alone says who is calling.
        assert set(browser.cookies) == {SESSION, CSRF}
        again = browser.get("/api/v1/me")
        assert again.status_code == 200, again.text
        assert again.json()["username"] == auditor.username
        assert again.json()["csrf_token"] == csrf["value"]
        start = browser.get("/")
        assert start.status_code == 303 and start.headers["location"] == "/dokumen"

    with people.anonymous() as nobody:
        assert nobody.get("/api/v1/me").status_code == 401


def test_every_login_failure_gets_the_same_answer(people: People, refusal: dict[str, Any]) -> None:
    auditor = people.user("auditor")
    assert_refused(login(people, auditor.username, WRONG), refusal)
    assert_refused(login(people, auditor.username, ""), refusal)
    assert_refused(login(people, f"tidak-ada-{uuid.uuid4().hex[:8]}", WRONG), refusal)

    # Admins and operators need their authenticator's code too: the right password alone, or
    # with a wrong code, is refused the same way.
    for role in ("admin", "operator"):
        account = people.user(role)
        assert account.otp is not None
        wrong_code = account.otp.totp.at(time.time() + 600)
        assert_refused(login(people, account.username, PASSWORD), refusal)
        assert_refused(login(people, account.username, PASSWORD, wrong_code), refusal)
        tokens = httpx.post(
            f"{people.url}/api/v1/auth/tokens",
            json={"username": account.username, "password": PASSWORD, "name": "tanpa kode"},
            timeout=60,
        )
        assert_refused(tokens, refusal)


@dataclass
class AdminSession:
    account: Account
    browser: httpx.Client
    code: str


@pytest.fixture(scope="module")
def admin_session(people: People) -> Iterator[AdminSession]:
    """A new admin logged in with a password and a fresh code of their authenticator."""
    admin = people.user("admin")
    assert admin.otp is not None
    code = admin.otp.code()
    with http_client(people.url) as browser:
        log_in(browser, admin, code)
        yield AdminSession(admin, browser, code)


def test_a_totp_code_is_good_once(
    people: People, admin_session: AdminSession, refusal: dict[str, Any]
) -> None:
    admin = admin_session.account
    assert admin_session.browser.get("/api/v1/me").json()["role"] == "admin"
    replayed = login(people, admin.username, PASSWORD, admin_session.code)
    assert_refused(replayed, refusal)


# Failed logins ---------------------------------------------------------------------------------


def registry(service: Service) -> psycopg.Connection[Any]:
    return service.registry()


def move_clock(service: Service, user_id: str, column: str, seconds: float) -> None:
    """As if ``seconds`` had passed since the account's ``last_failed_at`` / ``locked_until``
    (the service's clock is left alone; the registry's moment moves back)."""
    with registry(service) as db:
        (value,) = db.execute(f"SELECT {column} FROM users WHERE id = %s", (user_id,)).fetchone()
        if value is None:
            return
        db.execute(
            f"UPDATE users SET {column} = %s WHERE id = %s",
            (value - timedelta(seconds=seconds), user_id),
        )


def test_failed_logins_slow_down(people: People, refusal: dict[str, Any]) -> None:
    account = people.user("auditor")

    def wrong() -> None:
        assert_refused(login(people, account.username, WRONG), refusal)

    def right() -> httpx.Response:
        return login(people, account.username, PASSWORD)

    # Three failures in a row are checked at once; the fourth try has to wait 1 s. Inside
    # the wait even the right password is refused unchecked, and wrong tries are not counted.
    # The wait runs from the moment the service took up the third try: after the client sent
    # it (``sent``), before the client had the answer (``answered``). Tries meant to land inside
    # it leave by ``sent`` + 0.6 s; tries meant to land after it leave after ``answered`` + 1.3 s:
    # a slow answer on a loaded machine moves neither past the wait's edge.
    for _ in range(2):
        wrong()
    sent = time.monotonic()
    wrong()
    answered = time.monotonic()
    assert_refused(right(), refusal)
    # Wrong tries inside the wait, as many as fit (none when the machine was so loaded that the
    # answers took the whole margin): had they been counted, the wait would have doubled and the
    # right password after it would be refused.
    tries = 0
    while tries < 5 and time.monotonic() < sent + 0.6:
        wrong()
        tries += 1
    time.sleep(max(0.0, answered + 1.3 - time.monotonic()))
    assert right().status_code == 200  # and the count starts again

    # Each failure after that doubles the wait: 2 s after the fourth.
    for _ in range(3):
        wrong()
    time.sleep(1.3)
    sent = time.monotonic()
    wrong()
    answered = time.monotonic()
    time.sleep(max(0.0, sent + 1.3 - time.monotonic()))
    assert_refused(right(), refusal)
    time.sleep(max(0.0, answered + 2.3 - time.monotonic()))
    assert right().status_code == 200


def test_failed_logins_lock_the_account(
    people: People, service: Service, refusal: dict[str, Any]
) -> None:
    """Ten failures in a row lock the login for 15 minutes: the right password is refused
    too, also once every slow-down wait is over. The waits (1 + 2 + ... + 60 s) are skipped
    by moving the registry's moment of the last failure back."""
    account = people.user("auditor")

    def fail(times: int) -> None:
        for _ in range(times):
            move_clock(service, account.id, "last_failed_at", 61)
            assert_refused(login(people, account.username, WRONG), refusal)

    def right() -> httpx.Response:
        move_clock(service, account.id, "last_failed_at", 61)
        return login(people, account.username, PASSWORD)

    fail(9)
    assert right().status_code == 200  # nine do not lock

    fail(10)
    assert_refused(login(people, account.username, PASSWORD), refusal)
    assert_refused(right(), refusal)  # no wait in the way: locked
    with registry(service) as db:
        (until,) = db.execute(
            "SELECT locked_until FROM users WHERE id = %s", (account.id,)
        ).fetchone()
    left = until - datetime.now(UTC)
    assert timedelta(minutes=14) < left <= timedelta(minutes=15)
    # The API tokens made before stay; a new one is refused like a login.
    tokens = httpx.post(
        f"{people.url}/api/v1/auth/tokens",
        json={"username": account.username, "password": PASSWORD, "name": "terkunci"},
        timeout=60,
    )
    assert_refused(tokens, refusal)

    # Fifteen minutes later the right password opens it again.
    move_clock(service, account.id, "locked_until", 15 * 60 + 1)
    assert right().status_code == 200


# CSRF --------------------------------------------------------------------------------------------


def unit_codes(client: httpx.Client) -> set[str]:
    response = client.get("/api/v1/units")
    assert response.status_code == 200, response.text
    return {unit["code"] for unit in response.json()}


def new_unit() -> dict[str, str]:
    return {"name": "Dinas Uji CSRF", "code": f"CSRF{uuid.uuid4().hex[:8]}"}


def test_cookie_changes_need_the_csrf_token(admin_session: AdminSession) -> None:
    browser = admin_session.browser
    csrf = browser.cookies[CSRF]

    missing, wrong, right = new_unit(), new_unit(), new_unit()
    refused = browser.post("/api/v1/units", json=missing)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "Forbidden"
    assert "CSRF" in refused.json()["detail"]
    refused = browser.post("/api/v1/units", json=wrong, headers={"X-CSRF-Token": csrf[:-1]})
    assert refused.status_code == 403, refused.text

    made = browser.post("/api/v1/units", json=right, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text

    codes = unit_codes(browser)  # reading needs no token
    assert right["code"] in codes
    assert missing["code"] not in codes and wrong["code"] not in codes


def test_a_bearer_token_needs_no_csrf(people: People) -> None:
    admin = people.admin.client
    assert not admin.cookies
    unit = new_unit()
    made = admin.post("/api/v1/units", json=unit)
    assert made.status_code == 201, made.text
    assert unit["code"] in unit_codes(admin)

    auditor = people.user("auditor")
    changed = auditor.client.post(
        "/api/v1/me/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204, changed.text
    assert login(people, auditor.username, NEW_PASSWORD).status_code == 200


# API tokens ------------------------------------------------------------------------------------


def new_token(people: People, account: Account, name: str) -> dict[str, Any]:
    response = httpx.post(
        f"{people.url}/api/v1/auth/tokens",
        json={"username": account.username, "password": PASSWORD, "name": name},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_a_revoked_token_stops_working(people: People) -> None:
    auditor = people.user("auditor")
    made = new_token(people, auditor, "SIMPEG")
    assert made["token"].startswith("dg_") and made["name"] == "SIMPEG"
    assert datetime.fromisoformat(made["expires_at"]) > datetime.now(UTC) + timedelta(days=1)
    bearer = {"Authorization": f"Bearer {made['token']}"}
    with http_client(people.url, headers=bearer) as integration:
        me = integration.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == auditor.id and me.json()["csrf_token"] is None

        listed = auditor.client.get("/api/v1/auth/tokens")
        assert listed.status_code == 200
        (row,) = [t for t in listed.json() if t["id"] == made["id"]]
        assert row["revoked_at"] is None
        assert made["token"] not in listed.text  # shown once only

        # Nobody else revokes it.
        other = people.user("auditor")
        assert other.client.delete(f"/api/v1/auth/tokens/{made['id']}").status_code == 404
        assert integration.get("/api/v1/me").status_code == 200

        revoked = auditor.client.delete(f"/api/v1/auth/tokens/{made['id']}")
        assert revoked.status_code == 204, revoked.text
        refused = integration.get("/api/v1/me")
        assert refused.status_code == 401
        assert refused.json()["error"] == "NotAuthenticated"
        assert integration.get("/api/v1/templates").status_code == 401

    (row,) = [t for t in auditor.client.get("/api/v1/auth/tokens").json() if t["id"] == made["id"]]
    assert row["revoked_at"] is not None
    assert auditor.client.delete(f"/api/v1/auth/tokens/{made['id']}").status_code == 404
    assert auditor.client.get("/api/v1/me").status_code == 200  # the user's other token lives


# Logging out -------------------------------------------------------------------------------------


def test_logout_ends_the_session(people: People) -> None:
    auditor = people.user("auditor")
    with http_client(people.url) as browser:
        log_in(browser, auditor)
        cookie, csrf = browser.cookies[SESSION], browser.cookies[CSRF]
        refused = browser.post("/api/v1/auth/logout")
        assert refused.status_code == 403, refused.text
        assert browser.get("/api/v1/me").status_code == 200

        out = browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204, out.text
        assert not browser.cookies
        assert browser.get("/api/v1/me").status_code == 401

    # The cookie, had anyone kept it, opens nothing any more.
    with http_client(people.url, cookies={SESSION: cookie}) as kept:
        assert kept.get("/api/v1/me").status_code == 401
        home = kept.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/masuk?lanjut=/"


def test_the_logout_form_needs_its_csrf_field(people: People) -> None:
    auditor = people.user("auditor")
    with http_client(people.url) as browser:
        log_in(browser, auditor)
        cookie, csrf = browser.cookies[SESSION], browser.cookies[CSRF]
        assert browser.post("/keluar", data={}).status_code == 403
        assert browser.post("/keluar", data={"csrf": "salah"}).status_code == 403
        assert browser.get("/api/v1/me").status_code == 200

        out = browser.post("/keluar", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/masuk"
    with http_client(people.url, cookies={SESSION: cookie}) as kept:
        assert kept.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://ttd.example.go.id", True), (None, False)]
)
def test_session_cookies_are_secure_behind_https(public_url: str | None, secure: bool) -> None:
    response = Response()
    new = NewSession("sesi", "csrf", datetime.now(UTC))
    set_session_cookies(response, new, Settings(public_url=public_url))
    cookies = response.headers.getlist("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert ("; secure" in cookie.lower()) is secure, cookie
        assert "samesite=lax" in cookie.lower()
    session = next(c for c in cookies if c.startswith("docgen_sesi="))
    assert "httponly" in session.lower()
    assert "httponly" not in next(c for c in cookies if c.startswith("docgen_csrf=")).lower()


def test_a_password_hashed_at_one_cost_verifies_at_another() -> None:
    # The tests' services hash at argon2id's least cost (TEST_DEFAULTS), deployments at the
    # settings' default: a hash carries its parameters, so either checks the other's.
    fields = Settings.model_fields
    deployed = Passwords(
        fields["password_time_cost"].default, fields["password_memory_kib"].default
    )
    least = Passwords(1, 1024)

    async def check() -> None:
        assert (await deployed.hash(PASSWORD)).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        for made, checking in ((deployed, least), (least, deployed)):
            stored = await made.hash(PASSWORD)
            assert await checking.verify(stored, PASSWORD)
            assert not await checking.verify(stored, WRONG)
            assert not await checking.verify(None, PASSWORD)
        # Hashing runs beside the event loop, which goes on serving (~170 ms at this cost).
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await anyio.sleep(0)

        async with anyio.create_task_group() as group:
            group.start_soon(ticking)
            await anyio.sleep(0)
            before = ticks
            await deployed.hash(PASSWORD)
            assert ticks > before
            group.cancel_scope.cancel()

    anyio.run(check)
