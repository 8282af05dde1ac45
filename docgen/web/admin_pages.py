"""The admin's pages (units, users, templates, the audit log), the signers' list where
operators propose and admins approve, and everyone's own account (password, PIN, API tokens).

Each page calls the same services as the API routes; a one-time secret (an activation link, an
API token) is shown on the page that answers the form, never put in a URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from docgen.deps import (
    AccountsDep,
    CatalogueDep,
    OfficeDep,
    SessionDep,
    SignersDep,
    TemplateUploadsDep,
)
from docgen.errors import Conflict, DataInvalid, DocgenError, TemplateInvalid
from docgen.indonesia import PANGKAT
from docgen.people.policies import AdminCaller, AnyCaller, AuditCaller, Caller, StaffCaller
from docgen.people.schemas import UnitIn, UserIn, UserOut
from docgen.registry import audit
from docgen.registry.statuses import Role
from docgen.signers.schemas import SignerIn, SignerOut, SignerRevokeIn
from docgen.templating.schemas import TemplateOut
from docgen.web.forms import checked, field_problems
from docgen.web.labels import SIGNER_LABELS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# The roles an admin gives here, the most common first (signers are enrolled, not created).
STAFF_ROLES = {
    Role.OPERATOR: "Operator",
    Role.VERIFIKATOR: "Verifikator",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Admin",
}
NOMOR_KINDS = {"nip": "NIP", "ni_pppk": "NI PPPK", "nik": "NIK"}
AUDIT_PAGE = 50
TOKEN_NAME_MAX = 100  # as TokenIn.name


@dataclass
class AdminParts:
    """What drawing these pages takes, received once per route."""

    request: Request
    office: OfficeDep
    accounts: AccountsDep
    signers: SignersDep
    catalogue: CatalogueDep


AdminPartsDep = Annotated[AdminParts, Depends(AdminParts)]


def _done(path: str, message: str) -> RedirectResponse:
    """After a change: back to the page, with the message shown once."""
    return RedirectResponse(f"{path}?pesan={quote(message)}", status_code=303)


# Units ------------------------------------------------------------------------------------------


async def _units_page(
    parts: AdminParts,
    caller: Caller,
    status_code: int = 200,
    **form: Any,
) -> HTMLResponse:
    return parts.office.page(
        parts.request,
        caller,
        "adm_unit.html",
        status_code,
        units=await parts.accounts.units(),
        values=form.get("values", {}),
        problems=form.get("problems", {}),
    )


@router.get("/admin/unit")
async def units_page(caller: AdminCaller, parts: AdminPartsDep) -> HTMLResponse:
    return await _units_page(parts, caller)


@router.post("/admin/unit")
async def create_unit(
    caller: AdminCaller,
    parts: AdminPartsDep,
    name: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    values = {"name": name.strip(), "code": code.strip()}
    body, problems = checked(UnitIn, values)
    if body is None:
        return await _units_page(parts, caller, 422, values=values, problems=problems)
    try:
        unit = await parts.accounts.create_unit(body.name, body.code)
    except Conflict as exc:
        return await _units_page(parts, caller, 409, values=values, problems={"code": exc.detail})
    return _done("/admin/unit", f"Unit {unit.name} ({unit.code}) dibuat")


# Users ------------------------------------------------------------------------------------------


async def _users_page(
    parts: AdminParts,
    caller: Caller,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    units = await parts.accounts.units()
    names = {u.id: u.name for u in units}
    users = [
        {**UserOut.of(u).model_dump(), "units": [names.get(i, i) for i in u.unit_ids]}
        for u in await parts.accounts.users()
    ]
    return parts.office.page(
        parts.request,
        caller,
        "adm_pengguna.html",
        status_code,
        users=users,
        units=units,
        roles=STAFF_ROLES,
        role_labels={**STAFF_ROLES, Role.SIGNER: "Penanda tangan"},
        values=context.pop("values", {"unit_ids": []}),
        problems=context.pop("problems", {}),
        error=context.pop("error", None),
        shown=context.pop("shown", None),
    )


@router.get("/admin/pengguna")
async def users_page(caller: AdminCaller, parts: AdminPartsDep) -> HTMLResponse:
    return await _users_page(parts, caller)


@router.post("/admin/pengguna")
async def create_user(
    caller: AdminCaller,
    parts: AdminPartsDep,
    username: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    unit_ids: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    email: Annotated[str, Form()] = "",
) -> HTMLResponse:
    values = {
        "username": username.strip(),
        "role": role,
        "unit_ids": unit_ids,
        "email": email.strip() or None,
    }
    body, problems = checked(UserIn, values)
    if body is not None and body.role not in STAFF_ROLES:
        body, problems = None, {"role": "pilih admin, operator, verifikator atau auditor"}
    if body is None:
        return await _users_page(parts, caller, 422, values=values, problems=problems)
    try:
        _, url = await parts.accounts.create_user(
            body.username, body.role, body.unit_ids, body.email
        )
    except DataInvalid as exc:
        return await _users_page(parts, caller, 422, values=values, problems=field_problems(exc))
    except Conflict as exc:
        problems = {"username": exc.detail}
        return await _users_page(parts, caller, 409, values=values, problems=problems)
    shown = {"who": body.username, "url": url, "email": body.email, "new": True}
    return await _users_page(parts, caller, 201, shown=shown)


@router.post("/admin/pengguna/{user_id}/aktivasi")
async def new_user_activation(
    caller: AdminCaller,
    parts: AdminPartsDep,
    user_id: str,
) -> HTMLResponse:
    try:
        url = await parts.accounts.reissue_activation(user_id)
    except DocgenError as exc:
        return await _users_page(parts, caller, exc.status_code, error=exc.detail)
    user = next((u for u in await parts.accounts.users() if u.id == user_id), None)
    shown = {
        "who": user.username if user else user_id,
        "url": url,
        "email": user.email if user else None,
        "new": False,
    }
    return await _users_page(parts, caller, shown=shown)


# Signers ----------------------------------------------------------------------------------------

# The signer form's number is one input; the schema has one field per kind of number.
_SIGNER_FIELDS = {"nip": "nomor", "ni_pppk": "nomor", "nik": "nomor", "": "nomor"}


async def _signers_page(
    parts: AdminParts,
    caller: Caller,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    rows = [SignerOut.of(s) for s in await parts.signers.visible(caller)]
    return parts.office.page(
        parts.request,
        caller,
        "adm_penanda_tangan.html",
        status_code,
        signers=rows,
        statuses=SIGNER_LABELS,
        units=[u for u in await parts.accounts.units() if caller.in_unit(u.id)],
        pangkat=PANGKAT,
        kinds=NOMOR_KINDS,
        is_admin=caller.is_admin,
        values=context.pop("values", {"jenis": "nip"}),
        problems=context.pop("problems", {}),
        error=context.pop("error", None),
        shown=context.pop("shown", None),
    )


@router.get("/penanda-tangan")
async def signers_page(
    caller: StaffCaller,
    parts: AdminPartsDep,
) -> HTMLResponse:
    return await _signers_page(parts, caller)


@router.post("/penanda-tangan")
async def propose_signer(
    caller: StaffCaller,
    parts: AdminPartsDep,
    name: Annotated[str, Form()] = "",
    jenis: Annotated[str, Form()] = "nip",
    nomor: Annotated[str, Form()] = "",
    jabatan: Annotated[str, Form()] = "",
    pangkat: Annotated[str, Form()] = "",
    unit_id: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "name": name.strip(),
        "jenis": jenis,
        "nomor": nomor.strip(),
        "jabatan": jabatan.strip(),
        "pangkat": pangkat,
        "unit_id": unit_id,
        "email": email.strip(),
    }
    kind = jenis if jenis in NOMOR_KINDS else "nip"
    data = {
        "name": values["name"],
        kind: values["nomor"] or None,
        "jabatan": values["jabatan"],
        "pangkat": pangkat or None,
        "unit_id": unit_id,
        "email": values["email"] or None,
    }
    body, problems = checked(SignerIn, data, _SIGNER_FIELDS)
    if body is None:
        return await _signers_page(parts, caller, 422, values=values, problems=problems)
    try:
        signer, url = await parts.signers.enrol(caller, body)
    except DataInvalid as exc:
        problems = field_problems(exc, _SIGNER_FIELDS)
        return await _signers_page(parts, caller, 422, values=values, problems=problems)
    except Conflict as exc:
        return await _signers_page(
            parts,
            caller,
            409,
            values=values,
            problems={"nomor": exc.detail},
        )
    except DocgenError as exc:
        return await _signers_page(
            parts,
            caller,
            exc.status_code,
            values=values,
            error=exc.detail,
        )
    if url is None:
        return _done("/penanda-tangan", f"Usulan {signer.name} menunggu persetujuan admin")
    shown = {"who": signer.name, "url": url, "email": body.email}
    return await _signers_page(parts, caller, 201, shown=shown)


@router.post("/penanda-tangan/{signer_id}/setujui")
async def approve_signer(
    caller: AdminCaller,
    parts: AdminPartsDep,
    signer_id: str,
) -> HTMLResponse:
    try:
        signer, url = await parts.signers.approve(caller, signer_id)
    except DocgenError as exc:
        return await _signers_page(parts, caller, exc.status_code, error=exc.detail)
    shown = {"who": signer.name, "url": url, "approved": True}
    return await _signers_page(parts, caller, shown=shown)


@router.post("/penanda-tangan/{signer_id}/aktivasi")
async def new_signer_activation(
    caller: AdminCaller,
    parts: AdminPartsDep,
    signer_id: str,
) -> HTMLResponse:
    try:
        signer, url = await parts.signers.new_activation(signer_id)
    except DocgenError as exc:
        return await _signers_page(parts, caller, exc.status_code, error=exc.detail)
    shown = {"who": signer.name, "url": url}
    return await _signers_page(parts, caller, shown=shown)


@router.post("/penanda-tangan/{signer_id}/cabut")
async def revoke_signer(
    caller: AdminCaller,
    parts: AdminPartsDep,
    signer_id: str,
    reason: Annotated[str, Form()] = "",
) -> Response:
    body, problems = checked(SignerRevokeIn, {"reason": reason.strip()})
    if body is None:
        error = f"Alasan penolakan atau pencabutan: {problems['reason']}"
        return await _signers_page(parts, caller, 422, error=error)
    try:
        signer = await parts.signers.revoke(signer_id, body.reason)
    except DocgenError as exc:
        return await _signers_page(parts, caller, exc.status_code, error=exc.detail)
    return _done("/penanda-tangan", f"{signer.name}: ditolak atau dicabut")


# Templates --------------------------------------------------------------------------------------


def _templates_page(
    parts: AdminParts,
    caller: Caller,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return parts.office.page(
        parts.request,
        caller,
        "adm_templat.html",
        status_code,
        templates=[TemplateOut.of(t, parts.catalogue) for t in parts.catalogue.all_latest()],
        problems=context.pop("problems", []),
        error=context.pop("error", None),
    )


@router.get("/admin/templat")
async def templates_page(caller: AdminCaller, parts: AdminPartsDep) -> HTMLResponse:
    return _templates_page(parts, caller)


@router.post("/admin/templat")
async def upload_template_form(
    caller: AdminCaller,
    parts: AdminPartsDep,
    uploads: TemplateUploadsDep,
    manifest: Annotated[UploadFile | None, File()] = None,
    docx: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if manifest is None or docx is None or not manifest.filename or not docx.filename:
        return _templates_page(parts, caller, 422, error="Pilih manifest.toml dan berkas DOCX")
    try:
        template = await uploads.receive(manifest, docx)
    except TemplateInvalid as exc:
        return _templates_page(
            parts,
            caller,
            exc.status_code,
            problems=exc.problems,
            error="Templat tidak disimpan: perbaiki masalah berikut lalu unggah lagi.",
        )
    except DocgenError as exc:
        return _templates_page(parts, caller, exc.status_code, error=exc.detail)
    return _done("/admin/templat", f"Templat {template.id} versi {template.version} disimpan")


# The audit log ----------------------------------------------------------------------------------


@router.get("/admin/audit")
async def audit_page(
    caller: AuditCaller,
    parts: AdminPartsDep,
    session: SessionDep,
    sebelum: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The newest entries first (``sebelum``: those before that id), and the chain check."""
    log = await audit.read_log(
        session, units=caller.unit_scope, before=sebelum, newest_first=True, limit=AUDIT_PAGE
    )
    usernames = {u.id: u.username for u in await parts.accounts.users()}
    older = log.entries[-1].id if len(log.entries) == AUDIT_PAGE else None
    return parts.office.page(
        parts.request,
        caller,
        "adm_audit.html",
        log=log,
        usernames=usernames,
        older=older,
        newest=sebelum is None,
    )


