"""What a converter node answers (``POST /api/v1/convert``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConvertedOut", "DocumentOut", "NodeReadyOut"]


class DocumentOut(BaseModel):
    """One document of the request: its PDF, or why LibreOffice could not convert it."""

    model_config = ConfigDict(extra="forbid")

    pdf: str | None = Field(default=None, description="the PDF, base64")
    error: str | None = Field(default=None, description="why it was not converted")


class ConvertedOut(BaseModel):
    """``documents[i]`` answers the i-th DOCX of the request."""

    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentOut]


class NodeReadyOut(BaseModel):
    status: str = Field(description='"siap"')
