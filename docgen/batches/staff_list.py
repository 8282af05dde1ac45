"""Staff lists for bulk work: a CSV or XLSX file, one document per row, a header of field names.

:func:`read_staff_list` turns the upload into rows of template data; every problem is reported
with the row and column the operator sees in the spreadsheet (the header is row 1).

Headers name a field (``nip``) or its label (``NIP``), in any case. A list of records takes one
column per item field (``peserta.nama``, ``peserta.nip``, ...), giving one item per row; a list
of text takes one item per line of its cell. Dates may be ``2024-06-27``, ``27/06/2024`` or a
date cell. Entirely empty rows are skipped; an XLSX sheet is refused unread when it reaches, by
its dimension or its rows, past the header and ``MAX_ROWS`` rows or past ``MAX_COLUMNS``.

:func:`read_item_list` reads a file the same way for one list field of a template (the people
of a berita acara): one item per row, a column per item field, named as bulk names it
(``nip``, ``NIP``, ``peserta.nip``), at most the field's ``max_items`` rows.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from docgen.errors import DocgenError, FieldProblem, ProblemOut
from docgen.indonesia import angka
from docgen.templating.manifest import FieldSpec, TemplateManifest

__all__ = [
    "RowProblem",
    "SheetRow",
    "StaffList",
    "StaffListInvalid",
    "is_xlsx",
    "list_members",
    "read_item_list",
    "read_staff_list",
]

MAX_ROWS = 5000
MAX_COLUMNS = 200
# The rows of an XLSX sheet read at most, empty ones included: the header and MAX_ROWS rows.
# openpyxl hands out every empty row up to the last cell (or the sheet's <dimension>): one cell
# in A1048576 made a 5 KB file cost 15-30 s of CPU.
MAX_SHEET_ROWS = MAX_ROWS + 1
# An XLSX is a zip of XML: bound what it may unpack to, whatever its compressed size.
MAX_XLSX_UNPACKED = 100 * 1024 * 1024
# Excel keeps numbers as doubles: past 15 digits the last ones change (a NIP has 18).
_EXACT_DIGITS = 15
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    message: str

    def view(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


class StaffListInvalid(DocgenError):
    """The file as a whole cannot be used (unreadable, bad header, too many rows)."""

    status_code = 422

    def __init__(self, problems: list[RowProblem], detail: str | None = None) -> None:
        shown = "; ".join(f"baris {p.row} kolom {p.column}: {p.message}" for p in problems[:3])
        super().__init__(detail or f"Daftar tidak dapat dipakai: {shown}")
        self.problems = problems

    def problems_out(self) -> list[ProblemOut]:
        return [ProblemOut(row=p.row, column=p.column, message=p.message) for p in self.problems]


@dataclass(frozen=True)
class SheetRow:
    row: int
    data: dict[str, object]
    # Which header the operator used for each field path (``peserta.nip`` -> "Peserta.NIP").
    columns: Mapping[str, str] = field(repr=False)

    def column_of(self, field_path: str) -> str:
        """The header of the column behind a validation path such as ``peserta[1].nip``."""
        bare = re.sub(r"\[\d+\]", "", field_path)
        return self.columns.get(bare, bare)

    def problems_of(
        self, read: Sequence[RowProblem], invalid: Sequence[FieldProblem]
    ) -> list[RowProblem]:
        """The row's problems: those found reading its cells (``read``), then each problem of
        its data (``invalid``) at its column, unless that cell could not be read (said once)."""
        unreadable = {p.column for p in read}
        problems = list(read)
        for p in invalid:
            column = self.column_of(p.field)
            if column not in unreadable:
                problems.append(RowProblem(self.row, column, p.message))
        return problems


@dataclass(frozen=True)
class StaffList:
    rows: list[SheetRow]
    # Problems of single cells found while reading (e.g. a NIP stored as an Excel number).
    problems: list[RowProblem]

    def read_problems(self) -> dict[int, list[RowProblem]]:
        """The problems found while reading, by row."""
        by_row: dict[int, list[RowProblem]] = {}
        for problem in self.problems:
            by_row.setdefault(problem.row, []).append(problem)
        return by_row


def read_staff_list(filename: str, content: bytes, manifest: TemplateManifest) -> StaffList:
    """Read a CSV or XLSX staff list for ``manifest``'s template.

    Raises:
        StaffListInvalid: the file cannot be read, its header does not fit the template (unknown,
            repeated or missing required columns), it has no rows or more than ``MAX_ROWS``, its
            XLSX sheet reaches past ``MAX_SHEET_ROWS`` rows (empty ones included) or
            ``MAX_COLUMNS`` columns.
    """
    by_name: dict[str, tuple[FieldSpec, FieldSpec | None]] = {}
    for spec in manifest.fields:
        if spec.type == "list" and spec.item_fields:
            for member in spec.item_fields:
                for name in (member.name, member.label):
                    by_name[f"{spec.name}.{name}".lower()] = (spec, member)
                    by_name[f"{spec.label}.{name}".lower()] = (spec, member)
        else:
            by_name[spec.name.lower()] = (spec, None)
            by_name[spec.label.lower()] = (spec, None)
    known = ", ".join(sorted({s.name for s in manifest.fields}))
    layout = _Layout(
        by_name,
        manifest.fields,
        f"kolom yang dikenal templat {manifest.id}: {known}",
        MAX_ROWS,
        f"terlalu banyak baris (maksimal {MAX_ROWS})",
    )
    return _read(filename, content, layout)


def read_item_list(filename: str, content: bytes, spec: FieldSpec) -> StaffList:
    """Read a CSV or XLSX list for the list field ``spec``: each row's data is one item, keyed by
    the item fields' names (a list of text: ``{spec.name: text}``).

    Headers name an item field by its name or label, alone or after the list's name or label
    (``nip``, ``NIP``, ``peserta.nip``); a list of text takes one column named as the list.

    Raises:
        StaffListInvalid: as ``read_staff_list``, with the field's ``max_items`` (at most
            ``MAX_ROWS``) as the most rows; ``spec`` is not a list.
    """
    if spec.type != "list":
        raise StaffListInvalid([RowProblem(1, "-", f"isian {spec.name} bukan daftar")])
    members = list_members(spec)
    by_name: dict[str, tuple[FieldSpec, FieldSpec | None]] = {}
    for member in members:
        for name in {member.name, member.label}:
            by_name[name.lower()] = (member, None)
            by_name[f"{spec.name}.{name}".lower()] = (member, None)
            by_name[f"{spec.label}.{name}".lower()] = (member, None)
    known = ", ".join(member.name for member in members)
    # A manifest may allow more items than bulk reads rows: bulk's bound holds all the same.
    most = min(spec.max_items, MAX_ROWS)
    layout = _Layout(
        by_name,
        members,
        f"kolom yang dikenal untuk {spec.label}: {known}",
        most,
        f"terlalu banyak baris (maksimal {most} untuk {spec.label})",
    )
    return _read(filename, content, layout)


def list_members(spec: FieldSpec) -> list[FieldSpec]:
    """What one row of a list field holds: its item fields, or for a list of text the one
    text named as the list."""
    if spec.item_fields:
        return list(spec.item_fields)
    return [FieldSpec(name=spec.name, type="text", label=spec.label)]


@dataclass(frozen=True)
class _Layout:
    """What a file's header may name and how many rows it may hold."""

    # A header (lower case, spaces collapsed) -> the field, and the item field of a list.
    by_name: Mapping[str, tuple[FieldSpec, FieldSpec | None]]
    # The fields whose column must be there when they are required.
    fields: Sequence[FieldSpec]
    known: str  # the columns known, said after a header's problems
    max_rows: int
    too_many: str


