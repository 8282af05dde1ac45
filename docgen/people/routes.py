"""Accounts: logging in and out, API tokens, the caller's own account, units, users,
activation links, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from docgen.deps import AccountsDep, ProfilesDep, SessionDep, SettingsDep, SignersDep
from docgen.errors import NotFound, error_responses
from docgen.kit.limits import read_upload
from docgen.people.emblem import MAX_EMBLEM_BYTES, PNG, SVG
from docgen.people.policies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AdminCaller,
    AnyCaller,
    AuditCaller,
    Public,
    SignerCaller,
)
from docgen.people.profiles import UnitProfiles
from docgen.people.schemas import (
    ActivationIn,
    ActivationOut,
    AuditEntryOut,
    AuditOut,
    EmblemOut,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    TokenIn,
    TokenNewOut,
    TokenOut,
    UnitIn,
    UnitOut,
    UnitProfileIn,
    UnitProfileOut,
    UserCreatedOut,
    UserIn,
    UserOut,
)
from docgen.people.service import NewSession
from docgen.registry import audit
from docgen.registry.statuses import Role
from docgen.settings import Settings
from docgen.signers.schemas import PinChangeIn

router = APIRouter(tags=["akun"])
# What every route of a logged-in caller may also answer.
_PROTECTED = error_responses(401, 403)


def set_session_cookies(response: Response, new: NewSession, settings: Settings) -> None:
    """The session cookie (HttpOnly) and the CSRF cookie that pages read (not HttpOnly)."""
    max_age = settings.session_hours * 3600
    secure = settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, new.cookie, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE, new.csrf, max_age=max_age, httponly=False, samesite="lax", secure=secure
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.post("/auth/login", response_model=MeOut, responses=error_responses(401))
async def login(
    _: Public, accounts: AccountsDep, settings: SettingsDep, body: LoginIn, response: Response
) -> MeOut:
    """Log in: a session cookie (and a CSRF token to send as ``X-CSRF-Token`` with every
    change). 401 on any failure, the same whether the user exists or not."""
    user = await accounts.login(body.username, body.password, body.otp)
    new = await accounts.start_session(user)
    set_session_cookies(response, new, settings)
    return MeOut(**UserOut.of(user).model_dump(), csrf_token=new.csrf)


@router.post("/auth/logout", status_code=204, responses={**_PROTECTED, **error_responses(401)})
async def logout(_: AnyCaller, accounts: AccountsDep, request: Request) -> Response:
    """End the browser session."""
    response = Response(status_code=204)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await accounts.end_session(cookie)
    clear_session_cookies(response)
    return response


@router.post(
    "/auth/tokens", status_code=201, response_model=TokenNewOut, responses=error_responses(401)
)
async def new_token(_: Public, accounts: AccountsDep, body: TokenIn) -> TokenNewOut:
    """An API token for an integration, acting as the user whose credentials are given; shown
    once, kept only hashed, expiring (``DOCGEN_TOKEN_DAYS``)."""
    user = await accounts.login(body.username, body.password, body.otp)
    row, token = await accounts.new_api_token(user, body.name)
    return TokenNewOut(token=token, id=row.id, name=row.name, expires_at=row.expires_at)


@router.get("/auth/tokens", responses=_PROTECTED, response_model=list[TokenOut])
async def my_tokens(caller: AnyCaller, accounts: AccountsDep) -> list[TokenOut]:
    """The caller's API tokens (never the tokens themselves)."""
    assert caller.user is not None
    return [TokenOut.of(t) for t in await accounts.api_tokens(caller.user)]


@router.delete(
    "/auth/tokens/{token_id}", status_code=204, responses={**_PROTECTED, **error_responses(404)}
)
async def revoke_token(caller: AnyCaller, accounts: AccountsDep, token_id: str) -> Response:
    """Revoke one of the caller's API tokens: it stops working at once."""
    assert caller.user is not None
    await accounts.revoke_api_token(caller.user, token_id)
    return Response(status_code=204)


