"""What routes receive: each part the service was built from, through ``Annotated`` aliases
(``SessionDep``, ``CatalogueDep``, ...), never the whole of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.batches.service import BatchService
from docgen.batches.signing import BulkSignings
from docgen.documents.drafts import Drafts
from docgen.documents.service import DocumentService
from docgen.emeterai.service import EMeteraiStep
from docgen.kit.links import Links
from docgen.kit.sandbox import Sandbox
from docgen.paraf.service import Paraf
from docgen.people.profiles import UnitProfiles
from docgen.people.service import Accounts
from docgen.registry.db import Database
from docgen.settings import Settings
from docgen.signers.revocation import RevocationList
from docgen.signers.service import Signers
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.upload import TemplateUploads
from docgen.verification.pages import Pages
from docgen.verification.service import PublicViews, UploadChecks
from docgen.web.render import Office
from docgen.wiring import Parts
from signing.pki import CertificateAuthority
from storage import ObjectStore

__all__ = [
    "AccountsDep",
    "BatchesDep",
    "BulkSigningsDep",
    "CaDep",
    "CatalogueDep",
    "DatabaseDep",
    "DocumentsDep",
    "EMeteraiDep",
    "DraftsDep",
    "LinksDep",
    "OfficeDep",
    "PagesDep",
    "ParafDep",
    "ProfilesDep",
    "PublicViewsDep",
    "RevocationsDep",
    "SandboxDep",
    "SessionDep",
    "SettingsDep",
    "SignersDep",
    "StoreDep",
    "TemplateUploadsDep",
    "UploadChecksDep",
]


# Every provider here is ``async def``: FastAPI runs a plain ``def`` dependency in its thread
# pool, a thread handoff per provider per request (the public verification by code went through
# four; under load they, not the work, set its rate).
async def _parts(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


PartsDep = Annotated[Parts, Depends(_parts)]


async def _settings(parts: PartsDep) -> Settings:
    return parts.settings


async def _database(parts: PartsDep) -> Database:
    return parts.db


async def _session(parts: PartsDep) -> AsyncIterator[AsyncSession]:
    async with parts.db.session() as session:
        yield session


async def _store(parts: PartsDep) -> ObjectStore:
    return parts.store


async def _catalogue(parts: PartsDep) -> TemplateCatalogue:
    return parts.catalogue


async def _sandbox(parts: PartsDep) -> Sandbox:
    return parts.sandbox


async def _template_uploads(parts: PartsDep) -> TemplateUploads:
    return TemplateUploads(
        parts.catalogue, parts.db, parts.store, parts.sandbox, parts.settings.max_upload_bytes
    )


async def _links(parts: PartsDep) -> Links:
    return parts.links


async def _ca(parts: PartsDep) -> CertificateAuthority:
    return parts.ca


async def _revocations(parts: PartsDep) -> RevocationList:
    return parts.revocations


async def _accounts(parts: PartsDep) -> Accounts:
    return parts.accounts


async def _profiles(parts: PartsDep) -> UnitProfiles:
    return parts.profiles


async def _signers(parts: PartsDep) -> Signers:
    return parts.signers


async def _upload_checks(parts: PartsDep) -> UploadChecks:
    return parts.upload_checks


async def _public_views(parts: PartsDep) -> PublicViews:
    return parts.public_views


async def _documents(parts: PartsDep) -> DocumentService:
    return parts.documents


async def _emeterai(parts: PartsDep) -> EMeteraiStep:
    return parts.emeterai


async def _drafts(parts: PartsDep) -> Drafts:
    return parts.drafts


async def _paraf(parts: PartsDep) -> Paraf:
    return parts.paraf


async def _batches(parts: PartsDep) -> BatchService:
    return parts.batches


async def _bulk_signings(parts: PartsDep) -> BulkSignings:
    return parts.bulk_signings


async def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
SessionDep = Annotated[AsyncSession, Depends(_session)]
StoreDep = Annotated[ObjectStore, Depends(_store)]
CatalogueDep = Annotated[TemplateCatalogue, Depends(_catalogue)]
SandboxDep = Annotated[Sandbox, Depends(_sandbox)]
TemplateUploadsDep = Annotated[TemplateUploads, Depends(_template_uploads)]
LinksDep = Annotated[Links, Depends(_links)]
CaDep = Annotated[CertificateAuthority, Depends(_ca)]
RevocationsDep = Annotated[RevocationList, Depends(_revocations)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
ProfilesDep = Annotated[UnitProfiles, Depends(_profiles)]
SignersDep = Annotated[Signers, Depends(_signers)]
UploadChecksDep = Annotated[UploadChecks, Depends(_upload_checks)]
PublicViewsDep = Annotated[PublicViews, Depends(_public_views)]
DocumentsDep = Annotated[DocumentService, Depends(_documents)]
EMeteraiDep = Annotated[EMeteraiStep, Depends(_emeterai)]
DraftsDep = Annotated[Drafts, Depends(_drafts)]
ParafDep = Annotated[Paraf, Depends(_paraf)]
BatchesDep = Annotated[BatchService, Depends(_batches)]
BulkSigningsDep = Annotated[BulkSignings, Depends(_bulk_signings)]
PagesDep = Annotated[Pages, Depends(_pages)]


async def _office(request: Request) -> Office:
    office: Office = request.app.state.office
    return office


OfficeDep = Annotated[Office, Depends(_office)]