def _read(filename: str, content: bytes, layout: _Layout) -> StaffList:
    table = _read_xlsx(content) if is_xlsx(filename, content) else _read_csv(content)
    header_cells = next(table, None)
    if header_cells is None:
        raise StaffListInvalid([RowProblem(1, "-", "berkas kosong")])
    columns = _map_header(header_cells, layout)
    rows: list[SheetRow] = []
    problems: list[RowProblem] = []
    for number, cells in enumerate(table, start=2):
        if all(_blank(c) for c in cells):
            continue
        if len(rows) == layout.max_rows:
            raise StaffListInvalid([RowProblem(number, "-", layout.too_many)])
        stray = [i for i, c in enumerate(cells) if i >= len(columns) and not _blank(c)]
        for i in stray[:1]:
            problems.append(RowProblem(number, _column_letter(i), "isian di luar kolom berjudul"))
        rows.append(_row(number, cells, columns, problems))
    if not rows:
        raise StaffListInvalid([RowProblem(2, "-", "tidak ada baris data di bawah judul kolom")])
    return StaffList(rows, problems)


@dataclass(frozen=True)
class _Column:
    header: str
    spec: FieldSpec | None  # None: an empty header over an empty column
    item: FieldSpec | None = None  # for ``peserta.nama``: the item field


