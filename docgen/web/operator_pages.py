"""The operator's pages: the documents listing, a new document (or a draft changed) from a form
generated from the template's manifest, and batches (upload with a dry run, live progress, the
ZIP). Each page calls the same services as the API routes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from docgen.batches import repository as batches_repository
from docgen.batches.lists import checked_list
from docgen.batches.schemas import BatchItemOut, BatchOut, DryRunOut
from docgen.batches.service import list_readable as list_batches
from docgen.batches.service import readable_batch
from docgen.batches.staff_list import RowProblem, StaffListInvalid
from docgen.deps import (
    AccountsDep,
    BatchesDep,
    CatalogueDep,
    DraftsDep,
    EMeteraiDep,
    LinksDep,
    OfficeDep,
    SessionDep,
    SettingsDep,
    SignersDep,
)
from docgen.documents.routes import readable_document
from docgen.documents.schemas import DocumentItemOut, DocumentQuery
from docgen.documents.service import list_readable as list_documents
from docgen.emeterai.service import EMeteraiStep
from docgen.errors import Conflict, DataInvalid, DocgenError, FieldProblem
from docgen.indonesia.pangkat import PANGKAT
from docgen.kit.error_bodies import problem_message
from docgen.kit.limits import refuse_oversized
from docgen.kit.paging import PageQuery
from docgen.people.policies import AnyCaller, Caller, ReaderCaller, StaffCaller
from docgen.people.profiles import zone_of, zones_of
from docgen.registry.models import Document, Signer, User
from docgen.registry.statuses import BatchStatus, DocumentStatus, Role, SignerStatus, SigningStatus
from docgen.templating.manifest import (
    MAX_PARAF_STEPS,
    FieldSpec,
    Template,
    TemplateManifest,
)
from docgen.web.labels import BATCH_LABELS, SIGNING_LABELS, STATUS_LABELS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# Signers a document's role may be bound to (the API's binding rule: approved enrolments).
_BINDABLE = (SignerStatus.AKTIF, SignerStatus.MENUNGGU_AKTIVASI)
# Empty rows a list field shows at first (more with "Tambah baris").
_FIRST_ROWS = 3
# Verifikator the form offers to name where the template has no paraf steps of its own.
PARAF_FORM_STEPS = 3
_NOMOR_TYPES = frozenset({"nip", "ni_pppk", "nik"})

TemplateId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


def _problems_by_field(problems: Sequence[FieldProblem]) -> dict[str, list[str]]:
    """Each problem under its field (``peserta.0.nip`` read as ``peserta[1].nip``, the form's
    own name for it)."""
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        name = re.sub(r"\.(\d+)(?=\.|$)", lambda m: f"[{int(m[1]) + 1}]", problem.field)
        by_field.setdefault(name, []).append(problem.message)
    return by_field


def _failure(office: OfficeDep, request: Request, caller: Caller, exc: DocgenError) -> HTMLResponse:
    """A page saying what went wrong (``exc.detail``), with the error's status code."""
    return office.page(request, caller, "op_galat.html", exc.status_code, detail=exc.detail)


# The documents listing --------------------------------------------------------------------


@router.get("/dokumen", response_model=None)
async def documents_page(
    caller: AnyCaller,
    request: Request,
    office: OfficeDep,
    session: SessionDep,
    links: LinksDep,
    catalogue: CatalogueDep,
) -> Response:
    """The documents the caller may read: searched, filtered, a page at a time."""
    if caller.role == Role.SIGNER:
        return RedirectResponse("/kotak-masuk", status_code=303)
    asked = {k: v for k, v in request.query_params.items() if k in DocumentQuery.model_fields}
    context: dict[str, Any] = {
        "asked": asked,
        "statuses": STATUS_LABELS,
        "templates": catalogue.all_latest(),
        "staff": caller.role in (Role.ADMIN, Role.OPERATOR),
        "items": [],
        "errors": {},
    }
    try:
        query = DocumentQuery.model_validate(asked)
        listed, total = await list_documents(session, caller, query)
    except ValidationError as exc:
        context["errors"] = {str(e["loc"][0]): [problem_message(e)] for e in exc.errors()}
        return office.page(request, caller, "op_dokumen.html", 422, **context)
    except DataInvalid as exc:
        context["errors"] = _problems_by_field(exc.problems)
        return office.page(request, caller, "op_dokumen.html", 422, **context)
    context["items"] = [DocumentItemOut.of(item, links) for item in listed]
    context.update(_paging(asked, query, total))
    return office.page(request, caller, "op_dokumen.html", **context)


