"""Split the PDF of a merged DOCX (``docgen.pipeline.fast.merge``) back into one PDF per document.

Each document of the merged file starts with a bookmark that LibreOffice exports as a named
destination (``ExportBookmarksToPDFDestination``) on that document's first page. The split reads
those destinations, checks they are all there and in order, and copies each document's pages into
a new PDF with pikepdf (qpdf): page content and resources (embedded fonts, images) are copied, the
catalogue keeps what a single conversion has (language, viewer preferences, open action), and the
merged file's outline, named destinations and links into other documents' pages are left out, so
no page of a neighbour ends up in the file.

It goes with the merge: its cost is part of the merged figure in ``docgen.pipeline.fast.merge``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pikepdf

__all__ = ["SplitFailed", "page_counts", "split_pdf"]

# Catalogue entries LibreOffice writes in a single conversion that are the same for every part.
_CATALOG_KEYS = ("/Lang", "/ViewerPreferences", "/PageMode", "/PageLayout", "/MarkInfo")


class SplitFailed(Exception):
    """The merged PDF cannot be split reliably at the document boundaries."""


def split_pdf(pdf: bytes, starts: Sequence[str]) -> list[bytes]:
    """One PDF per document: document ``i`` runs from the page of destination ``starts[i]``
    up to the page before the next document's.

    Raises SplitFailed if the PDF cannot be read, a destination is missing, or the
    destinations are not on strictly increasing pages beginning with the first.
    """
    try:
        merged = pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PdfError as exc:
        raise SplitFailed(f"cannot read the merged PDF: {exc}") from exc
    with merged:
        first_pages = _start_pages(merged, starts)
        bounds = [*first_pages, len(merged.pages)]
        return [_extract(merged, bounds[i], bounds[i + 1]) for i in range(len(first_pages))]


def page_counts(pdf: bytes, starts: Sequence[str]) -> list[int]:
    """How many pages each document has (the split's page ranges, without splitting).

    Raises SplitFailed as :func:`split_pdf` does.
    """
    try:
        merged = pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PdfError as exc:
        raise SplitFailed(f"cannot read the merged PDF: {exc}") from exc
    with merged:
        bounds = [*_start_pages(merged, starts), len(merged.pages)]
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


def _start_pages(merged: pikepdf.Pdf, starts: Sequence[str]) -> list[int]:
    page_index = {_objgen(page.obj): i for i, page in enumerate(merged.pages)}
    destinations = _named_destinations(merged)
    pages: list[int] = []
    for name in starts:
        target = destinations.get(name)
        if isinstance(target, pikepdf.Dictionary):
            target = target.get("/D")
        if not isinstance(target, pikepdf.Array) or len(target) == 0:
            raise SplitFailed(f"no destination {name!r} in the merged PDF")
        page = page_index.get(_objgen(target[0]))
        if page is None:
            raise SplitFailed(f"destination {name!r} is not on a page of the merged PDF")
        pages.append(page)
    if pages and pages[0] != 0:
        raise SplitFailed(f"the first document starts on page {pages[0] + 1}, not 1")
    if any(b <= a for a, b in zip(pages, pages[1:], strict=False)):
        raise SplitFailed(f"document starts are not on increasing pages: {pages}")
    return pages


def _objgen(obj: pikepdf.Object) -> tuple[int, int]:
    return (int(obj.objgen[0]), int(obj.objgen[1]))


def _named_destinations(merged: pikepdf.Pdf) -> dict[str, pikepdf.Object]:
    found: dict[str, pikepdf.Object] = {}
    names = merged.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/Dests" in names:
        for key, value in pikepdf.NameTree(names.Dests).items():
            found[str(key)] = value
    old_style = merged.Root.get("/Dests")  # PDF 1.1 style: a dictionary keyed by name
    if isinstance(old_style, pikepdf.Dictionary):
        for key, value in old_style.items():
            found.setdefault(str(key).lstrip("/"), value)
    return found


def _extract(merged: pikepdf.Pdf, first: int, end: int) -> bytes:
    own = {_objgen(merged.pages[i].obj) for i in range(first, end)}
    for i in range(first, end):
        _drop_links_elsewhere(merged.pages[i], own)
    part = pikepdf.new()
    part.pages.extend(merged.pages[first:end])
    for key in _CATALOG_KEYS:
        if key in merged.Root:
            part.Root[key] = _copy(part, merged, merged.Root[key])
    open_action = merged.Root.get("/OpenAction")
    if isinstance(open_action, pikepdf.Array) and len(open_action) > 1:
        # The merged file opens at its first page; this part opens at its own first page.
        part.Root.OpenAction = pikepdf.Array([part.pages[0].obj, *open_action[1:]])
    if "/Info" in merged.trailer:
        part.trailer.Info = _copy(part, merged, merged.trailer.Info)
    out = io.BytesIO()
    part.save(out, static_id=False, preserve_pdfa=False)
    return out.getvalue()


def _copy(part: pikepdf.Pdf, merged: pikepdf.Pdf, value: pikepdf.Object) -> pikepdf.Object:
    if isinstance(value, (pikepdf.Dictionary, pikepdf.Array)):
        return part.copy_foreign(value if value.is_indirect else merged.make_indirect(value))
    return value  # a string, name or number is copied by value


def _drop_links_elsewhere(page: pikepdf.Page, own: set[tuple[int, int]]) -> None:
    """Remove link annotations that point at pages of other documents (or at names)."""
    annotations = page.obj.get("/Annots")
    if not isinstance(annotations, pikepdf.Array):
        return
    kept = [annot for annot in annotations if not _links_elsewhere(annot, own)]
    if len(kept) != len(annotations):
        page.obj.Annots = pikepdf.Array(kept)


def _links_elsewhere(annot: pikepdf.Object, own: set[tuple[int, int]]) -> bool:
    if not isinstance(annot, pikepdf.Dictionary):
        return False
    target = annot.get("/Dest")
    action = annot.get("/A")
    if target is None and isinstance(action, pikepdf.Dictionary):
        if action.get("/S") != pikepdf.Name.GoTo:
            return False
        target = action.get("/D")
    if target is None:
        return False
    if isinstance(target, pikepdf.Array) and len(target):
        return _objgen(target[0]) not in own
    return True  # a named destination: the names are not carried over
