"""Every version of every template: the folder templates and the versions uploaded through the API.

Templates are data. A folder template (``templates/<id>/``) counts with the version its manifest
declares; an upload becomes the next version of its id, the highest known + 1 (a new id starts
at 1). An upload is checked as thoroughly as a folder template before anything is written; then
its DOCX and its manifest, with the assigned version written in, go to object storage under
``templates/<id>/v<version>/`` (write-once) and a ``TemplateVersion`` row and an audit entry
record them. At start-up every recorded version is read back and its SHA-256 checked.

New documents use the latest version; each document records the id, version and SHA-256 it was
made from, and its stored revisions never need the template again.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from docgen.errors import (
    Conflict,
    TemplateInvalid,
    TemplateNotFound,
    TemplateProblem,
)
from docgen.kit.limits import refuse_oversized
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import TemplateVersion, utcnow
from docgen.templating.checks import docx_problems
from docgen.templating.manifest import Template, TemplateManifest, parse_manifest
from storage import ObjectExists, ObjectStore, StorageError, StoredObject

if TYPE_CHECKING:
    from docgen.runtime import Runtime

__all__ = [
    "DOCX_NAME",
    "MAX_MANIFEST_BYTES",
    "TemplateRegistry",
    "docx_problems_bounded",
    "load_template",
    "load_templates",
    "load_uploaded_versions",
    "upload_template",
    "with_version",
]

DOCX_NAME = "template.docx"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TOML_TYPE = "application/toml"
MAX_MANIFEST_BYTES = 2**20  # a manifest is a few KiB of TOML
# Manifest keys the server decides for an upload: whatever the uploaded manifest says is ignored.
_SERVER_KEYS = {"version": 1, "docx": DOCX_NAME}
# Version numbers an upload may find taken in storage (by an upload that failed half-way, or
# another process) before it gives up.
_VERSION_ATTEMPTS = 5


class TemplateRegistry:
    """Every loaded version of every template, in memory."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._versions: dict[str, dict[int, Template]] = {}
        # One upload at a time in this process, so two never pick the same version.
        self.upload_lock = anyio.Lock()
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


# --- folder templates


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


# --- start-up


async def load_uploaded_versions(
    registry: TemplateRegistry, db: Database, store: ObjectStore
) -> int:
    """Read every recorded upload back from storage into ``registry``; returns how many.

    Raises:
        TemplateInvalid: a recorded version cannot be read back intact (missing object, SHA-256
            not the recorded one, manifest no longer valid) or clashes with a folder template;
            the service should not start with it.
    """
    in_order = select(TemplateVersion).order_by(
        TemplateVersion.template_id, TemplateVersion.version
    )
    async with db.session() as session:
        rows = list(await session.scalars(in_order))
    for row in rows:
        registry.add(await _read_version(store, row))
    return len(rows)


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


# --- upload


@dataclass(frozen=True)
class _Checked:
    manifest: TemplateManifest  # with version 1 until one is assigned
    manifest_text: str
    docx_bytes: bytes


async def upload_template(rt: Runtime, manifest_upload: bytes, docx_upload: bytes) -> Template:
    """Check an uploaded manifest and DOCX and store them as the next version of their id.

    Nothing is stored unless every check passes. The manifest's ``version`` and ``docx`` keys
    are optional and ignored: the server assigns the version and names the file.

    Raises:
        UploadTooLarge: the DOCX is over ``max_upload_bytes`` or the manifest over 1 MiB (413).
        TemplateInvalid: every problem found, each with its place (422).
        Conflict: another process recorded the same version at the same moment (409).
        StorageUnavailable: object storage failed.
    """
    refuse_oversized("manifest.toml", manifest_upload, MAX_MANIFEST_BYTES)
    refuse_oversized("Berkas DOCX", docx_upload, rt.settings.max_upload_bytes)
    checked = await _check_upload(rt, manifest_upload, docx_upload)
    registry = rt.template_registry
    template_id = checked.manifest.id
    async with registry.upload_lock:
        recorded = await _highest_recorded(rt.db, template_id)
        version = max([recorded, *registry.versions(template_id)], default=0) + 1
        version, docx_obj, manifest_obj = await _store(rt.store, checked, version)
        template = Template(
            manifest=checked.manifest.model_copy(update={"version": version}),
            docx_bytes=checked.docx_bytes,
            sha256=docx_obj.sha256,
            created_at=utcnow(),
        )
        await _record(rt, template, docx_obj, manifest_obj)
        registry.add(template)
    return template


async def _check_upload(rt: Runtime, manifest_upload: bytes, docx_upload: bytes) -> _Checked:
    manifest, text, problems = await anyio.to_thread.run_sync(_check_manifest, manifest_upload)
    # Checked in a process of its own, within the verification limits (time, slots): a DOCX
    # is an upload like a PDF to verify.
    problems.extend(
        await docx_problems_bounded(
            docx_upload,
            manifest,
            timeout=rt.settings.verify_timeout,
            slots=rt.verify_slots,
        )
    )
    if problems or manifest is None:
        raise TemplateInvalid.listing("Templat unggahan", problems)
    return _Checked(manifest, text, docx_upload)


