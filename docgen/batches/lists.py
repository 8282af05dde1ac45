"""Lists of people from a file: a list field of a template (the people of a berita acara)
filled from a CSV or XLSX, one item per row.

The file is read as bulk reads its staff lists (:func:`docgen.batches.staff_list.read_item_list`:
the same bounds on size and work, the same cell checks and messages at row and column), and each
row is checked as a document checks one item of that list (``validate_item``). Nothing is kept:
the answer is what the file holds, the items as the list takes them in a document's ``data``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import anyio

from docgen.batches.staff_list import RowProblem, StaffList, list_members, read_item_list
from docgen.errors import DataInvalid, DocgenError, NotFound
from docgen.templating.manifest import FieldSpec, Template, TemplateManifest
from docgen.templating.validation import stored_form, validate_item

__all__ = ["CheckedList", "NotAList", "checked_list", "list_field", "template_csv"]


class NotAList(DocgenError):
    """The field named is not a list field of the template."""

    status_code = 422


@dataclass(frozen=True)
class CheckedList:
    """What a file holds for a list field: the items of the rows without problems (in row
    order, as ``data`` takes them) and every problem of the other rows."""

    field: FieldSpec
    items: list[object]
    problems: list[RowProblem]
    rows: int  # the rows read (entirely empty ones skipped)


def list_field(manifest: TemplateManifest, name: str) -> FieldSpec:
    """The list field ``name`` of the template.

    Raises:
        NotFound: the template has no field of that name.
        NotAList: the field is not a list.
    """
    spec = manifest.field(name)
    if spec is None:
        raise NotFound(f"Templat {manifest.id} tidak memiliki isian {name!r}")
    if spec.type != "list":
        raise NotAList(
            f"Isian {name!r} ({spec.label}) bukan daftar; hanya isian daftar yang dapat diisi "
            "dari berkas"
        )
    return spec


async def checked_list(template: Template, name: str, filename: str, content: bytes) -> CheckedList:
    """The items and problems of a CSV or XLSX for the list field ``name`` (read in a thread:
    the reading is bounded, but not free).

    Raises:
        NotFound, NotAList: as ``list_field``.
        StaffListInvalid: the file as a whole cannot be used (unreadable, a header that does
            not fit the list, no rows, more rows than the field's ``max_items``, a sheet past
            bulk's bounds).
    """
    spec = list_field(template.manifest, name)
    staff = await anyio.to_thread.run_sync(read_item_list, filename, content, spec)
    return _checked(spec, staff)


def _checked(spec: FieldSpec, staff: StaffList) -> CheckedList:
    read = staff.read_problems()
    items: list[object] = []
    problems: list[RowProblem] = []
    for row in staff.rows:
        found = read.get(row.row, [])
        item = row.data if spec.item_fields else row.data.get(spec.name)
        try:
            clean = validate_item(spec, item)
        except DataInvalid as exc:
            problems += row.problems_of(found, exc.problems)
            continue
        if found:
            problems += found
            continue
        items.append(stored_form(clean) if isinstance(clean, dict) else clean)
    return CheckedList(spec, items, problems, len(staff.rows))


def template_csv(spec: FieldSpec) -> bytes:
    """An empty list for ``spec`` to fill in a spreadsheet: the header row of its columns (the
    item fields' labels). Separated by ";" as Indonesian Excel saves CSV (the comma is its
    decimal mark), in UTF-8 with the mark Excel needs to read it so."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerow(member.label for member in list_members(spec))
    return ("\ufeff" + out.getvalue()).encode()