def _paging(asked: Mapping[str, str], query: PageQuery, total: int) -> dict[str, Any]:
    """The links to the page before and after (None at either end) and where this page is."""

    def link(page: int) -> str:
        return "?" + urlencode({**{k: v for k, v in asked.items() if v}, "page": str(page)})

    last = max(1, -(-total // query.per_page))
    return {
        "total": total,
        "page": query.page,
        "last_page": last,
        "prev_url": link(query.page - 1) if query.page > 1 else None,
        "next_url": link(query.page + 1) if query.page < last else None,
    }


# A new document, a draft changed -----------------------------------------------------------


@router.get("/dokumen/baru")
async def choose_template(
    caller: StaffCaller, request: Request, office: OfficeDep, catalogue: CatalogueDep
) -> HTMLResponse:
    """Which template a new document is made from (the latest version of each)."""
    return office.page(
        request,
        caller,
        "op_templat.html",
        templates=catalogue.all_latest(),
        action="/dokumen/baru",
        heading="Dokumen baru",
    )


class DocumentForm:
    """The form of a template's manifest: its values as the form shows them (text; a list's
    rows as submitted, empty ones included), read back into the data the service checks."""

    def __init__(self, manifest: TemplateManifest) -> None:
        self.manifest = manifest

    def values_of(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The form's values for stored data (a draft's), each list padded with empty rows."""
        values: dict[str, Any] = {}
        for spec in self.manifest.fields:
            value = data.get(spec.name)
            if spec.type == "list":
                rows = [self._row_of(spec, item) for item in value or []]
                values[spec.name] = rows + [
                    self._empty_row(spec) for _ in range(max(1, _FIRST_ROWS - len(rows)))
                ]
            elif spec.type == "boolean":
                values[spec.name] = bool(value)
            else:
                values[spec.name] = "" if value is None else str(value)
        return values

    def read(self, form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
        """The data for the service (empty rows left out) and the form's values (every row)."""
        data: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for spec in self.manifest.fields:
            if spec.type == "list":
                rows = self._rows(spec, form)
                values[spec.name] = rows
                data[spec.name] = [
                    self._item(spec, row) for row in rows if not self._blank(spec, row)
                ]
            elif spec.type == "boolean":
                values[spec.name] = data[spec.name] = form.get(spec.name) == "ya"
            else:
                values[spec.name] = data[spec.name] = _text(form.get(spec.name))
        return data, values

    def compacted(self, values: dict[str, Any]) -> dict[str, Any]:
        """The values with each list's filled rows first, as the service numbered them, then
        as many empty rows as were shown."""
        out = dict(values)
        for spec in self.manifest.fields:
            if spec.type == "list":
                rows = values[spec.name]
                filled = [row for row in rows if not self._blank(spec, row)]
                out[spec.name] = filled + [self._empty_row(spec)] * (len(rows) - len(filled))
        return out

    def fill_list(self, values: dict[str, Any], name: str, items: Sequence[Any]) -> None:
        """The rows of the list ``name`` replaced by ``items`` (as a document's data holds
        them, e.g. from a file); with no items the rows stay as they were."""
        spec = self.manifest.field(name)
        if spec is not None and items:
            values[name] = [self._row_of(spec, item) for item in items]

    def change_rows(self, values: dict[str, Any], action: str) -> bool:
        """``tambah:<list>`` adds an empty row, ``hapus:<list>:<n>`` removes row n; whether
        ``action`` was one of them."""
        verb, _, rest = action.partition(":")
        name, _, number = rest.partition(":")
        spec = self.manifest.field(name)
        if spec is None or spec.type != "list" or verb not in ("tambah", "hapus"):
            return False
        rows = list(values[name])
        if verb == "tambah":
            rows.append(self._empty_row(spec))
        elif number.isdigit() and 1 <= int(number) <= len(rows):
            del rows[int(number) - 1]
        values[name] = rows or [self._empty_row(spec)]
        return True

    @staticmethod
    def _empty_row(spec: FieldSpec) -> Any:
        return {item.name: "" for item in spec.item_fields} if spec.item_fields else ""

    @staticmethod
    def _row_of(spec: FieldSpec, item: Any) -> Any:
        if not spec.item_fields:
            return "" if item is None else str(item)
        return {
            f.name: (bool(item.get(f.name)) if f.type == "boolean" else _shown(item.get(f.name)))
            for f in spec.item_fields
        }

    @staticmethod
    def _rows(spec: FieldSpec, form: FormData) -> list[Any]:
        pattern = re.compile(re.escape(spec.name) + r"\[(\d+)\](?:\.([a-z][a-z0-9_]*))?$")
        numbers: dict[int, dict[str, str]] = {}
        for key, value in form.multi_items():
            found = pattern.match(key)
            if found and isinstance(value, str):
                numbers.setdefault(int(found[1]), {})[found[2] or ""] = value
        rows: list[Any] = []
        for n in sorted(numbers):
            cells = numbers[n]
            if not spec.item_fields:
                rows.append(cells.get("", ""))
            else:
                rows.append(
                    {
                        f.name: cells.get(f.name) == "ya"
                        if f.type == "boolean"
                        else cells.get(f.name, "")
                        for f in spec.item_fields
                    }
                )
        return rows

    @staticmethod
    def _blank(spec: FieldSpec, row: Any) -> bool:
        if not spec.item_fields:
            return not str(row).strip()
        return all(
            not str(row.get(f.name, "")).strip() for f in spec.item_fields if f.type != "boolean"
        )

    @staticmethod
    def _item(spec: FieldSpec, row: Any) -> Any:
        if not spec.item_fields:
            return row.strip()
        return {
            name: value.strip() if isinstance(value, str) else value for name, value in row.items()
        }


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _shown(value: object) -> str:
    return "" if value is None else str(value)


async def _signer_choices(signers: SignersDep, caller: Caller) -> list[Signer]:
    """The signers a role of the caller's document may be bound to (as GET /signers shows
    them, approved enrolments only)."""
    return [s for s in await signers.visible(caller) if s.status in _BINDABLE]


async def _verifikator_choices(accounts: AccountsDep, caller: Caller) -> list[User]:
    """The verifikator accounts of the caller's units, whom a document may name."""
    return [
        user
        for user in await accounts.users()
        if user.role == Role.VERIFIKATOR
        and not user.disabled
        and any(caller.in_unit(unit_id) for unit_id in user.unit_ids)
    ]


def _paraf_chosen(form: FormData) -> list[str]:
    """The verifikator chosen for the paraf steps, in order; steps left empty are left out."""
    picked = (_text(form.get(f"paraf.{n}")) for n in range(MAX_PARAF_STEPS))
    return [user_id for user_id in picked if user_id]


async def _unit_choices(accounts: AccountsDep, caller: Caller) -> list[Any]:
    """The units to choose from: none when the caller has one (the document is theirs)."""
    if not caller.is_admin and len(caller.unit_ids) < 2:
        return []
    return [u for u in await accounts.units() if caller.in_unit(u.id)]


@dataclass(frozen=True)
class ListUpload:
    """What a file uploaded into a list field of the form gave: how many rows it had, how many
    went into the list, and the problems of the rows left out (or of the whole file)."""

    field: str
    filename: str
    rows: int
    items: int
    problems: Sequence[RowProblem]


@dataclass
class FormParts:
    """What drawing a document or batch form takes, received once per route."""

    request: Request
    office: OfficeDep
    signers: SignersDep
    accounts: AccountsDep
    settings: SettingsDep
    emeterai: EMeteraiDep


FormPartsDep = Annotated[FormParts, Depends(FormParts)]


def _unoffered(manifest: TemplateManifest, emeterai: EMeteraiStep) -> set[str]:
    """The fields the form leaves out: the e-Meterai option where no provider is configured."""
    if manifest.emeterai is None or emeterai.configured:
        return set()
    return {manifest.emeterai.field}


async def _form_page(
    parts: FormParts,
    caller: Caller,
    template: Template,
    values: dict[str, Any],
    chosen: Mapping[str, str],
    *,
    action: str,
    document_id: str | None = None,
    unit_id: str = "",
    paraf: Sequence[str] = (),
    errors: Mapping[str, list[str]] | None = None,
    uploaded: ListUpload | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    manifest = template.manifest
    # A template's own steps, or room for up to three where only the document names them.
    steps = manifest.paraf.steps if manifest.paraf else [""] * PARAF_FORM_STEPS
    return parts.office.page(
        parts.request,
        caller,
        "op_formulir.html",
        status_code,
        manifest=template.manifest,
        uploaded=uploaded,
        # Without a provider the template offers no e-Meterai: its option is not shown.
        hidden_fields=_unoffered(template.manifest, parts.emeterai),
        values=values,
        chosen=chosen,
        signers=await _signer_choices(parts.signers, caller),
        units=[] if document_id else await _unit_choices(parts.accounts, caller),
        unit_id=unit_id,
        verifikator=await _verifikator_choices(parts.accounts, caller),
        paraf_steps=steps,
        paraf=list(paraf),
        pangkat=PANGKAT,
        nomor_types=_NOMOR_TYPES,
        errors=errors or {},
        action=action,
        document_id=document_id,
    )


def _chosen(manifest: TemplateManifest, form: FormData) -> dict[str, str]:
    """The signer chosen for each role; a role left on "sesuai NIP" is left out."""
    chosen = {}
    for role in manifest.roles:
        picked = _text(form.get(f"signers.{role.name}"))
        if picked:
            chosen[role.name] = picked
    return chosen


@router.get("/dokumen/baru/{template_id}")
async def new_document_form(
    caller: StaffCaller,
    parts: FormPartsDep,
    catalogue: CatalogueDep,
    template_id: TemplateId,
) -> HTMLResponse:
    """The form of the template's latest version, empty (defaults filled)."""
    try:
        template = catalogue.latest(template_id)
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)
    defaults = {f.name: f.default for f in template.manifest.fields if f.default is not None}
    values = DocumentForm(template.manifest).values_of(defaults)
    return await _form_page(
        parts,
        caller,
        template,
        values,
        {},
        action=f"/dokumen/baru/{template_id}",
    )


@router.post("/dokumen/baru/{template_id}")
async def new_document(
    caller: StaffCaller,
    parts: FormPartsDep,
    catalogue: CatalogueDep,
    drafts: DraftsDep,
    template_id: TemplateId,
) -> Response:
    """Save the form as a draft; a row added or removed shows the form again, unsaved."""
    try:
        template = catalogue.latest(template_id)
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)
    form = await parts.request.form()
    unit_id = _text(form.get("unit_id"))

    async def save(data: dict[str, Any], chosen: dict[str, str], paraf: list[str]) -> str:
        return await drafts.save(caller, template.id, data, chosen, unit_id or None, paraf)

    page: dict[str, Any] = {"action": f"/dokumen/baru/{template_id}", "unit_id": unit_id}
    return await _submitted(
        parts,
        caller,
        template,
        form,
        page,
        save,
        "Draf tersimpan",
    )


async def _submitted(
    parts: FormParts,
    caller: Caller,
    template: Template,
    form: FormData,
    page: dict[str, Any],
    save: Callable[[dict[str, Any], dict[str, str], list[str]], Awaitable[str]],
    message: str,
) -> Response:
    """A submitted document form: a row added or removed, or a list filled from a file, shows
    it again, unsaved; otherwise ``save`` keeps it (its problems shown beside their fields) and
    the draft's page follows."""
    reader = DocumentForm(template.manifest)
    data, values = reader.read(form)
    chosen = _chosen(template.manifest, form)
    paraf = _paraf_chosen(form)
    action = _text(form.get("aksi"))
    if reader.change_rows(values, action):
        return await _form_page(parts, caller, template, values, chosen, paraf=paraf, **page)
    if action.startswith("unggah:"):
        limit = parts.settings.max_upload_bytes
        uploaded, errors, status = await _list_from_file(limit, template, form, reader, values)
        return await _form_page(
            parts,
            caller,
            template,
            values,
            chosen,
            paraf=paraf,
            errors=errors,
            uploaded=uploaded,
            status_code=status,
            **page,
        )
    try:
        document_id = await save(data, chosen, paraf)
    except DataInvalid as exc:
        return await _form_page(
            parts,
            caller,
            template,
            reader.compacted(values),
            chosen,
            paraf=paraf,
            errors=_problems_by_field(exc.problems),
            status_code=422,
            **page,
        )
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)
    return RedirectResponse(f"/dokumen/{document_id}?pesan={quote(message)}", status_code=303)


