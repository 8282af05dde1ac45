"""Every version of every template: the folder templates and the versions uploaded through the API.

Templates are data. A folder template (``templates/<id>/``) counts with the version its manifest
declares; an upload (:mod:`docgen.templating.upload`) becomes the next version of its id. At
start-up every recorded upload is read back from object storage and its SHA-256 checked; a
version uploaded on another instance later is read the same way when its notice arrives
(:mod:`docgen.registry.changes`).

New documents use the latest version; each document records the id, version and SHA-256 it was
made from, and its stored revisions never need the template again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from docgen.errors import TemplateInvalid, TemplateNotFound, TemplateProblem
from docgen.registry.db import Database
from docgen.registry.models import TemplateVersion
from docgen.templating import repository
from docgen.templating.checks import docx_problems
from docgen.templating.manifest import DOCX_NAME, Template, parse_manifest
from storage import ObjectStore, StorageError

__all__ = ["TemplateCatalogue", "load_template", "load_templates", "load_uploaded_versions"]


class TemplateCatalogue:
    """Every loaded version of every template, in memory."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._versions: dict[str, dict[int, Template]] = {}
        for template in templates:
            self.add(template)

    def add(self, template: Template) -> None:
        """Add a version; the same content again changes nothing.

        Raises TemplateInvalid: that id and version is held by a template with other content.
        """
        known = self._versions.setdefault(template.id, {})
        held = known.get(template.version)
        if held is None:
            known[template.version] = template
        elif not _same(held, template):
            raise TemplateInvalid(
                f"Templat {template.id} versi {template.version} ada dua kali dengan isi berbeda "
                "(folder templates/ dan unggahan); naikkan version di manifest folder itu"
            )

    def latest(self, template_id: str) -> Template:
        """The highest version; raises TemplateNotFound."""
        known = self._known(template_id)
        return known[max(known)]

    def get(self, template_id: str, version: int) -> Template:
        """Raises TemplateNotFound (unknown id or version)."""
        template = self._known(template_id).get(version)
        if template is None:
            raise TemplateNotFound(f"Templat {template_id!r} tidak punya versi {version}")
        return template

    def holds(self, template_id: str, version: int) -> bool:
        """Whether that version is loaded."""
        return version in self._versions.get(template_id, {})

    def versions(self, template_id: str) -> list[int]:
        """Ascending; empty for an unknown id."""
        return sorted(self._versions.get(template_id, {}))

    def all_latest(self) -> list[Template]:
        """The latest version of each template, by id."""
        return [self.latest(template_id) for template_id in sorted(self._versions)]

    def _known(self, template_id: str) -> dict[int, Template]:
        known = self._versions.get(template_id)
        if not known:
            raise TemplateNotFound(f"Templat {template_id!r} tidak dikenal")
        return known


def _same(a: Template, b: Template) -> bool:
    # The DOCX file name is not content (uploads are always stored as template.docx).
    def content(t: Template) -> tuple[str, dict[str, object]]:
        return t.sha256, t.manifest.model_dump(exclude={"docx"})

    return content(a) == content(b)


def load_template(directory: Path) -> Template:
    """Load and check ``directory/manifest.toml`` and its DOCX.

    Raises:
        TemplateInvalid: every problem found (see ``parse_manifest`` and
            ``template_checks.docx_problems``), or the manifest's id differs from the folder name.
    """
    subject = f"Templat {directory}"
    try:
        text = (directory / "manifest.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = TemplateProblem("manifest.toml", f"manifest tidak dapat dibaca: {exc}")
        raise TemplateInvalid.listing(subject, [problem]) from exc
    problems: list[TemplateProblem] = []
    manifest = parse_manifest(text, problems)
    if manifest is not None and manifest.id != directory.name:
        problems.append(
            TemplateProblem(
                "manifest.toml: id",
                f"id {manifest.id!r} berbeda dari nama folder {directory.name!r}",
            )
        )
    docx_name = manifest.docx if manifest else "template.docx"
    try:
        docx_bytes = (directory / docx_name).read_bytes()
    except OSError as exc:
        problems.append(TemplateProblem(docx_name, f"tidak dapat dibaca: {exc.strerror}"))
    else:
        problems.extend(docx_problems(docx_bytes, manifest, name=docx_name))
    if problems or manifest is None:
        raise TemplateInvalid.listing(subject, problems)
    return Template(
        manifest=manifest,
        docx_bytes=docx_bytes,
        sha256=hashlib.sha256(docx_bytes).hexdigest(),
        directory=directory,
    )


def load_templates(directory: Path) -> dict[str, Template]:
    """Every ``directory/*/manifest.toml``, keyed by template id.

    Raises:
        TemplateInvalid: on the first bad template (the service should not start with one).
    """
    templates: dict[str, Template] = {}
    for manifest_path in sorted(directory.glob("*/manifest.toml")):
        template = load_template(manifest_path.parent)
        templates[template.id] = template
    return templates


async def load_uploaded_versions(
    catalogue: TemplateCatalogue, db: Database, store: ObjectStore
) -> int:
    """Read every recorded upload that ``catalogue`` does not hold yet back from storage into
    it; returns how many were read. Cheap when it holds them all (one query of the registry):
    called at start-up, at each notice of a new version, by the backstop poll, and again by
    whoever misses a version.

    Raises:
        TemplateInvalid: a recorded version cannot be read back intact (missing object, SHA-256
            not the recorded one, manifest no longer valid) or clashes with a folder template;
            the service should not start with it.
    """
    async with db.session() as session:
        rows = await repository.all_versions(session)
    missing = [row for row in rows if not catalogue.holds(row.template_id, row.version)]
    for row in missing:
        catalogue.add(await _read_version(store, row))
    return len(missing)


async def _read_version(store: ObjectStore, row: TemplateVersion) -> Template:
    subject = f"Templat {row.template_id} versi {row.version}"
    try:
        docx_bytes = await store.get(row.docx_key, row.docx_version_id)
        manifest_bytes = await store.get(row.manifest_key, row.manifest_version_id)
    except StorageError as exc:
        raise TemplateInvalid(f"{subject} tidak dapat dibaca dari penyimpanan: {exc}") from exc
    sha256 = hashlib.sha256(docx_bytes).hexdigest()
    if sha256 != row.sha256:
        raise TemplateInvalid(
            f"{subject}: SHA-256 DOCX di penyimpanan ({sha256}) berbeda dari yang tercatat "
            f"({row.sha256})"
        )
    problems: list[TemplateProblem] = []
    manifest = parse_manifest(
        manifest_bytes.decode("utf-8", errors="replace"),
        problems,
        overrides={"docx": DOCX_NAME},
        where=row.manifest_key,
    )
    if manifest is not None and (manifest.id, manifest.version) != (row.template_id, row.version):
        problems.append(TemplateProblem(row.manifest_key, "id atau version tidak sesuai catatan"))
    if manifest is None or problems:
        raise TemplateInvalid.listing(subject, problems)
    return Template(manifest, docx_bytes, sha256, created_at=row.created_at)