# The caller's own account -----------------------------------------------------------------------


async def _account_page(
    parts: AdminParts,
    caller: Caller,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    assert caller.user is not None
    return parts.office.page(
        parts.request,
        caller,
        "adm_akun.html",
        status_code,
        tokens=await parts.accounts.api_tokens(caller.user),
        is_signer=caller.role == Role.SIGNER,
        problems=context.pop("problems", {}),
        error=context.pop("error", None),
        new_token=context.pop("new_token", None),
    )


@router.get("/akun")
async def account_page(caller: AnyCaller, parts: AdminPartsDep) -> HTMLResponse:
    return await _account_page(parts, caller)


@router.post("/akun/sandi")
async def change_password(
    caller: AnyCaller,
    parts: AdminPartsDep,
    old_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    assert caller.user is not None
    try:
        await parts.accounts.change_password(caller.user, old_password, new_password)
    except DataInvalid as exc:
        return await _account_page(parts, caller, 422, problems=field_problems(exc))
    return _done("/akun", "Kata sandi diganti")


@router.post("/akun/pin")
async def change_pin(
    caller: AnyCaller,
    parts: AdminPartsDep,
    pin: Annotated[str, Form(max_length=64)] = "",
    new_pin: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        await parts.signers.change_pin(caller, pin, new_pin)
    except DataInvalid as exc:
        return await _account_page(parts, caller, 422, problems=field_problems(exc))
    except DocgenError as exc:
        problems = {"pin": exc.detail}
        return await _account_page(parts, caller, exc.status_code, problems=problems)
    return _done("/akun", "PIN diganti")


@router.post("/akun/token")
async def new_token(
    caller: AnyCaller,
    parts: AdminPartsDep,
    name: Annotated[str, Form()] = "",
) -> HTMLResponse:
    assert caller.user is not None
    name = name.strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        problems = {"name": f"isi nama token, paling banyak {TOKEN_NAME_MAX} karakter"}
        return await _account_page(parts, caller, 422, problems=problems)
    row, token = await parts.accounts.new_api_token(caller.user, name)
    shown = {"name": row.name, "token": token, "expires_at": row.expires_at}
    return await _account_page(parts, caller, 201, new_token=shown)


@router.post("/akun/token/{token_id}/cabut")
async def revoke_token(
    caller: AnyCaller,
    parts: AdminPartsDep,
    token_id: str,
) -> Response:
    assert caller.user is not None
    try:
        await parts.accounts.revoke_api_token(caller.user, token_id)
    except DocgenError as exc:
        return await _account_page(parts, caller, exc.status_code, error=exc.detail)
    return _done("/akun", "Token dicabut")