async def _list_from_file(
    limit: int, template: Template, form: FormData, reader: DocumentForm, values: dict[str, Any]
) -> tuple[ListUpload, dict[str, list[str]], int]:
    """The list named by the form's "Unggah daftar" button filled in ``values`` from the file of
    its control, as POST /api/v1/templates/{id}/lists/{field} reads it: the rows without
    problems in the list, the others' problems by row and column; what was typed stays. Also
    the errors by form field and the status code of the page."""
    name = _text(form.get("aksi")).removeprefix("unggah:")
    control = f"unggah.{name}"
    upload = form.get(control)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return ListUpload(name, "", 0, 0, []), {control: ["pilih berkas CSV atau XLSX"]}, 422
    content = await upload.read(limit + 1)  # one byte past the limit is enough to refuse it
    try:
        refuse_oversized("Daftar", content, limit)
        checked = await checked_list(template, name, upload.filename, content)
    except DocgenError as exc:
        problems = exc.problems if isinstance(exc, StaffListInvalid) else []
        refused = ListUpload(name, upload.filename, 0, 0, problems)
        return refused, {control: [exc.detail]}, exc.status_code
    reader.fill_list(values, name, checked.items)
    filled = ListUpload(name, upload.filename, checked.rows, len(checked.items), checked.problems)
    return filled, {}, 200


