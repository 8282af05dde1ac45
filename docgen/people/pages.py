"""The pages of signing in: log in, log out, activate an account, and the start page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from docgen.deps import AccountsDep, SettingsDep, SignersDep
from docgen.errors import DataInvalid, LoginFailed, NotFound
from docgen.people.policies import SESSION_COOKIE, AnyCaller, Public
from docgen.people.routes import clear_session_cookies, set_session_cookies
from docgen.registry.statuses import Role

__all__ = ["pages", "safe_next"]

_WEB = Path(__file__).resolve().parent / "web"
_BASE = Path(__file__).resolve().parent.parent / "verification" / "web"
_env = Environment(loader=FileSystemLoader([_WEB, _BASE]), autoescape=select_autoescape(["html"]))

pages = APIRouter(include_in_schema=False)


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status_code)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


@pages.get("/masuk", response_class=HTMLResponse)
async def login_page(_: Public, lanjut: str = "/") -> HTMLResponse:
    return _render("masuk.html", lanjut=safe_next(lanjut), username="", error=None, message=None)


@pages.post("/masuk", response_class=HTMLResponse)
async def login_form(
    _: Public,
    accounts: AccountsDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    otp: Annotated[str | None, Form(max_length=10)] = None,
    lanjut: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    try:
        user = await accounts.login(username, password, otp or None)
    except LoginFailed as exc:
        return _render(
            "masuk.html", 401, lanjut=safe_next(lanjut), username=username, error=exc.detail
        )
    response = RedirectResponse(safe_next(lanjut), status_code=303)
    set_session_cookies(response, await accounts.start_session(user), settings)
    return response


@pages.post("/keluar")
async def logout_form(_: AnyCaller, accounts: AccountsDep, request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await accounts.end_session(cookie)
    response = RedirectResponse("/masuk", status_code=303)
    clear_session_cookies(response)
    return response


async def _activation_view(
    accounts: AccountsDep, signers: SignersDep, token: str
) -> dict[str, Any] | None:
    try:
        view = await accounts.activation(token)
    except NotFound:
        return None
    return {
        "username": view.user.username,
        "role": view.user.role,
        "otpauth_uri": view.otpauth_uri,
        "totp_required": view.totp_required,
        "pin_required": await signers.needs_pin(view.user),
    }


@pages.get("/aktivasi/{token}", response_class=HTMLResponse)
async def activation_page(
    _: Public, accounts: AccountsDep, signers: SignersDep, token: str
) -> HTMLResponse:
    view = await _activation_view(accounts, signers, token)
    if view is None:
        return _render("aktivasi.html", 404, view=None)
    qr = _qr_svg(view["otpauth_uri"]) if view["otpauth_uri"] else ""
    return _render("aktivasi.html", view=view, qr_svg=qr, problems=[])


@pages.post("/aktivasi/{token}", response_class=HTMLResponse)
async def activation_form(
    _: Public,
    accounts: AccountsDep,
    signers: SignersDep,
    token: str,
    password: Annotated[str, Form(max_length=200)],
    pin: Annotated[str | None, Form(max_length=64)] = None,
    otp: Annotated[str | None, Form(max_length=10)] = None,
) -> HTMLResponse:
    view = await _activation_view(accounts, signers, token)
    if view is None:
        return _render("aktivasi.html", 404, view=None)
    try:
        if view["role"] == Role.SIGNER:
            await signers.activate(token, password, pin or None, otp or None)
        else:
            await accounts.activate(token, password, otp or None)
    except NotFound:
        return _render("aktivasi.html", 404, view=None)
    except DataInvalid as exc:
        qr = _qr_svg(view["otpauth_uri"]) if view["otpauth_uri"] else ""
        problems = [p.message for p in exc.problems]
        return _render("aktivasi.html", 422, view=view, qr_svg=qr, problems=problems)
    return _render("aktivasi.html", done=True, username=view["username"], view=view)
