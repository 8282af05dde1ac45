"""The API's documentation works without internet (issue 17): /docs (Swagger UI) and /redoc load
every script, style and icon from docgen itself, and render in a real browser (Debian's chromium
driven by Playwright) that may reach no other host."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from tests.conftest import Service

PAGES = ("/docs", "/redoc")
ASSET_TYPES = {
    "script": ("text/javascript", "application/javascript"),
    "stylesheet": ("text/css",),
    "icon": ("image/png",),
}


class _Assets(HTMLParser):
    """What a page makes the browser load: scripts, stylesheets, icons (kind, URL)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.found.append(("script", str(values["src"])))
        elif tag == "link" and values.get("href"):
            rel = str(values.get("rel") or "")
            self.found.append(("icon" if "icon" in rel else "stylesheet", str(values["href"])))


def assets_of(html: str) -> list[tuple[str, str]]:
    parser = _Assets()
    parser.feed(html)
    return parser.found


def same_origin(url: str, service: Service) -> bool:
    here, there = urlsplit(service.url), urlsplit(url)
    return (there.scheme, there.netloc) == (here.scheme, here.netloc)


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_load_every_asset_from_docgen(
    anonymous: httpx.Client, service: Service, path: str
) -> None:
    page = anonymous.get(path)
    assert page.status_code == 200, page.text[:200]
    assert page.headers["content-type"].startswith("text/html")
    assert "docgen" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    # No address of another host anywhere in the page: not as an asset, not for fonts.
    absolute = re.findall(r"(?:https?:)?//[\w.-]+", page.text)
    assert not absolute, absolute
    assets = assets_of(page.text)
    kinds = {kind for kind, _ in assets}
    assert {"script", "icon"} <= kinds, assets
    if path == "/docs":
        assert "stylesheet" in kinds, assets
    for kind, ref in assets:
        url = urljoin(service.url + path, ref)
        assert same_origin(url, service), (kind, ref)
        served = anonymous.get(url)
        assert served.status_code == 200, (ref, served.status_code)
        assert served.headers["content-type"].startswith(ASSET_TYPES[kind]), (ref, served.headers)
        assert len(served.content) > (100_000 if kind != "icon" else 1_000), ref


def test_the_schema_keeps_no_docs_routes(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc", "/aset"))]


# Whatever the page's Content-Security-Policy refuses, as the browser reports it.
LIST_REFUSALS = """
window.refused = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.refused.push([e.blockedURI, e.violatedDirective]);
});
"""


@pytest.fixture()
def offline_page(browser: Browser, service: Service) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any host but the service are aborted (and listed), as on a
    network without internet. Script errors fail the test, and so does anything of docgen's own
    that the pages' Content-Security-Policy refuses (it may refuse other hosts only)."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(LIST_REFUSALS)
    elsewhere: list[str] = []
    errors: list[str] = []

    def only_docgen(route: Route) -> None:
        if same_origin(route.request.url, service):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_docgen)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(60_000)
    yield page, elsewhere
    refused: list[list[str]] = page.evaluate("window.refused")
    context.close()
    assert not errors, errors
    own = [r for r in refused if not r[0].startswith("http") or same_origin(r[0], service)]
    assert not own, own


def test_swagger_ui_renders_offline(offline_page: tuple[Page, list[str]], service: Service) -> None:
    page, elsewhere = offline_page
    page.goto(f"{service.url}/docs")
    page.locator(".opblock").first.wait_for()
    assert "docgen" in page.locator(".information-container .title").inner_text()
    assert page.title() == "docgen - Swagger UI"
    # The operations of the schema, e.g. issuing a document and the health check.
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(summaries) > 40, summaries
    assert "/api/v1/documents" in {s.replace("\u200b", "") for s in summaries}
    # Opening one shows its details, which come from the bundle too.
    page.locator("#operations-kesehatan-healthz_healthz_get .opblock-summary").click()
    page.locator("#operations-kesehatan-healthz_healthz_get .opblock-body").wait_for()
    assert not elsewhere, elsewhere


def test_redoc_renders_offline(offline_page: tuple[Page, list[str]], service: Service) -> None:
    page, elsewhere = offline_page
    page.goto(f"{service.url}/redoc")
    title = page.locator("h1").filter(has_text="docgen")
    title.first.wait_for()
    assert page.title() == "docgen - ReDoc"
    # The side menu lists the schema's tags; the operations follow, each with its path.
    tags = page.locator("ul[role=menu]").first.inner_text().split("\n")
    assert {"dokumen", "penanda tangan", "verifikasi", "kesehatan"} <= set(tags), tags
    assert page.locator("h2", has_text="Login").count() == 1
    assert page.get_by_text("/api/v1/documents", exact=True).count() > 0
    assert not elsewhere, elsewhere