async def _draft_template(
    session: SessionDep, catalogue: CatalogueDep, caller: Caller, document_id: str
) -> tuple[Document, Template]:
    """The draft (as GET /documents/{id} reads it) and the template version it is checked
    against. Raises NotFound, Conflict (409) for an issued document."""
    document = await readable_document(session, caller, document_id)
    if document.status != DocumentStatus.DRAF:
        raise Conflict("Dokumen ini sudah diterbitkan; hanya draf yang dapat diubah")
    return document, catalogue.latest(document.template_id)


@router.get("/dokumen/{document_id}/ubah")
async def change_draft_form(
    caller: StaffCaller,
    parts: FormPartsDep,
    session: SessionDep,
    catalogue: CatalogueDep,
    document_id: str,
) -> HTMLResponse:
    """The form filled from the draft."""
    try:
        document, template = await _draft_template(session, catalogue, caller, document_id)
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)
    return await _form_page(
        parts,
        caller,
        template,
        DocumentForm(template.manifest).values_of(document.data),
        document.chosen_signers or {},
        action=f"/dokumen/{document_id}/ubah",
        document_id=document_id,
        paraf=document.chosen_paraf or [],
    )


@router.post("/dokumen/{document_id}/ubah")
async def change_draft(
    caller: StaffCaller,
    parts: FormPartsDep,
    session: SessionDep,
    catalogue: CatalogueDep,
    drafts: DraftsDep,
    document_id: str,
) -> Response:
    """Save the draft's new data (as PUT /documents/{id})."""
    try:
        _, template = await _draft_template(session, catalogue, caller, document_id)
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)

    async def save(data: dict[str, Any], chosen: dict[str, str], paraf: list[str]) -> str:
        await drafts.update(caller, document_id, data, chosen, paraf)
        return document_id

    page: dict[str, Any] = {"action": f"/dokumen/{document_id}/ubah", "document_id": document_id}
    return await _submitted(
        parts,
        caller,
        template,
        await parts.request.form(),
        page,
        save,
        "Draf diperbarui",
    )


