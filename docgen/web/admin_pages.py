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
from pydantic import ValidationError
from starlette.datastructures import FormData

from docgen.deps import (
    AccountsDep,
    CatalogueDep,
    OfficeDep,
    ProfilesDep,
    SessionDep,
    SignersDep,
    TemplateUploadsDep,
)
from docgen.errors import Conflict, DataInvalid, DocgenError, NotFound, TemplateInvalid
from docgen.indonesia import PANGKAT
from docgen.kit.error_bodies import problem_message
from docgen.kit.limits import read_upload
from docgen.people.emblem import MAX_EMBLEM_BYTES
from docgen.people.policies import AdminCaller, AnyCaller, AuditCaller, Caller, StaffCaller
from docgen.people.schemas import UnitIn, UnitProfileIn, UserIn, UserOut
from docgen.registry import audit
from docgen.registry.statuses import Role
from docgen.signers.schemas import SignerIn, SignerOut, SignerRevokeIn
from docgen.templating.schemas import TemplateOut
from docgen.web.forms import checked, field_problems
from docgen.web.labels import SIGNER_LABELS
from signing.waktu import Zona

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
    profiles: ProfilesDep


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


# A unit's profile -------------------------------------------------------------------------------

# The kop lines above the unit's name and the lines of its name, as the form's inputs
# (UnitProfileIn allows two of each), by the profile's field.
LINE_FIELDS = {"kop_lines": ("kop_1", "kop_2"), "name_lines": ("nama_1", "nama_2")}
# Short enough for a phone's select: Waktu Indonesia Barat, Tengah, Timur.
ZONE_LABELS = {Zona.WIB: "WIB (UTC+7)", Zona.WITA: "WITA (UTC+8)", Zona.WIT: "WIT (UTC+9)"}


def _profile_values(profile: UnitProfileIn) -> dict[str, str]:
    """A profile as the form's inputs hold it."""
    values = {"address": profile.address, "place": profile.place, "timezone": profile.timezone}
    for group, inputs in LINE_FIELDS.items():
        values.update(zip(inputs, getattr(profile, group), strict=False))
    for template_id, codes in profile.numbering.items():
        values[f"numbering.{template_id}.kode"] = codes.kode
        values[f"numbering.{template_id}.unit"] = codes.unit
    return values


def _profile_of_form(
    form: FormData, template_ids: list[str]
) -> tuple[dict[str, str], dict[str, Any], dict[str, list[str]]]:
    """The form's values as typed, the profile they make (for UnitProfileIn), and per group
    of lines the form field of each line in it (an empty input is no line)."""
    inputs = [name for names in LINE_FIELDS.values() for name in names]
    values = {
        name: str(form.get(name) or "").strip()
        for name in (*inputs, "address", "place", "timezone")
    }
    filled = {
        group: [name for name in names if values[name]] for group, names in LINE_FIELDS.items()
    }
    numbering: dict[str, dict[str, str]] = {}
    for template_id in template_ids:
        codes = {
            part: str(form.get(f"numbering.{template_id}.{part}") or "").strip()
            for part in ("kode", "unit")
        }
        values.update({f"numbering.{template_id}.{part}": v for part, v in codes.items()})
        if any(codes.values()):  # both empty: the template keeps its manifest's codes
            numbering[template_id] = codes
    profile = {
        **{group: [values[name] for name in names] for group, names in filled.items()},
        "address": values["address"],
        "place": values["place"],
        "timezone": values["timezone"],
        "numbering": numbering,
    }
    return values, profile, filled


