"""Uploading a template: checked as thoroughly as a folder template, stored as the next version.

An upload becomes the next version of its id, the highest known + 1 (a new id starts at 1).
Nothing is written before every check passes; then its DOCX and its manifest, with the assigned
version written in, go to object storage under ``templates/<id>/v<version>/`` (write-once) and a
``TemplateVersion`` row and an audit entry record them, with a notice that makes every other
instance load it. One upload of an id at a time on the whole deployment (a lock in the registry).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass

import anyio
from fastapi import UploadFile

from docgen.errors import Conflict, TemplateInvalid, TemplateProblem
from docgen.kit.limits import read_upload, refuse_oversized
from docgen.kit.sandbox import Sandbox, SandboxFailed, SandboxTimeout
from docgen.registry import audit
from docgen.registry.changes import Change, ChangeKind, announce
from docgen.registry.db import Database
from docgen.registry.locks import exclusive
from docgen.registry.models import TemplateVersion, utcnow
from docgen.templating import repository
from docgen.templating.catalogue import TemplateCatalogue
from docgen.templating.manifest import DOCX_NAME, Template, TemplateManifest, parse_manifest
from storage import ObjectExists, ObjectStore, StoredObject

__all__ = [
    "MAX_MANIFEST_BYTES",
    "TemplateUploads",
    "docx_problems_bounded",
    "upload_template",
    "with_version",
]

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TOML_TYPE = "application/toml"
MAX_MANIFEST_BYTES = 2**20  # a manifest is a few KiB of TOML
# Manifest keys the server decides for an upload: whatever the uploaded manifest says is ignored.
_SERVER_KEYS = {"version": 1, "docx": DOCX_NAME}
# Version numbers an upload may find taken in storage (by an upload that failed half-way, or
# another process) before it gives up.
_VERSION_ATTEMPTS = 5


@dataclass(frozen=True)
class _Checked:
    manifest: TemplateManifest  # with version 1 until one is assigned
    manifest_text: str
    docx_bytes: bytes


@dataclass(frozen=True)
class TemplateUploads:
    """Where an uploaded template is checked and stored: the API's upload and the admin's page
    both hand their two files here."""

    catalogue: TemplateCatalogue
    db: Database
    store: ObjectStore
    sandbox: Sandbox
    max_docx_bytes: int

    async def receive(self, manifest: UploadFile, docx: UploadFile) -> Template:
        """Read both files (no more than the limits allow) and :func:`upload_template` them."""
        return await upload_template(
            await read_upload(manifest, MAX_MANIFEST_BYTES),
            await read_upload(docx, self.max_docx_bytes),
            catalogue=self.catalogue,
            db=self.db,
            store=self.store,
            sandbox=self.sandbox,
            max_docx_bytes=self.max_docx_bytes,
        )


async def upload_template(
    manifest_upload: bytes,
    docx_upload: bytes,
    *,
    catalogue: TemplateCatalogue,
    db: Database,
    store: ObjectStore,
    sandbox: Sandbox,
    max_docx_bytes: int,
) -> Template:
    """Check an uploaded manifest and DOCX and store them as the next version of their id.

    Nothing is stored unless every check passes. The manifest's ``version`` and ``docx`` keys
    are optional and ignored: the server assigns the version and names the file.

    Raises:
        UploadTooLarge: the DOCX is over ``max_docx_bytes`` or the manifest over 1 MiB (413).
        TemplateInvalid: every problem found, each with its place (422).
        Conflict: another upload of the same id held its lock for a minute, or recorded the
            same version at the same moment (409).
    """
    refuse_oversized("manifest.toml", manifest_upload, MAX_MANIFEST_BYTES)
    refuse_oversized("Berkas DOCX", docx_upload, max_docx_bytes)
    checked = await _check_upload(manifest_upload, docx_upload, sandbox)
    template_id = checked.manifest.id
    # One upload of an id at a time on every instance: the version is picked, stored and
    # recorded under the id's lock in the registry.
    busy = f"Templat {template_id} sedang diunggah di tempat lain; coba unggah lagi"
    async with exclusive(db, "template", template_id, busy=busy):
        async with db.session() as session:
            recorded = await repository.highest_version(session, template_id)
        version = max([recorded, *catalogue.versions(template_id)], default=0) + 1
        version, docx_obj, manifest_obj = await _store(store, checked, version)
        template = Template(
            manifest=checked.manifest.model_copy(update={"version": version}),
            docx_bytes=checked.docx_bytes,
            sha256=docx_obj.sha256,
            created_at=utcnow(),
        )
        await _record(db, template, docx_obj, manifest_obj)
        catalogue.add(template)
    return template


async def _check_upload(manifest_upload: bytes, docx_upload: bytes, sandbox: Sandbox) -> _Checked:
    manifest, text, problems = await anyio.to_thread.run_sync(_check_manifest, manifest_upload)
    # Checked in a process of its own, within the sandbox's limits (time, memory, slots): a
    # DOCX is an upload like a PDF to verify.
    problems.extend(await docx_problems_bounded(docx_upload, manifest, sandbox))
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


CHECK_MODULE = "docgen.templating.check_worker"  # what the sandbox runs for an uploaded DOCX


async def docx_problems_bounded(
    docx_bytes: bytes, manifest: TemplateManifest | None, sandbox: Sandbox
) -> list[TemplateProblem]:
    """``checks.docx_problems`` in its own process, bounded in time and memory.

    A check that fails or takes too long is itself a problem of the DOCX.
    """
    head = manifest.model_dump_json() if manifest is not None else "null"
    try:
        # Admins upload templates, a few a day: they take turns as one client beside the
        # public's uploads, with no cap of their own.
        found = await sandbox.run(
            CHECK_MODULE, [], head.encode() + b"\n" + docx_bytes, client="templat"
        )
    except SandboxTimeout:
        return [
            TemplateProblem(DOCX_NAME, f"tidak dapat diperiksa dalam {sandbox.timeout:g} detik")
        ]
    except SandboxFailed:
        return [TemplateProblem(DOCX_NAME, "tidak dapat diperiksa (rusak atau terlalu rumit)")]
    return [TemplateProblem(p["where"], p["message"]) for p in json.loads(found)]


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
    except (tomllib.TOMLDecodeError, RecursionError):
        return None


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
    db: Database, template: Template, docx_obj: StoredObject, manifest_obj: StoredObject
) -> None:
    async with db.writing() as session:
        await repository.add_version(
            session,
            TemplateVersion(
                template_id=template.id,
                version=template.version,
                sha256=template.sha256,
                docx_key=docx_obj.key,
                docx_version_id=docx_obj.version_id,
                manifest_key=manifest_obj.key,
                manifest_version_id=manifest_obj.version_id,
                created_at=template.created_at,
            ),
        )
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
        # The other instances load it once this commits.
        subject = f"{template.id} v{template.version}"
        await announce(session, Change(ChangeKind.TEMPLATES, subject))
        await session.commit()
