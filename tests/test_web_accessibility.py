"""Every office page, the login, activation and public pages, checked in the browser with
axe-core (the engine as axe-playwright-python ships it): no serious or critical violation, at
phone and at desktop size."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser

from tests.conftest import People, Service, create_pakta, pakta_data
from tests.people import Account, activation_token

NIP = "196404142000031401"  # used by no other module
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
SERIOUS = {"serious", "critical"}


def session_cookies(people: People, account: Account) -> list[dict[str, Any]]:
    """A browser session of ``account``, made by logging in through the API."""
    body: dict[str, Any] = {"username": account.username, "password": account.password}
    if account.otp is not None:
        body["otp"] = account.otp.code()
    login = httpx.post(f"{people.url}/api/v1/auth/login", json=body, timeout=60)
    assert login.status_code == 200, login.text
    return [
        {"name": name, "value": value, "url": people.url} for name, value in login.cookies.items()
    ]


@pytest.fixture(scope="module")
def pages(people: People) -> dict[str, list[str]]:
    """The pages each role has, with real objects behind their ids."""
    signer = people.signer(NIP, name="Dra. Ratna Sari, M.Pd.")
    operator = people.operator.client
    issued = create_pakta(operator, NIP)
    assert signer.sign(issued["id"]).status_code == 200
    waiting = create_pakta(operator, NIP)
    draft = operator.post(
        "/api/v1/documents",
        json={"template": "pakta-integritas", "data": pakta_data(nip=NIP), "draft": True},
    ).json()
    office = ["/dokumen", "/dokumen/baru", "/dokumen/baru/nota-kesepahaman"]
    office += [
        f"/dokumen/{issued['id']}",
        f"/dokumen/{draft['id']}",
        f"/dokumen/{draft['id']}/ubah",
    ]
    office += ["/batch", "/batch/baru", "/penanda-tangan", "/akun"]
    return {
        "admin": [
            *office,
            "/admin/unit",
            f"/admin/unit/{people.unit_id}",
            "/admin/pengguna",
            "/admin/templat",
            "/admin/audit",
        ],
        "signer": ["/kotak-masuk", f"/dokumen/{waiting['id']}", "/riwayat", "/akun"],
        "public": ["/masuk", "/v", f"/v/{issued['verify_code']}", "/v/kode-yang-tidak-ada"],
    }


def violations(
    browser: Browser, service: Service, paths: list[str], cookies: list[Any]
) -> list[str]:
    """The serious and critical violations of each page at each size, as readable lines."""
    axe = Axe()
    found = []
    for size, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        if cookies:
            context.add_cookies(cookies)
        page = context.new_page()
        for path in paths:
            response = page.goto(f"{service.url}{path}")
            assert response is not None and response.status < 500, (path, size)
            assert page.url.startswith(f"{service.url}{path.split('?')[0]}"), (path, page.url)
            results = axe.run(page)
            for violation in results.response["violations"]:
                if violation["impact"] in SERIOUS:
                    targets = [", ".join(n["target"]) for n in violation["nodes"]][:3]
                    found.append(f"{path} ({size}): {violation['id']} {targets}")
        context.close()
    return found


def test_the_admins_and_operators_pages(
    browser: Browser, service: Service, people: People, pages: dict[str, list[str]]
) -> None:
    cookies = session_cookies(people, people.admin)
    assert violations(browser, service, pages["admin"], cookies) == []


def test_the_signers_pages(
    browser: Browser, service: Service, people: People, pages: dict[str, list[str]]
) -> None:
    signer = people.signer(NIP)
    assert violations(browser, service, pages["signer"], session_cookies(people, signer)) == []


def test_the_public_login_and_activation_pages(
    browser: Browser, service: Service, people: People, pages: dict[str, list[str]]
) -> None:
    made = people.admin.client.post(
        "/api/v1/users",
        json={"username": "aksesibilitas", "role": "operator", "unit_ids": [people.unit_id]},
    )
    assert made.status_code == 201, made.text
    activation = f"/aktivasi/{activation_token(made.json()['activation_url'])}"
    assert violations(browser, service, [*pages["public"], activation], []) == []
