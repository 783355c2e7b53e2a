"""XLSX tables: every cell a text cell, the sheet streamed into its zip, never held whole.

A workbook is a zip of XML parts; only the worksheet grows with the rows, and it is written
as the rows arrive (deflate level 1: the XML is repetitive enough that a higher level buys
little and costs a third more time), the other parts when the table ends, once the number of
rows is known. What a caller must know:

- every cell is an inline string (`t="inlineStr"`), exactly the value, never a formula (no
  `'` before a formula start: a text cell is never run), and the workbook's default style
  (index 0) has the text number format `@`, so a cell a person types into later is text
  too: `00123` keeps its zeros and an 18-digit ID stays whole;
- the header row is bold, frozen and filtered; each column whose values are fixed (the
  layout's `choices`) carries a drop-down list on every data row;
- characters XML cannot carry (control characters other than tab and line feed, and the
  carriage return, which XML would turn into a line feed) are written as the spreadsheet
  escape `_xHHHH_`, and a literal `_xHHHH_` as `_x005F_xHHHH_`, so every value comes back
  exactly (`jobs.xlsx_in` reads the escape);
- a sheet holds at most `SHEET_ROWS` rows: past that, `TableTooLong`, nothing stored;
- a cell that a reader marked as a formula (`schemas.cells.FORMULA`) is written as the
  formula's text, so an import's report shows what the teacher typed.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO
from xml.sax.saxutils import quoteattr

from jobs.errors import RequestRefused
from jobs.tables import PLAIN, TableLayout
from schemas.cells import formula_text

SHEET_ROWS = 1_048_576
"""The most rows a worksheet holds (the header is one of them)."""
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_FLUSH_CHARS = 1 << 20

_CELL = '<c t="inlineStr"><is><t>'
_CELL_END = "</t></is></c>"
_SEP = _CELL_END + _CELL
_EMPTY = _CELL + _CELL_END
_JOIN = "\x1f"
_SPECIAL_CHARS = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1e\ufffe\uffff]")
_EDGES = tuple(f"{a}{b}" for a in " \t\n" for b in _JOIN) + tuple(
    f"{b}{a}" for a in " \t\n" for b in _JOIN
)
_SEP_BYTES = _SEP.encode()
_EMPTY_BYTES = _EMPTY.encode()
_FIRST_CELL_BYTES = ("<row>" + _CELL).encode()
_LAST_CELL_BYTES = (_CELL_END + "</row>").encode()
_NEXT_ROW_BYTES = _LAST_CELL_BYTES + _FIRST_CELL_BYTES
_ODD_BYTES = re.compile(rb"[\x00\x02-\x08\x0b-\x1f]")
_ODD_PAIRS = (
    b"_x",
    b"\xef\xbf\xbe",
    b"\xef\xbf\xbf",
    *(a + b for a in (b"\x01", b"\n") for b in (b" ", b"\t")),
    *(b + a for a in (b"\x01", b"\n") for b in (b" ", b"\t")),
)
_UNSAFE = re.compile("[\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_EDGE_SPACE = frozenset(" \t\n")
_LOOKALIKE = re.compile("_x[0-9A-Fa-f]{4}_")


class TableTooLong(RequestRefused):
    """The table has more rows than a worksheet holds."""


@dataclass(frozen=True)
class XlsxTable:
    """An Excel workbook of one worksheet named after `layout.sheet`."""

    name: str = "xlsx"
    extension: str = "xlsx"
    media_type: str = MEDIA_TYPE
    neutralised: bool = False
    most_rows: int | None = SHEET_ROWS - 1

    @contextmanager
    def rows_into(self, raw: BinaryIO, layout: TableLayout = PLAIN) -> Iterator[SheetRows]:
        with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zip_:
            with zip_.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
                sheet = SheetRows(part, layout)
                yield sheet
                sheet.finish()
            for name, xml in package_parts(layout.sheet, sheet.filter_range):
                zip_.writestr(name, xml)


XLSX = XlsxTable()


class SheetRows:
    """Rows into a worksheet's XML: the first is the header. `write_xml` takes rows already
    rendered as `<row>` elements (the Postgres fast path renders them in SQL)."""

    def __init__(self, part: IO[bytes], layout: TableLayout) -> None:
        self._part = part
        self._layout = layout
        self._pending: list[str] = []
        self._size = 0
        self.rows = 0
        self.width = 0

    def writerow(self, cells: Sequence[str], /) -> None:
        if self.rows == 0:
            self._start(cells)
            return
        self._count(1)
        joined = _JOIN.join(cells)
        if _special(joined) or joined.count(_JOIN) != len(cells) - 1:
            self._add(f'<row r="{self.rows}">{"".join(map(cell_xml, cells))}</row>')
        else:
            joined = joined.replace(_JOIN, _SEP)
            self._add(f'<row r="{self.rows}">{_CELL}{joined}{_CELL_END}</row>')

    def write_records(self, block: bytes) -> None:
        """Whole records of exact cells, as `storage.export_copy.CELL_RECORDS` has Postgres
        write them: cells split by 0x01, each record ending with LF. The usual block becomes
        worksheet XML in a few byte replacements; one holding a quoted cell, a character
        that needs escaping or a cell with spaces at an end goes through `writerow`."""
        if _odd(block):
            text = block.decode("utf-8")
            for cells in csv.reader(io.StringIO(text), delimiter="\x01", quotechar="\x02"):
                self.writerow(cells)
            return
        self._count(block.count(b"\n"))
        self._flush()
        body = block[:-1].replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
        body = body.replace(b"\x01", _SEP_BYTES).replace(b"\n", _NEXT_ROW_BYTES)
        xml = _FIRST_CELL_BYTES + body + _LAST_CELL_BYTES
        self._part.write(xml.replace(_EMPTY_BYTES, b"<c/>"))

    def finish(self) -> None:
        if self.rows == 0:
            self._start(())
        self._add("</sheetData>")
        self._add(f'<autoFilter ref="{self.filter_range}"/>')
        self._add(data_validations(self._layout.choices, self.width))
        self._add("</worksheet>")
        self._flush()

    @property
    def filter_range(self) -> str:
        return f"A1:{column_letters(max(self.width, 1))}{max(self.rows, 1)}"

    def _start(self, header: Sequence[str]) -> None:
        self.rows, self.width = 1, len(header)
        self._add(_DECLARATION + f'<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">')
        self._add(
            '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            "</sheetView></sheetViews>"
        )
        self._add(column_widths(header, self._layout.choices))
        cells = "".join(cell_xml(title, style=' s="1"') for title in header)
        self._add(f'<sheetData><row r="1">{cells}</row>')

    def _count(self, rows: int) -> None:
        self.rows += rows
        if self.rows > SHEET_ROWS:
            raise TableTooLong(
                f"An XLSX worksheet holds at most {SHEET_ROWS - 1:,} rows below its header; "
                "filter the export or export it as CSV."
            )

    def _add(self, xml: str) -> None:
        self._pending.append(xml)
        self._size += len(xml)
        if self._size >= _FLUSH_CHARS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            block = "".join(self._pending).replace(_EMPTY, "<c/>")
            self._part.write(block.encode("utf-8"))
            self._pending.clear()
            self._size = 0


def _special(joined: str) -> bool:
    """Whether a row's cells, joined by 0x1F, need escaping one by one: a character XML
    must escape or cannot hold, an escape's look-alike, a space or tab at a cell's end.
    (A few substring tests and one character class: far faster than one regex of them.)"""
    if _SPECIAL_CHARS.search(joined) or ("_x" in joined and _LOOKALIKE.search(joined) is not None):
        return True
    if joined[:1] in _EDGE_SPACE or joined[-1:] in _EDGE_SPACE:
        return bool(joined)
    return any(edge in joined for edge in _EDGES)


def _odd(block: bytes) -> bool:
    """Whether a block of COPY records cannot become XML by byte replacements: a quoted cell
    (0x02: one holding a line break), a control character, an escape's look-alike,
    U+FFFE/U+FFFF, a cell with a space or tab at an end. (An empty cell, two separators in
    a row, is not one.)"""
    if _ODD_BYTES.search(block):
        return True
    if block[:1] in (b" ", b"\t"):
        return True
    return any(pair in block for pair in _ODD_PAIRS)


def cell_xml(cell: str, *, style: str = "") -> str:
    """One text cell: markup escaped, unsafe characters as `_xHHHH_`, and `xml:space`
    kept where the text starts or ends with whitespace."""
    if not cell:
        return f"<c{style}/>"
    text = text_xml(cell)
    if cell[0] in _EDGE_SPACE or cell[-1] in _EDGE_SPACE:
        return f'<c{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c{style} t="inlineStr"><is><t>{text}</t></is></c>'


def text_xml(cell: str) -> str:
    """Text as XML character data: markup escaped, unsafe characters as `_xHHHH_`; a cell a
    reader marked as a formula is its formula's text."""
    cell = formula_text(cell)
    if _UNSAFE.search(cell):
        cell = _UNSAFE.sub(_escape_unsafe, cell)
    return cell.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_unsafe(match: re.Match[str]) -> str:
    return f"_x{ord(match.group()):04X}_"


