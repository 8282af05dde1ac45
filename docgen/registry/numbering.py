"""Document numbers: a per-scope, per-year sequence rendered from the template's pattern."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.templating.manifest import NumberingSpec


async def next_in_sequence(session: AsyncSession, scope: str, count: int = 1) -> int:
    """Atomically take the next ``count`` numbers of ``scope`` (an upsert, safe under
    concurrency); returns the last of them."""
    result = await session.execute(
        text(
            "INSERT INTO number_sequences (scope, last) VALUES (:scope, :count) "
            "ON CONFLICT (scope) DO UPDATE SET last = number_sequences.last + :count "
            "RETURNING last"
        ),
        {"scope": scope, "count": count},
    )
    return int(result.scalar_one())


async def allocate_number(
    session: AsyncSession, spec: NumberingSpec, on: date, unit: str | None = None
) -> str:
    """Next document number for ``spec`` and ``unit`` (default ``spec``'s) in the year of
    ``on``; the sequence resets every 1 January."""
    return (await allocate_numbers(session, spec, [(on, unit)]))[0]


async def allocate_numbers(
    session: AsyncSession, spec: NumberingSpec, requests: Sequence[tuple[date, str | None]]
) -> list[str]:
    """One number per ``(date, unit)`` request, consecutive in request order within each
    sequence: a whole batch takes one block per unit and year, in one statement each."""
    scopes: dict[str, list[int]] = {}
    for i, (on, unit) in enumerate(requests):
        scopes.setdefault(_scope(spec, on, unit), []).append(i)
    urut: dict[int, int] = {}
    for scope, indices in scopes.items():
        last = await next_in_sequence(session, scope, len(indices))
        for offset, i in enumerate(indices):
            urut[i] = last - len(indices) + 1 + offset
    return [spec.render(urut[i], on, unit) for i, (on, unit) in enumerate(requests)]


def _scope(spec: NumberingSpec, on: date, unit: str | None) -> str:
    return f"{spec.kode}|{unit or spec.unit}|{on.year}"
