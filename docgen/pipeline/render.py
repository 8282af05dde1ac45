"""Render a template's DOCX with data: docxtpl on python-docx, in the sandboxed Jinja
environment of :mod:`docgen.templating.jinja`.

Any failure inside the template (sandbox violation, unknown variable, filter misuse) is reported
as ``TemplateInvalid``: it is a fault of the template, not of the caller's data, which
``validate_data`` has already checked.

Two paths, chosen at call time by :func:`signing.fast.enabled` (the deployment's one switch):

- the library path: docxtpl end to end for every document (``DocxTemplate(...).render(context,
  jinja_env=...)`` then ``save``);
- the fast path (the default): bulk generation renders hundreds of documents from one template,
  so a ``TemplateRenderer`` (kept by ``renderer_for``) reads the template's DOCX once and renders
  only its Jinja sources per document (:mod:`docgen.pipeline.fast.render`), giving the document
  docxtpl gives, part for part. A template that path cannot render that way goes through docxtpl.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import docx
import jinja2
from docx.image.image import Image as DocxImage
from docx.shared import Cm
from docxtpl import DocxTemplate
from markupsafe import Markup

import signing.fast
from docgen.errors import TemplateInvalid
from docgen.pipeline.fast.render import PreparedTemplate, prepare
from docgen.templating.jinja import jinja_environment, ttd_markup
from docgen.templating.kop import Kop
from docgen.templating.manifest import Template
from docgen.templating.validation import signing_roles, validate_data
from signing.prepare.anchors import anchor_marker

__all__ = [
    "RENDERER_CACHE_BYTES",
    "RENDERER_CACHE_SIZE",
    "TemplateRenderer",
    "render_checked",
    "render_docx",
    "renderer_for",
    "with_emblem",
]


class TemplateRenderer:
    """Renders documents of one template, its DOCX read once (the fast path; see
    :mod:`docgen.pipeline.fast.render`).

    A render gives the document docxtpl gives (``DocxTemplate.render`` then ``save``): the same
    parts with the same content. With the fast paths switched off (``signing.fast.use(False)``)
    it renders through docxtpl end to end.

    Safe to share between threads (it holds no state a render changes) and picklable, as plain
    bytes and strings, for worker processes.
    """

    def __init__(self, template: Template) -> None:
        """Raises whatever python-docx raises for a DOCX it cannot read (checked templates are
        readable)."""
        self.template = template
        self._prepared = prepare(template.docx_bytes)

    @property
    def held_bytes(self) -> int:
        """Roughly the memory this renderer holds: the template's DOCX and its prepared parts."""
        held = len(self.template.docx_bytes)
        if self._prepared is not None:
            held += self._prepared.held_bytes
        return held

    def serves(self, template: Template) -> bool:
        """Whether this renderer renders ``template``: the same manifest and DOCX."""
        mine = self.template
        return template is mine or (
            template.docx_bytes == mine.docx_bytes and template.manifest == mine.manifest
        )

    def render(self, data: Mapping[str, object], *, nomor: str) -> bytes:
        """Fill the template's DOCX with ``data`` and the document number ``nomor``, under the
        kop of a unit without a profile (a unit's kop: :func:`render_checked`).

        ``data`` is checked with ``validate_data`` first (idempotent on already-clean data).

        Raises:
            DataInvalid: the data does not satisfy the manifest.
            TemplateInvalid: the template fails while rendering (sandbox violation, unknown
                variable or role, filter misuse) or a signer role's marker is missing from the
                output.
        """
        clean = validate_data(self.template.manifest, data)
        return self.render_checked(clean, nomor=nomor, kop=Kop().context(""))

    def render_checked(
        self, clean: Mapping[str, object], *, nomor: str, kop: Mapping[str, Any]
    ) -> bytes:
        """As :meth:`render`, for data that ``validate_data`` gave (not checked again), with
        ``kop`` what the template reads as ``kop`` (``Kop.context``).

        Raises TemplateInvalid (as :meth:`render`).
        """
        prepared = self._prepared if signing.fast.enabled() else None
        return _render(self.template, prepared, clean, nomor, kop)