@router.get("/me", responses=_PROTECTED, response_model=MeOut)
async def me(caller: AnyCaller, request: Request) -> MeOut:
    """Who is logged in."""
    assert caller.user is not None
    return MeOut(
        **UserOut.of(caller.user).model_dump(), csrf_token=request.cookies.get(CSRF_COOKIE)
    )


@router.post("/me/password", status_code=204, responses={**_PROTECTED, **error_responses(422)})
async def change_password(
    caller: AnyCaller, accounts: AccountsDep, body: PasswordChangeIn
) -> Response:
    assert caller.user is not None
    await accounts.change_password(caller.user, body.old_password, body.new_password)
    return Response(status_code=204)


@router.post(
    "/me/pin", status_code=204, responses={**_PROTECTED, **error_responses(403, 404, 422, 423)}
)
async def change_pin(caller: SignerCaller, signers: SignersDep, body: PinChangeIn) -> Response:
    """A new PIN for the same key (the current PIN counts as a try like any signing)."""
    await signers.change_pin(caller, body.pin, body.new_pin)
    return Response(status_code=204)


@router.post(
    "/units",
    status_code=201,
    response_model=UnitOut,
    responses={**_PROTECTED, **error_responses(409)},
)
async def create_unit(_: AdminCaller, accounts: AccountsDep, body: UnitIn) -> UnitOut:
    """A unit (OPD, instansi, sekretariat)."""
    return UnitOut.of(await accounts.create_unit(body.name, body.code))


@router.get("/units", responses=_PROTECTED, response_model=list[UnitOut])
async def list_units(caller: AnyCaller, accounts: AccountsDep) -> list[UnitOut]:
    """Every unit for admins; the caller's own units for everyone else."""
    return [
        UnitOut.of(u) for u in await accounts.units() if caller.is_admin or u.id in caller.unit_ids
    ]


# An SVG emblem opened on its own can run nothing and fetch nothing, whatever it holds.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@router.get(
    "/units/{unit_id}/profile",
    response_model=UnitProfileOut,
    responses={**_PROTECTED, **error_responses(404)},
)
async def unit_profile(caller: AnyCaller, profiles: ProfilesDep, unit_id: str) -> UnitProfileOut:
    """The unit's profile (kop lines, address, place, time zone, numbering codes per template,
    the emblem), for admins and the unit's own people; 404 for others."""
    if not caller.in_unit(unit_id):
        raise NotFound("Unit tidak ditemukan")
    return await _profile_out(profiles, unit_id)


@router.put(
    "/units/{unit_id}/profile",
    response_model=UnitProfileOut,
    responses={**_PROTECTED, **error_responses(404, 422)},
)
async def set_unit_profile(
    _: AdminCaller, profiles: ProfilesDep, unit_id: str, body: UnitProfileIn
) -> UnitProfileOut:
    """Replace the unit's profile. Its documents take their numbering codes (per template) and
    their place (when the data leaves it empty) from it; a template without codes here keeps
    its manifest's. 422 names an unknown template id."""
    await profiles.set_profile(unit_id, body)
    return await _profile_out(profiles, unit_id)


async def _profile_out(profiles: UnitProfiles, unit_id: str) -> UnitProfileOut:
    profile, emblem = await profiles.profile(unit_id)
    return UnitProfileOut(
        **profile.model_dump(), unit_id=unit_id, emblem=EmblemOut.of(emblem) if emblem else None
    )


@router.put(
    "/units/{unit_id}/emblem",
    response_model=EmblemOut,
    responses={**_PROTECTED, **error_responses(404, 413, 422)},
)
async def set_unit_emblem(
    _: AdminCaller,
    profiles: ProfilesDep,
    unit_id: str,
    file: Annotated[UploadFile, File(description="PNG or SVG, at most 512 KiB")],
) -> EmblemOut:
    """Replace the unit's emblem (lambang daerah, logo instansi). A PNG must be readable (at
    most 4 million pixels); an SVG may hold no script, event attribute, ``<foreignObject>``
    or reference outside itself."""
    content = await read_upload(file, MAX_EMBLEM_BYTES)
    return EmblemOut.of(await profiles.set_emblem(unit_id, content))


