"""Binding each signer role of a document, when it is made, to exactly one enrolled signer: the
one the operator chose for the role, or else the signer in effect with the NIP / NI PPPK / NIK
the document's data names for it. A role that cannot be bound is a problem naming the role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import FieldProblem
from docgen.registry.models import Signer
from docgen.registry.statuses import SignerStatus
from docgen.signers import repository as signers
from docgen.templating.manifest import TemplateManifest
from docgen.templating.validation import signing_roles

__all__ = ["bind_roles", "chosen_problems"]

# Approved enrolments may be bound; they sign once activated.
_BINDABLE = (SignerStatus.AKTIF, SignerStatus.MENUNGGU_AKTIVASI)


async def chosen_problems(
    session: AsyncSession, manifest: TemplateManifest, chosen: Mapping[str, str]
) -> tuple[dict[str, Signer], list[FieldProblem]]:
    """The signers chosen per role (``{"role": signer_id}``), loaded, and the problems of the
    choice: unknown roles, unknown signers, signers not in effect."""
    loaded: dict[str, Signer] = {}
    problems: list[FieldProblem] = []
    for role_name, signer_id in chosen.items():
        where = f"signers.{role_name}"
        signer = await session.get(Signer, signer_id) if isinstance(signer_id, str) else None
        if manifest.role(role_name) is None:
            problems.append(FieldProblem(where, "peran tidak ada pada templat ini"))
        elif signer is None:
            problems.append(FieldProblem(where, "penanda tangan tidak ditemukan"))
        elif signer.status == SignerStatus.DICABUT:
            problems.append(FieldProblem(where, "sertifikat penanda tangan telah dicabut"))
        elif signer.status not in _BINDABLE:
            problems.append(FieldProblem(where, "penanda tangan belum disetujui admin"))
        else:
            loaded[role_name] = signer
    return loaded, problems


async def bind_roles(
    session: AsyncSession,
    manifest: TemplateManifest,
    clean: Mapping[str, Any],
    chosen: Mapping[str, Signer],
    known: dict[str, Signer | None] | None = None,
) -> tuple[dict[str, Signer], list[FieldProblem]]:
    """Every role that signs the document (``signing_roles``) bound to one signer (``chosen``
    first, else by the number in the data), and a problem for each role that cannot be.
    ``known`` carries the signers found by number from one call to the next (the rows of a
    batch name the same witnesses)."""
    known = {} if known is None else known
    bound: dict[str, Signer] = {}
    problems: list[FieldProblem] = []
    present = signing_roles(manifest, clean)
    for name in chosen.keys() - {role.name for role in present}:
        absent = manifest.role(name)
        if absent is not None and absent.when is not None:
            problems.append(
                FieldProblem(
                    f"signers.{name}",
                    f"peran {absent.label!r} tidak ada pada dokumen ini: isian {absent.when} "
                    "kosong",
                )
            )
    for role in present:
        where = f"signers.{role.name}"
        field = role.signer_nip_field
        nomor = str(clean[field]) if field and clean.get(field) else None
        signer = chosen.get(role.name)
        if signer is not None:
            if nomor and nomor not in (signer.nip, signer.nik):
                problems.append(
                    FieldProblem(where, f"NIP penanda tangan berbeda dengan isian {field}")
                )
            else:
                bound[role.name] = signer
            continue
        if nomor is None:
            problems.append(FieldProblem(where, f"pilih penanda tangan untuk peran {role.label!r}"))
            continue
        if nomor not in known:
            known[nomor] = await signers.in_effect(session, nip=nomor) or await signers.in_effect(
                session, nik=nomor
            )
        found = known[nomor]
        if found is None or found.status not in _BINDABLE:
            problems.append(
                FieldProblem(
                    where,
                    f"tidak ada penanda tangan terdaftar dengan nomor induk {nomor} "
                    f"untuk peran {role.label!r}",
                )
            )
        else:
            bound[role.name] = found
    return bound, problems
