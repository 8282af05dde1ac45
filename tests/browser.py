"""What the browser tests share: the two viewports, screenshots of a page at both sizes, a form
submitted, the login form, and reading a document page (its status, its page images)."""

from __future__ import annotations

from collections.abc import Mapping

from playwright.sync_api import Browser, BrowserContext, Page, Response, ViewportSize

from tests.conftest import REPO
from tests.people import PASSWORD, Account, Otp

__all__ = [
    "DESKTOP",
    "PHONE",
    "SCREENSHOTS",
    "fill",
    "log_in",
    "pages_shown",
    "shoot",
    "status_of",
    "submit",
]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
# Looked at by people, not compared by pixels; ignored by git.
SCREENSHOTS = REPO / "var" / "screenshots"


def shoot(page: Page, name: str) -> None:
    """The page as it is, at phone and at desktop size (``var/screenshots/<name>-<size>.png``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    if size is not None:
        page.set_viewport_size(size)


def submit(page: Page, button: str) -> Response:
    """Press the button of a form and wait for the page that answers."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button, exact=True).click()
    response = navigation.value
    assert response is not None
    return response


def log_in(page: Page, username: str, otp: Otp | None = None, password: str = PASSWORD) -> None:
    """Through the /masuk form; on to wherever it leads."""
    page.goto("/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    if otp is not None:
        page.get_by_label("Kode autentikator").fill(otp.code())
    assert submit(page, "Masuk").status == 200, page.content()
    assert "/masuk" not in page.url


def fill(page: Page, data: Mapping[str, object]) -> None:
    """Each named control of a form filled with its value (a select's option chosen)."""
    for name, value in data.items():
        control = page.locator(f'[name="{name}"]')
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(str(value))
        else:
            control.fill(str(value))


def status_of(page: Page) -> str:
    """The document's status as the document page marks it."""
    return str(page.locator("[data-status]").first.get_attribute("data-status"))


def pages_shown(page: Page) -> int:
    """How many page images the document page shows, once the first has loaded."""
    first = page.get_by_role("img", name="Halaman 1")
    first.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=first.element_handle()
    )
    return page.locator(".pages img").count()


# A signature (with its long-term revision) or a page image may take a while.
WAIT_MS = 120_000


def logged_in(
    browser: Browser,
    url: str,
    contexts: list[BrowserContext],
    account: Account,
    viewport: ViewportSize,
) -> Page:
    """A browser at ``url`` in which ``account`` logged in through the /masuk form, its context
    kept in ``contexts`` (the fixture that closes them)."""
    context = browser.new_context(viewport=viewport, base_url=url)
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    log_in(page, account.username, account.otp)
    return page
