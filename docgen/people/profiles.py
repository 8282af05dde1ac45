"""Unit profiles: what a unit's documents take from it (kop lines, address, place, time zone,
numbering codes per template) and its emblem.

Nothing is cached: a document reads its unit's profile from the registry when it is made, so
a change on one instance is in effect on every instance at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from docgen.errors import DataInvalid, FieldProblem, NotFound
from docgen.kit.limits import refuse_oversized
from docgen.people.emblem import MAX_EMBLEM_BYTES, emblem_png, emblem_type
from docgen.people.schemas import UnitProfileIn
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import Unit, UnitEmblem, UnitProfile, utcnow
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.kop import Kop
from docgen.templating.manifest import NumberingSpec, TemplateManifest
from docgen.templating.validation import is_empty
from signing.waktu import Zona

__all__ = [
    "IssuingUnit",
    "UnitProfiles",
    "issuing_unit",
    "kop_of_unit",
    "numbering_of",
    "unit_kop",
    "with_unit_place",
    "zone_of",
    "zones_of",
]


@dataclass(frozen=True)
class IssuingUnit:
    """The unit a document is made for, as its documents read it: its code and its profile
    (None while an admin has written none)."""

    id: str
    name: str
    code: str
    profile: UnitProfile | None

    def numbering(self, manifest: TemplateManifest) -> NumberingSpec:
        """See :func:`numbering_of`."""
        return numbering_of(manifest, self.profile, self.code)


async def issuing_unit(session: AsyncSession, unit_id: str) -> IssuingUnit:
    """The unit ``unit_id`` with its profile. Raises NotFound (no such unit)."""
    unit = await _unit(session, unit_id)
    profile = await session.get(UnitProfile, unit_id)
    return IssuingUnit(unit.id, unit.name, unit.code, profile)


def numbering_of(
    manifest: TemplateManifest, profile: UnitProfile | None, unit_code: str
) -> NumberingSpec:
    """The numbering of ``manifest``'s documents for a unit: the profile's ``kode`` and
    ``unit`` for this template where it has them; else the manifest's ``kode`` and, for the
    unit part, the manifest's ``unit`` where a template still names one, else the unit's own
    code (``unit_code``). The sequence runs per ``kode``, unit and year, so every unit has its
    own sequence."""
    codes = (profile.numbering if profile else {}).get(manifest.id)
    if codes:
        update = {"kode": codes["kode"], "unit": codes["unit"]}
    else:
        update = {"unit": manifest.numbering.unit or unit_code}
    return manifest.numbering.model_copy(update=update)


async def kop_of_unit(session: AsyncSession, unit_id: str | None) -> Kop:
    """The kop of a document of ``unit_id`` (see :func:`unit_kop`); a document of no unit (made
    before units) has a kop of no unit's. Raises NotFound (no such unit)."""
    if unit_id is None:
        return Kop()
    return await unit_kop(session, await issuing_unit(session, unit_id))


async def unit_kop(session: AsyncSession, unit: IssuingUnit) -> Kop:
    """The kop of ``unit``'s documents: its profile's lines above its name, its name as the
    profile writes it (else its registered name, upper-cased), its address, and its emblem as
    a PNG (an SVG drawn in a worker thread). A unit without a profile has its name only."""
    profile = unit.profile
    emblem = await session.get(UnitEmblem, unit.id, options=[undefer(UnitEmblem.content)])
    png = None
    if emblem is not None:
        png = await anyio.to_thread.run_sync(emblem_png, emblem.content, emblem.content_type)
    return Kop(
        lines=tuple(profile.kop_lines) if profile else (),
        name=tuple((profile.name_lines if profile else None) or [unit.name.upper()]),
        address=profile.address if profile else "",
        emblem_png=png,
    )


def with_unit_place(
    manifest: TemplateManifest, data: Mapping[str, Any], profile: UnitProfile | None
) -> Mapping[str, Any]:
    """``data`` with the unit's place in the template's ``place_field`` where the data leaves
    it empty (and the unit has a place); otherwise ``data`` itself."""
    field = manifest.place_field
    if field is None or profile is None or not profile.place or not is_empty(data.get(field)):
        return data
    return {**data, field: profile.place}


async def zones_of(session: AsyncSession, unit_ids: Iterable[str | None]) -> dict[str, Zona]:
    """The time zone of each unit of ``unit_ids`` that has a profile (one query); a unit
    without one (or no unit at all) writes its times in WIB: look it up with
    ``.get(unit_id, Zona.WIB)``. Read when a time is shown, so a change of a unit's zone is in
    effect on every instance at once."""
    wanted = {unit_id for unit_id in unit_ids if unit_id}
    if not wanted:
        return {}
    rows = await session.execute(
        select(UnitProfile.unit_id, UnitProfile.timezone).where(UnitProfile.unit_id.in_(wanted))
    )
    return {unit_id: Zona(timezone) for unit_id, timezone in rows.tuples()}


