"""Templates: the latest version of each, every version's DOCX, uploads of new versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response

from docgen.deps import CatalogueDep, DatabaseDep, SandboxDep, SettingsDep, StoreDep
from docgen.errors import error_responses
from docgen.kit.limits import read_upload
from docgen.people.policies import AdminCaller, AnyCaller
from docgen.pipeline.store import DOCX_TYPE
from docgen.templating.schemas import TemplateOut
from docgen.templating.upload import upload_template

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
    db: DatabaseDep,
    store: StoreDep,
    sandbox: SandboxDep,
    settings: SettingsDep,
    manifest: Annotated[UploadFile, File(description="manifest.toml (UTF-8)")],
    docx: Annotated[UploadFile, File(description="the template DOCX")],
) -> TemplateOut:
    """Store a template as the next version of its id.

    The server assigns the version: the manifest's `version` and `docx` keys are optional and
    ignored. Nothing is stored unless every check passes; 422 lists each problem with its place.
    """
    limit = settings.max_upload_bytes
    template = await upload_template(
        await read_upload(manifest, limit),
        await read_upload(docx, limit),
        catalogue=catalogue,
        db=db,
        store=store,
        sandbox=sandbox,
        max_docx_bytes=limit,
    )
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
