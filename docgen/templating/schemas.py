"""What goes out of the templates' routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from docgen.kit.types import Instant
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import FieldSpec, SignerRole, Template

__all__ = ["TemplateOut"]


class TemplateOut(BaseModel):
    """A template version: what its documents need (fields), who signs them (roles)."""

    id: str
    version: int
    title: str
    type: str
    sha256: str = Field(description="of the DOCX")
    fields: list[FieldSpec]
    roles: list[SignerRole] = Field(description="in signing order")
    versions: list[int] = Field(description="every version of this template, ascending")
    created_at: Instant | None = Field(description="when it was uploaded; none for folders")

    @classmethod
    def of(cls, template: Template, catalogue: TemplateCatalogue) -> TemplateOut:
        manifest = template.manifest
        return cls(
            id=manifest.id,
            version=manifest.version,
            title=manifest.title,
            type=manifest.document_type,
            sha256=template.sha256,
            fields=manifest.fields,
            roles=manifest.roles_in_order,
            versions=catalogue.versions(manifest.id),
            created_at=template.created_at,
        )
