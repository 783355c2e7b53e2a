"""The import's first stages: read → decode → parse → check the header.

The upload is streamed from object storage one CSV record at a time, in passes that each
open it again through an `Opener`: `survey` reads it all before anything is applied (picks
the encoding: UTF-8 with or without BOM, else Windows-1252 when any byte is not UTF-8;
checks the header and every limit; counts data rows), then `read_rows` yields the data rows
with spreadsheet row numbers (header = row 1; blank rows skipped but numbered) to the
pipeline and later to the reports. Any problem is `FileRefused`, whose message a teacher reads.

What a caller must know:

- Memory is bounded whatever the file: bytes are counted as they arrive (no size header is
  trusted), a physical line is read at most `max_columns × (max_cell_chars + 3)` characters
  at a time, and `csv.field_size_limit` stops any cell just past `max_cell_chars`. That
  setting is process-wide: while parses run it holds the largest of their limits.
- Time is bounded too: between data rows, a run of blank lines (nothing but spaces, tabs and
  commas) is passed over in a few string operations per block of text, not one csv record
  each, so a file of nothing but line ends is read about as fast as it is decoded, up to the
  byte limit. The rows after such a run keep their spreadsheet numbers.
- A file that starts like something else (UTF-16/32, gzip, ZIP or .xlsx, .xls, PDF, a web
  page, or binary: over 5% control bytes in its first KB) is refused, naming what it looks
  like. A NUL or other control character in a cell of a text file is passed on as read: the
  column codecs refuse it, so it is that row's problem. A file with a UTF-8 BOM that is not
  UTF-8 further on is refused, not read as Windows-1252 (which would garble its header).
- Cells come as read (not stripped, formula quotes kept); a row may be shorter or longer than
  the header. Only positions in `Header.columns` carry data: cells under blank, unknown or
  `Row`/`Result`/`Errors` headers are ignored. `read_rows` holds the file open until it is
  exhausted or closed.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from jobs.csv_lines import CountingReader, PhysicalLines, TooManyBytes
from jobs.errors import FileRefused
from schemas.columns import Column, Entity, find_column, required_columns
from schemas.products import Product

Opener = Callable[[], AbstractContextManager[BinaryIO]]
Records = Generator[tuple[int, list[str]], None, None]
HeaderCheck = Callable[[Sequence[str]], "Header"]

ENCODINGS = ("utf-8", "cp1252")
IGNORED_HEADERS = frozenset({"row", "result", "errors"})
"""Columns the import's own result and errors files add, ignored so those can be uploaded."""

_HEAD_BYTES = 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_SAVE_AS = 'Save it from your spreadsheet as "CSV UTF-8 (Comma delimited)" and upload it again.'
_UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_SIGNATURES = (
    (b"\x1f\x8b", "a compressed (gzip) file", "Uncompress it and upload the .csv file inside."),
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)", _SAVE_AS),
    (b"PK\x05\x06", "an empty ZIP archive", "Upload the .csv file itself."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", _SAVE_AS),
    (b"%PDF-", "a PDF document", "Export the roster again and upload the CSV file."),
)
_CONTROL_BYTES = bytes(range(0x09)) + bytes(range(0x0E, 0x20))
# A browser's "Save as" puts a comment (<!-- saved from url=… -->) before the page itself.
_WEB_PAGE = re.compile(rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype html|html)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ImportLimits:
    """The most one import reads; past any of them the file is refused, naming the limit."""

    max_bytes: int = 100 * 1024 * 1024
    max_rows: int = 1_000_000
    max_columns: int = 200
    max_cell_chars: int = 10_000


@dataclass(frozen=True)
class Header:
    """The file's first row: `cells` as read (BOM removed, not stripped); `columns` pairs each
    known column with its position, in file order; `unknown` holds the other headers (each
    once, stripped), to be reported."""

    cells: tuple[str, ...]
    columns: tuple[tuple[int, Column], ...]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class FileSurvey:
    """What the first pass learned: `encoding` is "utf-8" or "cp1252" for CSV text (another
    reader names itself); `rows` excludes blanks; `part` is where in a package the rows are
    (an XLSX worksheet), for the passes after the survey."""

    encoding: str
    rows: int
    header: Header
    part: str | None = None


class _NotUtf8(FileRefused):
    """The file is not UTF-8 text."""


def survey(
    open_file: Opener, *, entity: Entity, purchased: Collection[Product], limits: ImportLimits
) -> FileSurvey:
    """Check the whole file before anything is applied; raise FileRefused if it cannot be."""
    check = partial(check_header, entity=entity, purchased=purchased)
    try:
        return _survey_as(open_file, "utf-8", check, limits)
    except _NotUtf8:
        return _survey_as(open_file, "cp1252", check, limits, inspect=_refuse_mixed_encodings)


