"""What goes out of the templates' routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from docgen.batches.schemas import RowProblemOut
from docgen.kit.types import Instant
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.lists import CheckedList
from docgen.templating.manifest import FieldSpec, SignerRole, Template

__all__ = ["ListOut", "TemplateOut"]


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


class ListOut(BaseModel):
    """What a CSV or XLSX holds for a list field: the items of its good rows, as the field takes
    them in a document's ``data``, and the problems of the others."""

    items: list[Any] = Field(
        description="one per row without problems, in row order: a record of the item fields "
        "(NIP as 18 digits, pangkat as its golongan, dates as YYYY-MM-DD), or a text"
    )
    problems: list[RowProblemOut] = Field(
        description="each problem at its row (the header is 1) and column; its row gives no item"
    )
    template: str
    template_version: int
    field: str
    rows: int = Field(description="the rows read, entirely empty ones skipped")

    @classmethod
    def of(cls, template: Template, checked: CheckedList) -> ListOut:
        return cls(
            items=checked.items,
            problems=[RowProblemOut(**p.view()) for p in checked.problems],
            template=template.id,
            template_version=template.version,
            field=checked.field.name,
            rows=checked.rows,
        )