def _map_header(cells: list[object], layout: _Layout) -> list[_Column]:
    if len(cells) > MAX_COLUMNS:
        raise StaffListInvalid([RowProblem(1, "-", f"terlalu banyak kolom (maks. {MAX_COLUMNS})")])
    problems: list[RowProblem] = []
    columns: list[_Column] = []
    seen: dict[str, str] = {}
    for i, cell in enumerate(cells):
        header = _text(cell).strip()
        letter = _column_letter(i)
        if not header:
            columns.append(_Column(header=letter, spec=None))
            continue
        found = layout.by_name.get(" ".join(header.split()).lower())
        if found is None:
            problems.append(RowProblem(1, header, "kolom tidak dikenal pada templat ini"))
            columns.append(_Column(header=header, spec=None))
            continue
        parent, item = found
        path = f"{parent.name}.{item.name}" if item else parent.name
        if path in seen:
            problems.append(RowProblem(1, header, f"kolom ganda (sama dengan {seen[path]!r})"))
        seen[path] = header
        columns.append(_Column(header=header, spec=parent, item=item))
    for spec in layout.fields:
        if spec.required and spec.default is None and not _has_column(spec, seen):
            problems.append(RowProblem(1, spec.name, f"kolom wajib ({spec.label}) tidak ada"))
    if problems:
        problems.append(RowProblem(1, "-", layout.known))
        raise StaffListInvalid(problems)
    return columns


def _has_column(spec: FieldSpec, seen: Mapping[str, str]) -> bool:
    return spec.name in seen or any(path.startswith(f"{spec.name}.") for path in seen)


def _row(
    number: int, cells: list[object], columns: list[_Column], problems: list[RowProblem]
) -> SheetRow:
    data: dict[str, object] = {}
    items: dict[str, dict[str, object]] = {}
    headers: dict[str, str] = {}
    for column, cell in zip(columns, cells, strict=False):
        if column.spec is None:
            if not _blank(cell):
                problems.append(RowProblem(number, column.header, "isian di kolom tanpa judul"))
            continue
        spec = column.item or column.spec
        path = f"{column.spec.name}.{column.item.name}" if column.item else column.spec.name
        headers[path] = column.header
        try:
            value = _value(spec, cell)
        except ValueError as exc:
            problems.append(RowProblem(number, column.header, str(exc)))
            value = None
        if column.item is not None:
            if value is not None:
                items.setdefault(column.spec.name, {})[column.item.name] = value
        elif value is not None:
            data[spec.name] = value
    for name, item in items.items():
        data[name] = [item]
    return SheetRow(number, data, headers)