@router.get(
    "/units/{unit_id}/emblem",
    response_class=Response,
    responses={
        **_PROTECTED,
        **error_responses(404),
        200: {
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}} for kind in (PNG, SVG)
            },
            "description": "the emblem",
        },
    },
)
async def unit_emblem(caller: AnyCaller, profiles: ProfilesDep, unit_id: str) -> Response:
    """The unit's emblem as uploaded (an SVG under a policy that lets it run nothing)."""
    if not caller.in_unit(unit_id):
        raise NotFound("Unit tidak ditemukan")
    emblem = await profiles.emblem(unit_id)
    headers = {"Cache-Control": "private, no-cache", "ETag": f'"{emblem.sha256}"'}
    if emblem.content_type == SVG:
        headers["Content-Security-Policy"] = SVG_POLICY
    return Response(emblem.content, media_type=emblem.content_type, headers=headers)


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreatedOut,
    responses={**_PROTECTED, **error_responses(409)},
)
async def create_user(_: AdminCaller, accounts: AccountsDep, body: UserIn) -> UserCreatedOut:
    """An admin, operator, verifikator or auditor account, with its one-time activation link
    (valid ``DOCGEN_ACTIVATION_HOURS``). Signers are enrolled with ``POST /signers``."""
    user_id, url = await accounts.create_user(body.username, body.role, body.unit_ids, body.email)
    return UserCreatedOut(id=user_id, activation_url=url)


@router.get("/users", responses=_PROTECTED, response_model=list[UserOut])
async def list_users(_: AdminCaller, accounts: AccountsDep) -> list[UserOut]:
    return [UserOut.of(u) for u in await accounts.users()]


@router.post(
    "/users/{user_id}/activation",
    response_model=UserCreatedOut,
    responses={**_PROTECTED, **error_responses(404)},
)
async def new_user_activation(
    _: AdminCaller, accounts: AccountsDep, user_id: str
) -> UserCreatedOut:
    """A new activation link (a forgotten password; a signer keeps their key and PIN)."""
    return UserCreatedOut(id=user_id, activation_url=await accounts.reissue_activation(user_id))


@router.get("/activation/{token}", response_model=ActivationOut, responses=error_responses(404))
async def activation(
    _: Public, accounts: AccountsDep, signers: SignersDep, token: str
) -> ActivationOut:
    """What an activation link is for: the account, and the TOTP secret to scan."""
    view = await accounts.activation(token)
    return ActivationOut(
        username=view.user.username,
        role=view.user.role,
        otpauth_uri=view.otpauth_uri,
        totp_required=view.totp_required,
        pin_required=await signers.needs_pin(view.user),
    )


@router.post("/activation/{token}", response_model=UserOut, responses=error_responses(404, 422))
async def activate(
    _: Public, accounts: AccountsDep, signers: SignersDep, token: str, body: ActivationIn
) -> UserOut:
    """Use the link once: set the password, the TOTP code (required for admins and
    operators), and for a signer the PIN (at least 6 digits, not trivial): only now is their
    key made. The link then answers 404."""
    view = await accounts.activation(token)
    if view.user.role == Role.SIGNER:
        user = await signers.activate(token, body.password, body.pin, body.otp)
    else:
        user = await accounts.activate(token, body.password, body.otp)
    return UserOut.of(user)


@router.get("/audit", responses=_PROTECTED, response_model=AuditOut)
async def audit_log(
    caller: AuditCaller,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, description="entries after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditOut:
    """The audit log with the result of the hash-chain check; auditors see the entries about
    their units' documents and batches."""
    log = await audit.read_log(session, units=caller.unit_scope, after=after, limit=limit)
    return AuditOut(
        chain_intact=log.broken_at is None,
        broken_at=log.broken_at,
        entries=[AuditEntryOut.of(e) for e in log.entries],
    )