def _profile_problems(
    problems: list[tuple[tuple[str | int, ...], str]], filled: dict[str, list[str]]
) -> dict[str, str]:
    """Each problem by the form field it is about: ``kop_lines.1`` is the second filled kop
    input, ``numbering.<template>`` (the codes together) goes beside its ``kode``."""
    shown: dict[str, str] = {}
    for loc, message in problems:
        parts = [str(p) for p in loc]
        if parts[:1] and parts[0] in LINE_FIELDS:
            lines = filled[parts[0]]
            at = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            field = lines[at] if at < len(lines) else LINE_FIELDS[parts[0]][0]
        elif parts[:1] == ["numbering"] and len(parts) >= 2:
            field = ".".join(parts[:3]) if len(parts) >= 3 else f"numbering.{parts[1]}.kode"
        else:
            field = parts[0] if parts else "address"
        shown.setdefault(field, message)
    return shown


async def _profile_page(
    parts: AdminParts,
    caller: Caller,
    unit_id: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    unit = next((u for u in await parts.accounts.units() if u.id == unit_id), None)
    if unit is None:
        return parts.office.page(
            parts.request, caller, "op_galat.html", 404, detail="Unit tidak ditemukan"
        )
    profile, emblem = await parts.profiles.profile(unit_id)
    return parts.office.page(
        parts.request,
        caller,
        "adm_unit_profil.html",
        status_code,
        unit=unit,
        emblem=emblem,
        zona=profile.timezone,
        templates=[t.manifest for t in parts.catalogue.all_latest()],
        zones=ZONE_LABELS,
        values=context.pop("values", None) or _profile_values(profile),
        problems=context.pop("problems", {}),
        emblem_problem=context.pop("emblem_problem", None),
    )


@router.get("/admin/unit/{unit_id}")
async def unit_profile_page(caller: AdminCaller, parts: AdminPartsDep, unit_id: str) -> Response:
    """A unit's profile: kop lines, address, place, time zone, numbering codes per template,
    and its emblem."""
    return await _profile_page(parts, caller, unit_id)


@router.post("/admin/unit/{unit_id}/profil")
async def set_unit_profile(caller: AdminCaller, parts: AdminPartsDep, unit_id: str) -> Response:
    """Replace the unit's profile through the API's service (the same checks and audit row)."""
    template_ids = [t.id for t in parts.catalogue.all_latest()]
    values, data, filled = _profile_of_form(await parts.request.form(), template_ids)
    try:
        profile = UnitProfileIn.model_validate(data)
        await parts.profiles.set_profile(unit_id, profile)
    except ValidationError as exc:
        found = [(tuple(e["loc"]), problem_message(e)) for e in exc.errors()]
        problems = _profile_problems(found, filled)
        return await _profile_page(parts, caller, unit_id, 422, values=values, problems=problems)
    except DataInvalid as exc:
        found = [(tuple(p.field.split(".")), p.message) for p in exc.problems]
        problems = _profile_problems(found, filled)
        return await _profile_page(parts, caller, unit_id, 422, values=values, problems=problems)
    except NotFound as exc:
        return parts.office.page(parts.request, caller, "op_galat.html", 404, detail=exc.detail)
    return _done(f"/admin/unit/{unit_id}", "Profil unit disimpan")


@router.post("/admin/unit/{unit_id}/lambang")
async def set_unit_emblem(
    caller: AdminCaller,
    parts: AdminPartsDep,
    unit_id: str,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Replace the unit's emblem (PNG or SVG) through the API's service."""
    if file is None or not file.filename:
        problem = "pilih berkas PNG atau SVG"
        return await _profile_page(parts, caller, unit_id, 422, emblem_problem=problem)
    try:
        await parts.profiles.set_emblem(unit_id, await read_upload(file, MAX_EMBLEM_BYTES))
    except DataInvalid as exc:
        problem = "; ".join(p.message for p in exc.problems)
        return await _profile_page(parts, caller, unit_id, 422, emblem_problem=problem)
    except NotFound as exc:
        return parts.office.page(parts.request, caller, "op_galat.html", 404, detail=exc.detail)
    except DocgenError as exc:  # too large (413)
        problem = exc.detail
        return await _profile_page(parts, caller, unit_id, exc.status_code, emblem_problem=problem)
    return _done(f"/admin/unit/{unit_id}", "Lambang unit disimpan")


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
