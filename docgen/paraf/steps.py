"""The rules of paraf steps that need no service: whom a document may name as verifikator,
what each step is called, and whose turn it is."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import FieldProblem
from docgen.paraf import repository
from docgen.registry.models import Document, ParafStep
from docgen.registry.statuses import DocumentStatus, ParafState, Role
from docgen.templating.manifest import MAX_PARAF_STEPS, TemplateManifest

__all__ = ["current_step", "named_problems", "step_labels", "waiting_before"]


def step_labels(manifest: TemplateManifest, count: int) -> list[str]:
    """The name of each of ``count`` steps: the template's, or "Verifikator <n>"."""
    if manifest.paraf is not None:
        return list(manifest.paraf.steps)
    return [f"Verifikator {n}" for n in range(1, count + 1)]


async def named_problems(
    session: AsyncSession,
    maker_id: str,
    unit_id: str | None,
    manifest: TemplateManifest,
    user_ids: Sequence[str],
) -> list[FieldProblem]:
    """What is wrong with the verifikator a document of ``unit_id`` names (in order): as many
    as the template's steps (any number up to MAX_PARAF_STEPS where it has none), each an
    account with the verifikator role of the document's unit, none twice, and never
    ``maker_id``, the one who makes the document (who drafts never initials)."""
    problems: list[FieldProblem] = []
    if manifest.paraf is not None and len(user_ids) != len(manifest.paraf.steps):
        steps = ", ".join(manifest.paraf.steps)
        problems.append(
            FieldProblem(
                "paraf",
                f"templat ini meminta paraf {len(manifest.paraf.steps)} verifikator, "
                f"berurutan: {steps}",
            )
        )
    if len(user_ids) > MAX_PARAF_STEPS:
        problems.append(FieldProblem("paraf", f"paling banyak {MAX_PARAF_STEPS} verifikator"))
    found = await repository.users(session, user_ids)
    for n, user_id in enumerate(user_ids):
        user = found.get(user_id)
        problem = None
        if user_id == maker_id:
            problem = "pembuat dokumen tidak dapat memaraf dokumennya sendiri"
        elif user_id in user_ids[:n]:
            problem = "verifikator ini sudah disebut pada langkah sebelumnya"
        elif user is None or user.role != Role.VERIFIKATOR or user.disabled:
            problem = "bukan akun verifikator yang aktif"
        elif unit_id not in user.unit_ids:
            problem = "verifikator ini bukan dari unit dokumen"
        if problem:
            problems.append(FieldProblem(f"paraf.{n}", problem))
    return problems


def waiting_before(document: Document, step: ParafStep) -> list[ParafStep]:
    """The steps before ``step`` not initialled yet: they come first."""
    return [s for s in document.paraf_steps if s.step < step.step and s.state != ParafState.DIPARAF]


def current_step(document: Document) -> ParafStep | None:
    """The step whose turn it is, while the document waits for paraf."""
    if document.status != DocumentStatus.MENUNGGU_PARAF:
        return None
    return next((s for s in document.paraf_steps if s.state == ParafState.MENUNGGU), None)