def column_letters(number: int) -> str:
    """The spreadsheet name of the 1-based column `number` (1 → A, 27 → AA)."""
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def column_widths(header: Sequence[str], choices: Sequence[tuple[str, ...]]) -> str:
    """A width per column from its header and its longest choice: wide enough to read,
    never wider than a screen's third."""
    if not header:
        return ""
    cols = []
    for number, title in enumerate(header, start=1):
        fixed = choices[number - 1] if number - 1 < len(choices) else ()
        longest = max((len(title), *(len(value) + 3 for value in fixed), 10))
        width = min(longest + 2, 60)
        cols.append(f'<col min="{number}" max="{number}" width="{width}" customWidth="1"/>')
    return f"<cols>{''.join(cols)}</cols>"


def data_validations(choices: Sequence[tuple[str, ...]], width: int) -> str:
    """A drop-down list on every data row of each column with fixed values. A list a
    spreadsheet cannot hold inline (a value with a comma or quote, over 255 characters) is
    left out: the import checks the values anyway."""
    lists = []
    for number, fixed in enumerate(choices[:width], start=1):
        listed = ",".join(fixed)
        if not fixed or len(listed) > 255 or any("," in v or '"' in v for v in fixed):
            continue
        letters = column_letters(number)
        lists.append(
            '<dataValidation type="list" allowBlank="1" showErrorMessage="1" '
            f'errorTitle="Not in the list" error={quoteattr("Choose one of: " + listed)} '
            f'sqref="{letters}2:{letters}{SHEET_ROWS}">'
            f"<formula1>{text_xml(chr(34) + listed + chr(34))}</formula1></dataValidation>"
        )
    if not lists:
        return ""
    return f'<dataValidations count="{len(lists)}">{"".join(lists)}</dataValidations>'