def _check_manifest(upload: bytes) -> tuple[TemplateManifest | None, str, list[TemplateProblem]]:
    problems: list[TemplateProblem] = []
    try:
        text = upload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where, message = "manifest.toml", f"bukan teks UTF-8 (byte ke-{exc.start + 1})"
        return None, "", [TemplateProblem(where, message)]
    manifest = parse_manifest(text, problems, overrides=_SERVER_KEYS)
    if manifest is not None and with_version(text, 1) is None:
        problems.append(
            TemplateProblem(
                "manifest.toml: version",
                "kunci version tidak dapat diganti oleh server; hapus saja kunci itu",
            )
        )
    return manifest, text, problems


async def docx_problems_bounded(
    docx_bytes: bytes,
    manifest: TemplateManifest | None,
    *,
    timeout: float,
    slots: anyio.CapacityLimiter,
) -> list[TemplateProblem]:
    """``template_checks.docx_problems`` in its own process, bounded in time and memory.

    A check that fails or takes over ``timeout`` seconds is itself a problem of the DOCX.
    """
    head = manifest.model_dump_json() if manifest is not None else "null"
    try:
        async with slots:
            with anyio.fail_after(timeout):
                result = await anyio.run_process(
                    [sys.executable, "-m", "docgen.templating.check_worker"],
                    input=head.encode() + b"\n" + docx_bytes,
                    check=False,
                )
    except TimeoutError:
        return [TemplateProblem(DOCX_NAME, f"tidak dapat diperiksa dalam {timeout:g} detik")]
    if result.returncode != 0:
        return [TemplateProblem(DOCX_NAME, "tidak dapat diperiksa (rusak atau terlalu rumit)")]
    return [TemplateProblem(p["where"], p["message"]) for p in json.loads(result.stdout)]


_VERSION_LINE = re.compile(r"""^[ \t]*(?:version|"version"|'version')[ \t]*=.*$""", re.MULTILINE)


def with_version(text: str, version: int) -> str | None:
    """The manifest ``text`` with its top-level ``version`` set to ``version``, all else kept.

    None when the key cannot be replaced line-wise (e.g. a value over several lines).
    """
    found = _VERSION_LINE.search(text)
    if found is None:
        changed = f"version = {version}\n{text}"
    else:
        changed = f"{text[: found.start()]}version = {version}{text[found.end() :]}"
    try:
        expected = {**tomllib.loads(text), "version": version}
        return changed if tomllib.loads(changed) == expected else None
    except tomllib.TOMLDecodeError:
        return None


async def _highest_recorded(db: Database, template_id: str) -> int:
    async with db.session() as session:
        highest = await session.scalar(
            select(func.max(TemplateVersion.version)).where(
                TemplateVersion.template_id == template_id
            )
        )
    return int(highest or 0)


def _key(template_id: str, version: int, name: str) -> str:
    return f"templates/{template_id}/v{version}/{name}"


async def _store(
    store: ObjectStore, checked: _Checked, version: int
) -> tuple[int, StoredObject, StoredObject]:
    """Write DOCX then manifest under the first free version from ``version`` on.

    Objects are write-once, so the DOCX's key claims the version; a key already taken (an
    upload that failed after storing, or another process) moves on to the next number.

    Raises Conflict when ``_VERSION_ATTEMPTS`` numbers in a row are taken.
    """
    for attempt in range(version, version + _VERSION_ATTEMPTS):
        text = with_version(checked.manifest_text, attempt)
        assert text is not None  # checked with version 1: same lines, any number
        try:
            docx_obj = await store.put(
                _key(checked.manifest.id, attempt, DOCX_NAME), checked.docx_bytes, DOCX_TYPE
            )
            manifest_obj = await store.put(
                _key(checked.manifest.id, attempt, "manifest.toml"), text.encode(), TOML_TYPE
            )
        except ObjectExists:
            continue
        return attempt, docx_obj, manifest_obj
    raise Conflict(f"Versi templat {checked.manifest.id} sedang dipakai; coba unggah lagi")


async def _record(
    rt: Runtime, template: Template, docx_obj: StoredObject, manifest_obj: StoredObject
) -> None:
    async with rt.write_lock, rt.db.session() as session:
        session.add(
            TemplateVersion(
                template_id=template.id,
                version=template.version,
                sha256=template.sha256,
                docx_key=docx_obj.key,
                docx_version_id=docx_obj.version_id,
                manifest_key=manifest_obj.key,
                manifest_version_id=manifest_obj.version_id,
                created_at=template.created_at,
            )
        )
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"Templat {template.id} versi {template.version} baru saja dicatat oleh proses "
                "lain; coba unggah lagi"
            ) from exc
        await audit.record(
            session,
            "template.uploaded",
            "template",
            template.id,
            version=template.version,
            sha256=template.sha256,
            manifest_sha256=manifest_obj.sha256,
            title=template.manifest.title,
        )
        await session.commit()