def _value(spec: FieldSpec, cell: object) -> object:
    """The cell as template data for ``spec``; None for an empty cell. Raises ValueError."""
    if _blank(cell):
        return None
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, int | float):
        if isinstance(cell, float) and not cell.is_integer():
            return str(cell)
        digits = str(int(cell))
        if len(digits.lstrip("-")) > _EXACT_DIGITS:
            raise ValueError(
                "angka terlalu panjang untuk sel angka Excel (digit terakhirnya bisa berubah); "
                "format kolom ini sebagai Teks lalu isi ulang"
            )
        return digits
    text = _text(cell).strip()
    if spec.type == "date" and (match := _DMY.fullmatch(text)):
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    if spec.type == "list" and spec.item_fields is None:
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(cell: object) -> str:
    return "" if cell is None else str(cell)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def is_xlsx(filename: str, content: bytes) -> bool:
    """An XLSX (a zip) by its first bytes or its name; anything else is read as CSV."""
    return content.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm"))


def _read_csv(content: bytes) -> Iterator[list[object]]:
    if b"\x00" in content:
        raise StaffListInvalid([RowProblem(1, "-", "bukan berkas CSV (berisi data biner)")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in the ANSI code page.
        text = content.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    # Indonesian Excel separates with ";" (the comma is the decimal mark).
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            yield list(cells)
    except csv.Error as exc:
        raise StaffListInvalid(
            [RowProblem(reader.line_num, "-", f"CSV tidak terbaca: {exc}")]
        ) from exc


def _read_xlsx(content: bytes) -> Iterator[list[object]]:
    import openpyxl  # imported here: only XLSX uploads need it

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise StaffListInvalid([RowProblem(1, "-", "bukan berkas XLSX yang sah")]) from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise StaffListInvalid([RowProblem(1, "-", "isi XLSX terlalu besar setelah dibuka")])
    try:
        # openpyxl parses with defusedxml when it is installed (it is a dependency here).
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises assorted errors for damaged files
        raise StaffListInvalid([RowProblem(1, "-", f"XLSX tidak terbaca: {exc}")]) from exc
    try:
        sheet = book.worksheets[0]
        # What the sheet's <dimension> says (None where it is missing), before reading a row.
        _check_sheet_size(sheet.max_row, sheet.max_column)
        # Bounded whatever the dimension says (it may be missing or lie): one row past the
        # limit is enough to refuse.
        rows = sheet.iter_rows(
            values_only=True, max_row=MAX_SHEET_ROWS + 1, max_col=MAX_COLUMNS + 1
        )
        for number, cells in enumerate(rows, start=1):
            if number > MAX_SHEET_ROWS:
                raise _sheet_too_big(f"lebih dari {angka(MAX_SHEET_ROWS)} baris", row=number)
            row = list(cells)
            while row and _blank(row[-1]):  # read-only sheets pad every row to max_col
                row.pop()
            yield row
    except StaffListInvalid:
        raise
    except Exception as exc:
        raise StaffListInvalid([RowProblem(1, "-", f"XLSX tidak terbaca: {exc}")]) from exc
    finally:
        book.close()


def _check_sheet_size(rows: int | None, columns: int | None) -> None:
    """Raises StaffListInvalid: the sheet reaches past MAX_SHEET_ROWS or MAX_COLUMNS."""
    if rows is not None and rows > MAX_SHEET_ROWS:
        raise _sheet_too_big(f"sampai baris {angka(rows)}", row=rows)
    if columns is not None and columns > MAX_COLUMNS:
        raise _sheet_too_big(
            f"sampai kolom {_column_letter(columns - 1)} (kolom ke-{angka(columns)})",
            column=_column_letter(columns - 1),
        )


def _sheet_too_big(reach: str, *, row: int = 1, column: str = "-") -> StaffListInvalid:
    limit = (
        f"paling banyak {angka(MAX_SHEET_ROWS)} baris (judul dan {angka(MAX_ROWS)} baris data) "
        f"dan {MAX_COLUMNS} kolom"
    )
    advice = "hapus baris dan kolom kosong di bawah dan di kanan data, lalu simpan ulang"
    return StaffListInvalid(
        [RowProblem(row, column, f"lembar kerja {reach}; {limit}; {advice}")],
        detail=f"Daftar terlalu besar: lembar kerja {reach}; {limit}",
    )