def package_parts(sheet: str, filter_range: str) -> list[tuple[str, str]]:
    """The workbook's parts besides its worksheet."""
    name = quoteattr(sheet_name(sheet))
    absolute = re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", filter_range)
    quoted_sheet = "'" + sheet_name(sheet).replace("'", "''") + "'"
    return [
        ("[Content_Types].xml", _CONTENT_TYPES),
        ("_rels/.rels", _ROOT_RELS),
        (
            "xl/workbook.xml",
            _DECLARATION + f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
            "<bookViews><workbookView/></bookViews>"
            f'<sheets><sheet name={name} sheetId="1" r:id="rId1"/></sheets>'
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" '
            f'hidden="1">{text_xml(quoted_sheet)}!{absolute}</definedName></definedNames>'
            "</workbook>",
        ),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ("xl/styles.xml", _STYLES),
    ]


def sheet_name(name: str) -> str:
    """A name a spreadsheet accepts for a worksheet: at most 31 characters, none of `[]:*?/\\`."""
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", name).strip("' ")[:31]
    return cleaned or "Sheet1"


_CONTENT_TYPES = (
    _DECLARATION + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _DECLARATION + f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _DECLARATION + f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    _DECLARATION + f'<styleSheet xmlns="{MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="49" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="2">'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" '
    'applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