def read_rows(open_file: Opener, *, encoding: str, limits: ImportLimits) -> Records:
    """Yield `(spreadsheet row number, cells)` of every non-blank data row.

    `encoding` is `FileSurvey.encoding`. The limits are enforced again in case the file
    changed, but the pipeline relies on `survey` having passed.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    with closing(_records(open_file, encoding, limits)) as records:
        if next(records, None) is None:
            raise FileRefused("The file is empty.")
        yield from _data_rows(records, limits)


def check_header(cells: Sequence[str], *, entity: Entity, purchased: Collection[Product]) -> Header:
    """Match the header row to the entity's columns; raise FileRefused if it cannot be used."""
    if _is_blank(cells):
        headers = ", ".join(column.header for column in required_columns(entity))
        raise FileRefused(
            "The first row must be the header row, but row 1 of the file is empty. "
            f"Put the column headers ({headers}) in row 1 and upload the file again."
        )
    if len(cells) == 1 and cells[0].count(";") >= 2:
        raise FileRefused(
            "The file separates its cells with ';' instead of ',' (a spreadsheet set to a "
            f"European list separator saved it). {_SAVE_AS}"
        )
    columns, unknown = _match_headers(cells, entity, purchased)
    _refuse_duplicates(columns)
    _refuse_missing(cells, columns, entity, purchased)
    return Header(tuple(cells), tuple(columns), tuple(unknown))


def encoding_warning(encoding: str) -> str | None:
    """The sentence the import report shows about the file's encoding, if any."""
    if encoding != "cp1252":
        return None
    return (
        "The file was not saved as UTF-8, so it was read as Windows-1252 (Excel's plain "
        '"CSV (Comma delimited)"). Check that accented letters look right: letters that '
        "Windows-1252 cannot hold may have been saved as '?' or '_'. Next time, save as "
        '"CSV UTF-8 (Comma delimited)".'
    )


def _survey_as(
    open_file: Opener,
    encoding: str,
    check: HeaderCheck,
    limits: ImportLimits,
    inspect: Callable[[int, list[str]], None] | None = None,
) -> FileSurvey:
    with closing(_records(open_file, encoding, limits)) as records:
        first = next(records, None)
        if first is None:
            raise FileRefused("The file is empty.")
        header = check(first[1])
        rows = 0
        for number, cells in _data_rows(records, limits):
            if inspect is not None:
                inspect(number, cells)
            rows += 1
    return FileSurvey(encoding, rows, header)


