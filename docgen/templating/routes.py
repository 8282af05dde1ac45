"""Templates: the latest version of each, every version's DOCX, uploads of new versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from docgen.batches.lists import checked_list, list_field, template_csv
from docgen.batches.schemas import ListOut
from docgen.deps import CatalogueDep, SettingsDep, TemplateUploadsDep
from docgen.errors import error_responses
from docgen.kit.limits import read_upload, refuse_oversized
from docgen.people.policies import AdminCaller, AnyCaller, StaffCaller
from docgen.pipeline.store import DOCX_TYPE
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import Template
from docgen.templating.schemas import TemplateOut

router = APIRouter(prefix="/templates", tags=["templat"], responses=error_responses(401, 403))


@router.get("", response_model=list[TemplateOut])
async def list_templates(_: AnyCaller, catalogue: CatalogueDep) -> list[TemplateOut]:
    """The latest version of each template."""
    return [TemplateOut.of(t, catalogue) for t in catalogue.all_latest()]


@router.post(
    "",
    status_code=201,
    response_model=TemplateOut,
    responses=error_responses(403, 409, 413, 422, 503),
)
async def upload(
    _: AdminCaller,
    catalogue: CatalogueDep,
    uploads: TemplateUploadsDep,
    manifest: Annotated[UploadFile, File(description="manifest.toml (UTF-8)")],
    docx: Annotated[UploadFile, File(description="the template DOCX")],
) -> TemplateOut:
    """Store a template as the next version of its id.

    The server assigns the version: the manifest's `version` and `docx` keys are optional and
    ignored. Nothing is stored unless every check passes; 422 lists each problem with its place.
    """
    template = await uploads.receive(manifest, docx)
    return TemplateOut.of(template, catalogue)


@router.get("/{template_id}", response_model=TemplateOut, responses=error_responses(404))
async def get_template(_: AnyCaller, catalogue: CatalogueDep, template_id: str) -> TemplateOut:
    """The latest version, with the numbers of all versions."""
    return TemplateOut.of(catalogue.latest(template_id), catalogue)


@router.get(
    "/{template_id}/versions/{version}/docx",
    response_class=Response,
    responses={
        200: {"content": {DOCX_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404),
    },
)
async def template_docx(
    _: AnyCaller, catalogue: CatalogueDep, template_id: str, version: int
) -> Response:
    """The DOCX of one version, as uploaded (or as in its folder)."""
    template = catalogue.get(template_id, version)
    return Response(
        template.docx_bytes,
        media_type=DOCX_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{template_id}-v{version}.docx"',
            "X-Content-SHA256": template.sha256,
        },
    )


VersionQuery = Annotated[
    int | None, Query(ge=1, description="the template's version; the latest when left out")
]


def _version(catalogue: TemplateCatalogue, template_id: str, version: int | None) -> Template:
    """Raises TemplateNotFound: no such template or version."""
    if version is None:
        return catalogue.latest(template_id)
    return catalogue.get(template_id, version)


@router.post(
    "/{template_id}/lists/{field}",
    response_model=ListOut,
    responses=error_responses(404, 413, 422),
)
async def list_from_file(
    _: StaffCaller,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    template_id: str,
    field: str,
    file: Annotated[
        UploadFile, File(description="CSV or XLSX, one item per row; header row = item fields")
    ],
    template_version: VersionQuery = None,
) -> ListOut:
    """The list field ``field`` as a file fills it: ``items`` are exactly what the field takes in
    ``data`` (checked as a document checks them), ``problems`` name the row and column of every
    row left out, as a batch's dry run does. Columns are the item fields' names or labels
    (``nama``, ``NIP``, or ``peserta.nip`` as in bulk). More rows than the field's
    ``max_items``, or a file that cannot be read as a whole: 422. Nothing is stored."""
    content = await read_upload(file, settings.max_upload_bytes)
    refuse_oversized("Daftar", content, settings.max_upload_bytes)
    template = _version(catalogue, template_id, template_version)
    checked = await checked_list(template, field, file.filename or "", content)
    return ListOut.of(template, checked)


@router.get(
    "/{template_id}/lists/{field}",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(404, 422),
    },
)
async def list_template(
    _: StaffCaller,
    catalogue: CatalogueDep,
    template_id: str,
    field: str,
    template_version: VersionQuery = None,
) -> Response:
    """An empty list to fill (CSV, ";"-separated as Indonesian Excel saves it): the header row
    of the list field's columns."""
    template = _version(catalogue, template_id, template_version)
    spec = list_field(template.manifest, field)
    return Response(
        template_csv(spec),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{template_id}-{spec.name}.csv"'},
    )
