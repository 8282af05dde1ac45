"""Document numbers: a per-scope, per-year sequence rendered from the template's pattern."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.indonesian import bulan_romawi
from docgen.manifest import NumberingSpec


async def next_in_sequence(session: AsyncSession, scope: str) -> int:
    """Atomically take the next number of ``scope`` (an upsert, safe under concurrency)."""
    result = await session.execute(
        text(
            "INSERT INTO number_sequences (scope, last) VALUES (:scope, 1) "
            "ON CONFLICT (scope) DO UPDATE SET last = number_sequences.last + 1 "
            "RETURNING last"
        ),
        {"scope": scope},
    )
    return int(result.scalar_one())


async def allocate_number(
    session: AsyncSession, spec: NumberingSpec, on: date, unit: str | None = None
) -> str:
    """Next document number for ``spec`` and ``unit`` (default ``spec.unit``) in the year of
    ``on``; the sequence resets every 1 January."""
    unit = unit or spec.unit
    scope = f"{spec.kode}|{unit}|{on.year}"
    urut = await next_in_sequence(session, scope)
    return spec.pattern.format(
        kode=spec.kode,
        urut=urut,
        unit=unit,
        bulan_romawi=bulan_romawi(on.month),
        bulan=on.month,
        tahun=on.year,
    )