@router.get("/batch")
async def batches_page(
    caller: ReaderCaller,
    request: Request,
    office: OfficeDep,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> HTMLResponse:
    """The batches of the caller's units, newest first, a page at a time."""
    asked = {k: v for k, v in request.query_params.items() if k in PageQuery.model_fields}
    try:
        query = PageQuery.model_validate(asked)
    except ValidationError:
        query = PageQuery()
    listed, total = await list_batches(session, caller, query)
    return office.page(
        request,
        caller,
        "op_batch.html",
        items=[BatchItemOut.of(batch) for batch in listed],
        zones=await zones_of(session, [item.batch.unit_id for item in listed]),
        titles={template.id: template.manifest.title for template in catalogue.all_latest()},
        labels=BATCH_LABELS,
        staff=caller.role in (Role.ADMIN, Role.OPERATOR),
        **_paging({}, query, total),
    )


@router.get("/batch/baru")
async def choose_batch_template(
    caller: StaffCaller, request: Request, office: OfficeDep, catalogue: CatalogueDep
) -> HTMLResponse:
    """Which template the batch's documents are made from."""
    return office.page(
        request,
        caller,
        "op_templat.html",
        templates=catalogue.all_latest(),
        action="/batch/baru",
        heading="Batch baru",
    )


async def _batch_form(
    parts: FormParts,
    caller: Caller,
    template: Template,
    *,
    chosen: Mapping[str, str] | None = None,
    unit_id: str = "",
    dry_run: DryRunOut | None = None,
    errors: Mapping[str, list[str]] | None = None,
    file_problems: Sequence[Any] = (),
    status_code: int = 200,
) -> HTMLResponse:
    return parts.office.page(
        parts.request,
        caller,
        "op_batch_baru.html",
        status_code,
        manifest=template.manifest,
        signers=await _signer_choices(parts.signers, caller),
        units=await _unit_choices(parts.accounts, caller),
        chosen=chosen or {},
        unit_id=unit_id,
        dry_run=dry_run,
        errors=errors or {},
        file_problems=file_problems,
    )


@router.get("/batch/baru/{template_id}")
async def new_batch_form(
    caller: StaffCaller,
    parts: FormPartsDep,
    catalogue: CatalogueDep,
    template_id: TemplateId,
) -> HTMLResponse:
    """The upload form of a template: the file, and optionally a signer for each role."""
    try:
        template = catalogue.latest(template_id)
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)
    return await _batch_form(parts, caller, template)