# UTF-8 letters as Windows-1252 shows them: "Ã©" for "é" (lead bytes C3-C5 cover U+00C0 to
# U+017F, accented Latin letters) and "á»…" for "ễ" (E1 B8-BB: Vietnamese letters). Narrow on
# purpose: plain Windows-1252 text almost never has these pairs, so a real Windows-1252
# file is not refused, while a UTF-8 export saved back with one row in Windows-1252 is.
_CONTINUATION = re.escape(bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore"))
_UTF8_AS_CP1252 = re.compile(
    f"[\u00c3\u00c4\u00c5][{_CONTINUATION}]|\u00e1[\u00b8-\u00bb][{_CONTINUATION}]"
)


def _refuse_mixed_encodings(number: int, cells: list[str]) -> None:
    """A file with UTF-8 rows and Windows-1252 rows (a UTF-8 export edited by a tool that
    saved its own rows as Windows-1252) would have every accented UTF-8 name garbled."""
    if any(_UTF8_AS_CP1252.search(cell) for cell in cells):
        raise FileRefused(
            f"The file mixes UTF-8 text with Windows-1252 text (row {number:,} is UTF-8, other "
            "rows are not), so its accented letters cannot all be read correctly. "
            f"{_SAVE_AS}"
        )


def _data_rows(records: Iterator[tuple[int, list[str]]], limits: ImportLimits) -> Records:
    count = 0
    for number, cells in records:
        if _is_blank(cells):
            continue
        count += 1
        if count > limits.max_rows:
            raise FileRefused(
                f"The file has more rows than the limit of {limits.max_rows:,} for one import "
                f"(row {number:,} is past it). Split it into smaller files and import each one."
            )
        yield number, cells


def _is_blank(cells: Sequence[str]) -> bool:
    if cells and cells[0] and not cells[0][0].isspace():
        return False  # a first cell that starts with text: every row of a usual file
    return all(not cell.strip() for cell in cells)


# Reading and decoding


def _records(open_file: Opener, encoding: str, limits: ImportLimits) -> Records:
    """Every CSV record of the file, header and blank ones included, within the limits."""
    with open_file() as stream, _field_limit(limits.max_cell_chars + 1):
        source = CountingReader(stream, limits.max_bytes)
        head = source.head(_HEAD_BYTES)
        _refuse_non_csv(head)
        codec = "utf-8-sig" if encoding == "utf-8" else encoding
        text = io.TextIOWrapper(io.BufferedReader(source), encoding=codec, newline="")
        try:
            yield from _RecordReader(text, limits)
        except UnicodeDecodeError as err:
            raise _decode_refusal(err, encoding, head.startswith(_UTF8_BOM)) from err


def _decode_refusal(err: UnicodeDecodeError, encoding: str, bom: bool) -> FileRefused:
    byte = f"0x{err.object[err.start : err.start + 1].hex().upper()}"
    if encoding == "cp1252":
        return FileRefused(
            f"The file is neither UTF-8 nor Windows-1252 text (it holds the byte {byte}, "
            f"which neither can read). {_SAVE_AS}"
        )
    if bom:
        return FileRefused(
            f"The file starts as UTF-8 text but is not valid UTF-8 further on "
            f"(byte {byte}). {_SAVE_AS}"
        )
    return _NotUtf8(f"The file is not valid UTF-8 text (byte {byte}). {_SAVE_AS}")


def _refuse_non_csv(head: bytes) -> None:
    """Refuse a file that plainly is not CSV text, saying what it looks like."""
    unicode = next((name for bom, name in _UNICODE_BOMS if head.startswith(bom)), None)
    for signature, what, advice in _SIGNATURES:
        if unicode is None and head.startswith(signature):
            raise FileRefused(f"The file is {what}, not a CSV file. {advice}")
    if unicode is None and _looks_like_utf16(head):
        unicode = "UTF-16"
    if unicode is not None:
        raise FileRefused(
            f"The file is saved as {unicode} text, which import cannot read. {_SAVE_AS}"
        )
    if 20 * (len(head) - len(head.translate(None, _CONTROL_BYTES))) > len(head):
        raise FileRefused(
            f"The file holds binary data, not text, so it is not a CSV file. {_SAVE_AS}"
        )
    if _WEB_PAGE.match(head.removeprefix(_UTF8_BOM)):
        raise FileRefused(
            "The file looks like a web page (for example an error page saved by the browser), "
            "not a CSV export. Download the export again, or save your spreadsheet as "
            '"CSV UTF-8 (Comma delimited)", and upload that file.'
        )


def _looks_like_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: every other byte of Latin text is NUL."""
    halves = (head[0::2], head[1::2])
    return len(head) >= 4 and any(10 * half.count(0) >= 9 * len(half) for half in halves)


# Parsing


class _RecordReader:
    """CSV records one at a time, each checked against the limits as it is read.

    csv takes the end of each string it is given as a line end, so it gets whole physical
    lines, each cut at `line_cap` characters. A line that long breaks a limit (or is mostly
    doubled quotes): it is parsed, so the message can name the limit, then refused.
    """

    def __init__(self, text: io.TextIOWrapper, limits: ImportLimits) -> None:
        self._text = PhysicalLines(text)
        self._limits = limits
        self._line_cap = limits.max_columns * (limits.max_cell_chars + 3)
        self._records = 0
        self._at_end = self._cut = self._continued = False

    @property
    def _row(self) -> int:
        """The spreadsheet number of the record being read: records so far, blank lines too."""
        return self._records + self._text.blank_lines

    def __iter__(self) -> Records:
        reader = csv.reader(self._lines(), dialect="excel")
        while True:
            self._records += 1
            cells = self._next(reader)
            if cells is None:
                return
            self._check(cells)
            self._continued = False
            yield self._row, cells

    def _lines(self) -> Iterator[str]:
        while line := self._next_line():
            if self._cut:
                raise FileRefused(self._too_long())
            if not self._continued and '"' not in line:
                # A record starting on a line without quotes has one cell per comma and one:
                # refuse a million of them before csv builds the list.
                self._check_count(line.count(",") + 1)
            self._cut = len(line) >= self._line_cap and not line.endswith(("\n", "\r"))
            self._continued = True
            yield line
        self._at_end = True

    def _next_line(self) -> str:
        if not self._continued and self._records > 1:
            # Between data rows (the header is row 1 even when blank, so it is never skipped)
            self._text.skip_blank_lines(self._line_cap)
        return self._text.readline(self._line_cap)

    def _next(self, reader: Iterator[list[str]]) -> list[str] | None:
        try:
            return next(reader, None)
        except csv.Error as err:
            if "field larger than field limit" in str(err):
                raise FileRefused(self._cell_too_long()) from err
            raise FileRefused(f"Row {self._row:,} cannot be read as CSV ({err}).") from err
        except TooManyBytes as err:
            raise FileRefused(
                f"The file is larger than {_size(self._limits.max_bytes)}, the most one import "
                f"may read (the limit was reached near row {self._row:,}). Split it into "
                "smaller files and import each one."
            ) from err

    def _check(self, cells: list[str]) -> None:
        if self._at_end:
            # Only a quoted cell still open on the last line makes csv read past the end.
            raise FileRefused(
                f'Row {self._row:,} has a quote mark (") that is never closed, so the rest of '
                "the file ran into one cell. Close or remove that quote and upload again."
            )
        self._check_count(len(cells))
        if self._cut:
            raise FileRefused(self._too_long())
        if cells and max(map(len, cells)) > self._limits.max_cell_chars:
            raise FileRefused(self._cell_too_long())

    def _check_count(self, cells: int) -> None:
        if cells > self._limits.max_columns:
            raise FileRefused(
                f"Row {self._row:,} has more than {self._limits.max_columns:,} cells, the most a "
                "row may have. Remove the extra columns (or stray commas) and upload again."
            )

    def _cell_too_long(self) -> str:
        return (
            f"Row {self._row:,} has a cell longer than {self._limits.max_cell_chars:,} "
            "characters, the most a cell may hold. If that cell should be short, look for a "
            'quote mark (") that is never closed.'
        )

    def _too_long(self) -> str:
        return (
            f"Row {self._row:,} is longer than {self._line_cap:,} characters, the most a "
            f"row of {self._limits.max_columns:,} columns may hold."
        )


_field_limit_lock = threading.Lock()
_field_limits: list[int] = []  # of the parses running now
_field_limit_saved = [csv.field_size_limit()]


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """Set `csv.field_size_limit`, one setting for the whole process while imports may run in
    several threads: it holds the largest limit of the running parses, then its former value."""
    with _field_limit_lock:
        if not _field_limits:
            _field_limit_saved[0] = csv.field_size_limit()
        _field_limits.append(limit)
        csv.field_size_limit(max(_field_limits))
    try:
        yield
    finally:
        with _field_limit_lock:
            _field_limits.remove(limit)
            csv.field_size_limit(max(_field_limits, default=_field_limit_saved[0]))


# The header


def _match_headers(
    cells: Sequence[str], entity: Entity, purchased: Collection[Product]
) -> tuple[list[tuple[int, Column]], list[str]]:
    columns: list[tuple[int, Column]] = []
    unknown: list[str] = []
    for position, cell in enumerate(cells):
        name = cell.strip()
        if not name or name.casefold() in IGNORED_HEADERS:
            continue
        column = find_column(entity, name, purchased)
        if column is not None:
            columns.append((position, column))
        elif name not in unknown:
            unknown.append(name)
    return columns, unknown


def _refuse_duplicates(columns: Sequence[tuple[int, Column]]) -> None:
    seen: dict[str, int] = {}
    for position, column in columns:
        if column.header in seen:
            raise FileRefused(
                f"The column '{column.header}' appears twice in the header (columns "
                f"{_column_letter(seen[column.header])} and {_column_letter(position)}). "
                "Keep one of them and upload the file again."
            )
        seen[column.header] = position


def _refuse_missing(
    cells: Sequence[str],
    columns: Sequence[tuple[int, Column]],
    entity: Entity,
    purchased: Collection[Product],
) -> None:
    present = {column.header for _, column in columns}
    missing = [c.header for c in required_columns(entity) if c.header not in present]
    if not missing:
        return
    names = ", ".join(f"'{header}'" for header in missing)
    message = f"The file has no {names} column(s), which {entity.label} files need."
    other = _other_entity(cells, entity, purchased)
    if other is not None:
        article = "an" if other.label[0] in "AEIOU" else "a"
        message += f" This looks like {article} {other.label} file; import it as {other.label}."
    raise FileRefused(message)


def _other_entity(
    cells: Sequence[str], entity: Entity, purchased: Collection[Product]
) -> Entity | None:
    """The other entity whose required headers are all in `cells`, if any."""
    for other in Entity:
        found = {column.header for cell in cells if (column := find_column(other, cell, purchased))}
        if other is not entity and all(c.header in found for c in required_columns(other)):
            return other
    return None


def _column_letter(position: int) -> str:
    """The spreadsheet's name of a column: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    number = position + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _size(count: int) -> str:
    megabytes = count / (1024 * 1024)
    return f"{megabytes:,.4g} MB" if megabytes >= 1 else f"{count:,} bytes"