async def zone_of(session: AsyncSession, unit_id: str | None) -> Zona:
    """The time zone of ``unit_id``'s times: its profile's, WIB without one (or no unit)."""
    return (await zones_of(session, [unit_id])).get(unit_id or "", Zona.WIB)


class UnitProfiles:
    """Reads and writes unit profiles and emblems (the admin's), checked against the
    templates of ``catalogue``."""

    def __init__(self, db: Database, catalogue: TemplateCatalogue) -> None:
        self.db = db
        self.catalogue = catalogue

    async def profile(self, unit_id: str) -> tuple[UnitProfileIn, UnitEmblem | None]:
        """The unit's profile (the defaults while it has none) and its emblem's description
        (without the bytes). Raises NotFound (no such unit)."""
        async with self.db.session() as session:
            await _unit(session, unit_id)
            row = await session.get(UnitProfile, unit_id)
            emblem = await session.get(UnitEmblem, unit_id)
        profile = UnitProfileIn.model_validate(row, from_attributes=True) if row else None
        return profile or UnitProfileIn(), emblem

    async def set_profile(self, unit_id: str, profile: UnitProfileIn) -> None:
        """Replace the unit's profile, with an audit row naming the caller.

        Raises NotFound (no such unit), DataInvalid (422: a template id in ``numbering`` that
        no template has, or codes that make numbers the template's pattern cannot keep).
        """
        self._check_numbering(profile)
        values = profile.model_dump(mode="json")
        async with self.db.writing() as session:
            await _unit(session, unit_id)
            row = await session.get(UnitProfile, unit_id)
            if row is None:
                session.add(UnitProfile(unit_id=unit_id, **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                row.updated_at = utcnow()
            await audit.record(session, "unit.profile_changed", "unit", unit_id, **values)
            await session.commit()

    def _check_numbering(self, profile: UnitProfileIn) -> None:
        problems = []
        for template_id, codes in profile.numbering.items():
            field = f"numbering.{template_id}"
            versions = self.catalogue.versions(template_id)
            if not versions:
                problems.append(FieldProblem(field, f"templat {template_id!r} tidak dikenal"))
                continue
            spec = self.catalogue.latest(template_id).manifest.numbering
            try:
                NumberingSpec.model_validate(
                    {**spec.model_dump(), "kode": codes.kode, "unit": codes.unit}
                )
            except ValidationError:
                problems.append(
                    FieldProblem(field, "kode dan unit ini membuat nomor yang terlalu panjang")
                )
        if problems:
            raise DataInvalid(problems)

    async def set_emblem(self, unit_id: str, content: bytes) -> UnitEmblem:
        """Replace the unit's emblem with ``content`` (PNG or SVG, checked), with an audit row
        naming the caller; returns its description.

        Raises NotFound (no such unit), UploadTooLarge (413: over 512 KiB), DataInvalid (422:
        not a readable PNG, or an SVG that could run or fetch something).
        """
        refuse_oversized("Lambang", content, MAX_EMBLEM_BYTES)
        content_type = await anyio.to_thread.run_sync(emblem_type, content)
        sha256 = hashlib.sha256(content).hexdigest()
        async with self.db.writing() as session:
            await _unit(session, unit_id)
            emblem = await session.get(UnitEmblem, unit_id)
            if emblem is None:
                emblem = UnitEmblem(unit_id=unit_id)
                session.add(emblem)
            emblem.content_type = content_type
            emblem.content = content
            emblem.size = len(content)
            emblem.sha256 = sha256
            emblem.updated_at = utcnow()
            await audit.record(
                session,
                "unit.emblem_changed",
                "unit",
                unit_id,
                content_type=content_type,
                size=len(content),
                sha256=sha256,
            )
            await session.commit()
        return emblem

    async def emblem(self, unit_id: str) -> UnitEmblem:
        """The unit's emblem with its bytes. Raises NotFound (no such unit, or no emblem)."""
        async with self.db.session() as session:
            emblem = await session.get(UnitEmblem, unit_id, options=[undefer(UnitEmblem.content)])
        if emblem is None:
            raise NotFound("Unit ini belum memiliki lambang")
        return emblem


async def _unit(session: AsyncSession, unit_id: str) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("Unit tidak ditemukan")
    return unit