@router.post("/batch/baru/{template_id}")
async def new_batch(
    caller: StaffCaller,
    parts: FormPartsDep,
    catalogue: CatalogueDep,
    batches: BatchesDep,
    settings: SettingsDep,
    template_id: TemplateId,
) -> Response:
    """A dry run first: its problems shown, nothing created. Without problems, or when the
    operator goes on without the rows at fault, the batch is accepted (as POST /batches)."""
    try:
        template = catalogue.latest(template_id)
    except DocgenError as exc:
        return _failure(parts.office, parts.request, caller, exc)
    form = await parts.request.form()
    chosen = _chosen(template.manifest, form)
    unit_id = _text(form.get("unit_id"))
    upload = form.get("file")
    page: dict[str, Any] = {"chosen": chosen, "unit_id": unit_id}
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = {"file": ["pilih berkas CSV atau XLSX"]}
        return await _batch_form(
            parts,
            caller,
            template,
            errors=errors,
            status_code=422,
            **page,
        )
    # One byte past the limit is enough to refuse it (as read_upload).
    content = await upload.read(settings.max_upload_bytes + 1)
    filename = upload.filename
    try:
        refuse_oversized("Daftar", content, settings.max_upload_bytes)
        if form.get("lanjutkan") != "ya":
            checked = await batches.dry_run(
                caller, template.id, filename, content, chosen, unit_id or None
            )
            if checked.invalid:
                return await _batch_form(
                    parts,
                    caller,
                    template,
                    dry_run=checked,
                    **page,
                )
        batch_id = await batches.accept(
            caller, template.id, filename, content, chosen, unit_id or None
        )
    except DataInvalid as exc:
        return await _batch_form(
            parts,
            caller,
            template,
            errors=_problems_by_field(exc.problems),
            status_code=422,
            **page,
        )
    except DocgenError as exc:
        problems = getattr(exc, "problems", [])
        return await _batch_form(
            parts,
            caller,
            template,
            errors={"file": [exc.detail]},
            file_problems=problems,
            status_code=exc.status_code,
            **page,
        )
    return RedirectResponse(f"/batch/{batch_id}?pesan={quote('Batch diterima')}", status_code=303)


@router.get("/batch/{batch_id}")
async def batch_page(
    caller: AnyCaller,
    request: Request,
    office: OfficeDep,
    session: SessionDep,
    links: LinksDep,
    catalogue: CatalogueDep,
    batch_id: str,
) -> HTMLResponse:
    """A batch's progress (live), its rows' problems, bulk signings, documents and the ZIP."""
    try:
        unit_id = (await readable_batch(session, caller, batch_id)).unit_id
        batch = BatchOut.of(await batches_repository.state(session, batch_id), links)
        manifest = catalogue.get(batch.template, batch.template_version).manifest
    except DocgenError as exc:
        return _failure(office, request, caller, exc)
    return office.page(
        request,
        caller,
        "op_batch_detail.html",
        batch=batch,
        template_title=manifest.title,
        zona=await zone_of(session, unit_id),
        role_labels={role.name: role.label for role in manifest.roles},
        labels=BATCH_LABELS,
        signing_labels=SIGNING_LABELS,
        statuses=STATUS_LABELS,
        running=batch.status != BatchStatus.SELESAI
        or any(s.status == SigningStatus.BERJALAN for s in batch.signings),
        reader=caller.role in (Role.ADMIN, Role.OPERATOR, Role.AUDITOR),
    )