def _render(
    template: Template,
    prepared: PreparedTemplate | None,
    clean: Mapping[str, object],
    nomor: str,
    kop: Mapping[str, Any],
) -> bytes:
    """``template`` filled with checked data: by ``prepared`` where given, else docxtpl end to
    end. Raises TemplateInvalid."""
    manifest = template.manifest
    declared = {role.name for role in manifest.roles}
    roles = {role.name for role in signing_roles(manifest, clean)}

    def ttd(role: str) -> Markup:
        if role not in declared:
            raise TemplateInvalid(f"templat {manifest.id}: peran penanda tangan {role!r} tidak ada")
        return ttd_markup(role)

    context: dict[str, Any] = {**clean, "nomor": nomor, "ttd": ttd, "kop": kop}
    try:
        if prepared is None:
            rendered, body_xml = _render_with_docxtpl(template.docx_bytes, context)
        else:
            rendered, body_xml = prepared.render(context)
    except jinja2.TemplateError as exc:
        raise TemplateInvalid(
            f"templat {manifest.id} gagal dirender: {type(exc).__name__}: {exc}"
        ) from exc
    except (ValueError, TypeError) as exc:
        # A filter applied to the wrong kind of value: the template is wrong, not the data.
        raise TemplateInvalid(f"templat {manifest.id} gagal dirender: {exc}") from exc

    for role in roles:
        if anchor_marker(role) not in body_xml:
            raise TemplateInvalid(
                f"templat {manifest.id}: penanda {anchor_marker(role)} tidak dirender"
            )
    return rendered


def _render_with_docxtpl(docx_bytes: bytes, context: dict[str, Any]) -> tuple[bytes, str]:
    """The DOCX and its rendered w:body, through docxtpl end to end (the library path)."""
    doc = DocxTemplate(io.BytesIO(docx_bytes))
    doc.render(context, jinja_env=jinja_environment())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue(), doc.get_xml()


class _RendererCache:
    """At most ``size`` renderers holding at most ``budget`` bytes together (the newest one
    stays whatever its size), the least recently used dropped first; shared by threads."""

    def __init__(self, size: int, budget: int) -> None:
        self._size = size
        self._budget = budget
        self._lock = threading.Lock()
        self._renderers: OrderedDict[tuple[str, int, str], TemplateRenderer] = OrderedDict()

    def get(self, template: Template) -> TemplateRenderer:
        key = (template.id, template.version, template.sha256)
        with self._lock:
            renderer = self._renderers.get(key)
            if renderer is not None and renderer.serves(template):
                self._renderers.move_to_end(key)
                return renderer
        # Outside the lock: reading a template takes tens of milliseconds. Two threads may both
        # read the same one; the second result replaces the first, both are right.
        renderer = TemplateRenderer(template)
        with self._lock:
            self._renderers[key] = renderer
            self._renderers.move_to_end(key)
            held = sum(r.held_bytes for r in self._renderers.values())
            while len(self._renderers) > 1 and (
                len(self._renderers) > self._size or held > self._budget
            ):
                _, dropped = self._renderers.popitem(last=False)
                held -= dropped.held_bytes
        return renderer


RENDERER_CACHE_SIZE = 32
# Uploaded DOCX files may have up to 20 MiB; ours have 40 kB. Bound the bytes too.
RENDERER_CACHE_BYTES = 256 * 2**20


@functools.cache
def _renderer_cache() -> _RendererCache:
    return _RendererCache(RENDERER_CACHE_SIZE, RENDERER_CACHE_BYTES)


