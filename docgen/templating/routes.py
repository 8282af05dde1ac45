"""Templates: the latest version of each, every version's DOCX, uploads of new versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response

from docgen.deps import CatalogueDep, TemplateUploadsDep
from docgen.errors import error_responses
from docgen.people.policies import AdminCaller, AnyCaller
from docgen.pipeline.store import DOCX_TYPE
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
