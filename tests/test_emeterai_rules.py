"""The e-Meterai's rules without a service: what a manifest may declare, when the e-Meterai is
due, who waits for it, and the refusal where no provider is configured."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from docgen.emeterai.rules import NOT_OFFERED, due, offer_problems, waits_for_emeterai
from docgen.errors import TemplateProblem
from docgen.registry.models import Document, SignatureSlot
from docgen.registry.statuses import DocumentStatus
from docgen.templating.manifest import TemplateManifest, parse_manifest

MOU = Path(__file__).resolve().parent.parent / "templates" / "nota-kesepahaman" / "manifest.toml"
NOW = datetime(2024, 6, 27, 7, 5, tzinfo=UTC)


def mou_manifest(replace: tuple[str, str] | None = None) -> tuple[TemplateManifest | None, str]:
    text = MOU.read_text()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    problems: list[TemplateProblem] = []
    manifest = parse_manifest(text, problems)
    return manifest, " ".join(p.message for p in problems)


def document(*, first_signed: bool, affixed: bool = False, carries: bool = True) -> Document:
    return Document(
        status=DocumentStatus.MENUNGGU,
        emeterai_before_role="pihak_kedua" if carries else None,
        emeterai_affixed_at=NOW if affixed else None,
        slots=[
            SignatureSlot(
                role="pihak_pertama",
                label="PIHAK PERTAMA",
                order=1,
                signed_at=NOW if first_signed else None,
            ),
            SignatureSlot(role="pihak_kedua", label="PIHAK KEDUA", order=2, signed_at=None),
        ],
    )


def test_the_mou_offers_an_emeterai_before_pihak_kedua() -> None:
    manifest, problems = mou_manifest()
    assert manifest is not None, problems
    assert manifest.emeterai is not None
    assert (manifest.emeterai.field, manifest.emeterai.before_role) == ("emeterai", "pihak_kedua")
    assert manifest.emeterai.size == 70
    assert manifest.emeterai_asked({"emeterai": True})
    assert not manifest.emeterai_asked({"emeterai": False})


def test_a_manifest_must_name_a_boolean_field_and_a_later_role() -> None:
    for replace, said in [
        (('before_role = "pihak_kedua"', 'before_role = "saksi"'), "no role named 'saksi'"),
        (('before_role = "pihak_kedua"', 'before_role = "pihak_pertama"'), "first signature"),
        (('field = "emeterai"', 'field = "tentang"'), "must have type boolean"),
    ]:
        manifest, problems = mou_manifest(replace)
        assert manifest is None and said in problems, problems


def test_without_a_provider_asking_for_one_is_a_problem_of_its_field() -> None:
    manifest, _ = mou_manifest()
    assert manifest is not None
    (problem,) = offer_problems(manifest, {"emeterai": True}, configured=False)
    assert (problem.field, problem.message) == ("emeterai", NOT_OFFERED)
    assert "tidak terhubung ke penyedia e-Meterai" in NOT_OFFERED
    assert offer_problems(manifest, {"emeterai": False}, configured=False) == []
    assert offer_problems(manifest, {"emeterai": True}, configured=True) == []


def test_due_after_the_roles_before_its_own_and_its_role_waits_for_it() -> None:
    waiting = document(first_signed=False)
    assert not due(waiting)
    assert not waits_for_emeterai(waiting, waiting.slots[0])  # the first signer goes ahead
    now_due = document(first_signed=True)
    assert due(now_due)
    assert waits_for_emeterai(now_due, now_due.slots[1])
    done = document(first_signed=True, affixed=True)
    assert not due(done) and not waits_for_emeterai(done, done.slots[1])
    none = document(first_signed=True, carries=False)
    assert not due(none) and not waits_for_emeterai(none, none.slots[1])
    revoked = document(first_signed=True)
    revoked.status = DocumentStatus.DICABUT
    assert not due(revoked)


def test_a_signer_waiting_for_the_emeterai_is_told_so() -> None:
    from docgen.documents.schemas import PendingOut
    from docgen.kit.links import Links

    waiting = document(first_signed=True)
    waiting.id, waiting.number, waiting.verify_code = "d1", "100.4/1/SETDA/2024", "kode"
    waiting.title, waiting.template_id = "Kerja Sama", "nota-kesepahaman"
    pending = PendingOut.of(waiting, waiting.slots[1], [], Links("https://ttd.example.go.id"))
    assert (pending.ready, pending.waiting_for) == (False, ["emeterai"])
    waiting.emeterai_affixed_at = NOW
    pending = PendingOut.of(waiting, waiting.slots[1], [], Links("https://ttd.example.go.id"))
    assert (pending.ready, pending.waiting_for) == (True, [])