def renderer_for(template: Template) -> TemplateRenderer:
    """The renderer of ``template``, from a cache of the last ``RENDERER_CACHE_SIZE`` templates
    used (fewer where they hold over ``RENDERER_CACHE_BYTES``), keyed by (id, version, sha256).

    A cached renderer serves only the very same manifest and DOCX: a template that shares its
    key but differs (a folder template edited without a new version, say) gets a renderer of
    its own, which replaces the cached one.

    Raises whatever python-docx raises for a DOCX it cannot read (checked templates are
    readable).
    """
    return _renderer_cache().get(template)


def render_docx(
    template: Template, data: Mapping[str, object], *, nomor: str, kop: Kop | None = None
) -> bytes:
    """Fill the template's DOCX with ``data``, the document number ``nomor`` and the kop of
    its unit (``kop``; by default only what a unit without a profile or emblem would give).

    ``data`` is checked with ``validate_data`` first (idempotent on already-clean data).
    See ``TemplateRenderer.render``, which this is through ``renderer_for`` when the fast paths
    are on (``signing.fast.enabled()``); with them off, docxtpl renders it end to end.

    Raises:
        DataInvalid: the data does not satisfy the manifest.
        TemplateInvalid: the template fails while rendering (sandbox violation, unknown
            variable or role, filter misuse) or a signer role's marker is missing from the output.
    """
    return render_checked(template, validate_data(template.manifest, data), nomor=nomor, kop=kop)


def render_checked(
    template: Template, clean: Mapping[str, object], *, nomor: str, kop: Kop | None = None
) -> bytes:
    """As :func:`render_docx`, for data that ``validate_data`` gave: the pipeline renders what
    was checked once, when the document or its batch row was accepted.

    Raises TemplateInvalid (as :func:`render_docx`).
    """
    kop = kop or Kop()
    lambang: Markup | str = ""
    if kop.emblem_png is not None:
        template, lambang = with_emblem(template, kop.emblem_png)
    context = kop.context(lambang)
    if not signing.fast.enabled():
        # docxtpl end to end: no renderer is read or kept.
        return _render(template, None, clean, nomor, context)
    return renderer_for(template).render_checked(clean, nomor=nomor, kop=context)


# The emblem's box in the kop (tata naskah dinas: the emblem at the left of the kop lines).
EMBLEM_BOX = Cm(2.5)


def with_emblem(template: Template, png: bytes) -> tuple[Template, Markup]:
    """``template`` with ``png`` added to its document part as an image, and the run that
    shows it (what docxtpl's ``InlineImage`` gives: python-docx's ``new_pic_inline``), scaled
    to fit ``EMBLEM_BOX``. The same template and emblem give the same DOCX (cached): the
    renderer of a unit's template is kept like any other.

    Raises TemplateInvalid (not a PNG python-docx can read).
    """
    try:
        docx_bytes, markup = _emblem_docx(template.docx_bytes, png)
    except Exception as exc:  # python-docx's own errors for an unreadable image
        raise TemplateInvalid(f"lambang unit tidak dapat dipasang pada kop: {exc}") from exc
    digest = hashlib.sha256(docx_bytes).hexdigest()
    return dataclasses.replace(template, docx_bytes=docx_bytes, sha256=digest), markup


@functools.lru_cache(maxsize=16)
def _emblem_docx(docx_bytes: bytes, png: bytes) -> tuple[bytes, Markup]:
    document = docx.Document(io.BytesIO(docx_bytes))
    image = DocxImage.from_blob(png)
    wide = image.px_width >= image.px_height
    width, height = (EMBLEM_BOX, None) if wide else (None, EMBLEM_BOX)
    inline = document.part.new_pic_inline(io.BytesIO(png), width, height)
    out = io.BytesIO()
    document.save(out)
    run = (
        f'</w:t></w:r><w:r><w:drawing>{inline.xml}</w:drawing></w:r><w:r><w:t xml:space="preserve">'
    )
    return out.getvalue(), Markup(run)
