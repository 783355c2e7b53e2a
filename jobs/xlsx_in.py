"""Reading an XLSX upload: the workbook checked, then its worksheet's rows as a stream.

The worksheet named after the entity is read, else the first one. Its XML is inflated and
scanned a block at a time (`jobs.xlsx_sheet`), never parsed whole, so memory does not grow
with rows; shared strings are held (at most `MAX_SHARED_STRINGS`), as every reader must.
What a caller must know:

- cells come as the CSV reader gives them: the value as a spreadsheet shows it (a number
  as its shortest text, `123` never `123.0`, a date as `YYYY-MM-DD`, a boolean as Yes or
  No), passed through `schemas.cells.neutralise` so that the import's `cell_value` gives
  back the exact text (a text cell is never a formula, so `=1+2` typed as text is a name);
  a cell holding a formula comes as `schemas.cells.formula_cell`, which every codec
  refuses as a formula;
- row numbers are the worksheet's own (its row 1 is the header); blank rows are skipped but
  numbered; cells and rows a spreadsheet leaves formatted but empty count for nothing;
- a hostile or damaged workbook is refused with one sentence before anything is applied
  (`FileRefused`): no XML part may carry a DOCTYPE (so no entity is ever expanded or
  fetched: the scanner expands none anyway), no part may unpack to more than
  `ImportLimits.max_bytes × UNPACK_FACTOR`, and the CSV import's limits on rows, columns
  and cell length hold. An old `.xls`, a password-protected workbook (also an OLE2 file),
  an OpenDocument spreadsheet, a plain ZIP and a damaged file are each named as such.
"""

from __future__ import annotations

import io
import posixpath
import re
import tempfile
import zipfile
import zlib
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO, cast
from xml.etree import ElementTree

from jobs import xlsx_sheet
from jobs.csv_in import FileSurvey, ImportLimits, Opener, Records, check_header
from jobs.errors import FileRefused
from jobs.tables import TableFormat
from jobs.xlsx_out import MAIN, XLSX
from schemas.columns import Entity
from schemas.products import Product

ZIP = b"PK\x03\x04"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
UNPACK_FACTOR = 20
"""How many times the upload limit one XML part may unpack to: a real worksheet's XML is
10-20 times its compressed size; a zip bomb's is thousands of times."""
MAX_SMALL_PART = 16 * 1024 * 1024
"""The most the workbook, its relationships or its styles may unpack to."""
MAX_SHARED_STRINGS = 3_000_000
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_SAVE_AGAIN = "Open it in your spreadsheet, save it as Excel Workbook (.xlsx), and upload it again."
_PROLOGUE_ITEM = re.compile(rb"\s*(?:\xef\xbb\xbf)?(?:<\?.*?\?>|<!--.*?-->)", re.S)
_MOST_PROLOGUE = 1024 * 1024


@dataclass(frozen=True)
class Workbook:
    """Where the rows are: the worksheet's part, and what its cells refer to."""

    sheet: str
    shared_strings: str | None
    date_styles: frozenset[int]
    date1904: bool


class XlsxReader:
    """An Excel workbook (`.xlsx`), recognised by its ZIP or OLE2 signature."""

    name = "xlsx"
    description = "an Excel workbook (XLSX)"

    def __init__(self) -> None:
        self.reports: TableFormat = XLSX

    def recognises(self, head: bytes) -> bool:
        return head.startswith((ZIP, OLE2))

    def survey(
        self,
        open_file: Opener,
        *,
        entity: Entity,
        purchased: Collection[Product],
        limits: ImportLimits,
    ) -> FileSurvey:
        found: list[str] = []
        with closing(_rows(open_file, entity.value, limits, found)) as rows:
            first = next(rows, None)
            header = check_header(_header_cells(first), entity=entity, purchased=purchased)
            count = sum(1 for _ in rows)
        return FileSurvey(self.name, count, header, part=found[0])

    def read_rows(self, open_file: Opener, survey: FileSurvey, *, limits: ImportLimits) -> Records:
        """The data rows of the worksheet `survey` read (`FileSurvey.part`)."""
        with closing(_rows(open_file, survey.part, limits, [])) as rows:
            next(rows, None)
            yield from rows

    def warnings(self, survey: FileSurvey) -> dict[str, object]:
        return {}


def _header_cells(first: tuple[int, list[str]] | None) -> list[str]:
    if first is None:
        raise FileRefused("The workbook's worksheet is empty: it has no header row.")
    number, cells = first
    return cells if number == 1 else []


def _rows(open_file: Opener, sheet: str | None, limits: ImportLimits, found: list[str]) -> Records:
    """The first row there is (row 1: the header), then every non-blank row, of the
    worksheet `sheet` names (an entity, or a part the survey found); the part read is
    appended to `found`."""
    with open_file() as raw, _local(raw, limits) as local, _workbook_zip(local) as package:
        workbook = find_sheet(package, sheet)
        found.append(workbook.sheet)
        with shared_strings(package, workbook, limits) as shared:
            scanner = xlsx_sheet.SheetScanner(
                shared=shared,
                date_styles=workbook.date_styles,
                date1904=workbook.date1904,
                limits=limits,
            )
            with _part(package, workbook.sheet, limits) as part:
                yield from scanner.rows(part)


@contextmanager
def _local(raw: BinaryIO, limits: ImportLimits) -> Iterator[BinaryIO]:
    """The upload as a local file a ZIP reader can seek in: the file itself when it is one
    (folder storage), else a temporary copy (S3, whose every seek would be a request),
    within the upload limit either way."""
    try:
        raw.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        with tempfile.TemporaryFile() as copy:
            _copy_within(raw, copy, limits.max_bytes)
            copy.seek(0)
            yield cast(BinaryIO, copy)
        return
    raw.seek(0, io.SEEK_END)
    if raw.tell() > limits.max_bytes:
        raise _too_large(limits.max_bytes)
    raw.seek(0)
    yield raw


def _copy_within(raw: BinaryIO, copy: IO[bytes], most: int) -> None:
    copied = 0
    while block := raw.read(1024 * 1024):
        copied += len(block)
        if copied > most:
            raise _too_large(most)
        copy.write(block)


def _too_large(most: int) -> FileRefused:
    return FileRefused(
        f"The file is larger than {most / 1024**2:,.0f} MB, the most one import may read. "
        "Split it into smaller files and import each one."
    )


@contextmanager
def _workbook_zip(raw: BinaryIO) -> Iterator[zipfile.ZipFile]:
    head = raw.read(8)
    raw.seek(0)
    if head.startswith(OLE2):
        raise FileRefused(_ole2_refusal(raw))
    try:
        package = zipfile.ZipFile(raw)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise FileRefused(
            f"The file starts like a workbook but is damaged, so it cannot be read. {_SAVE_AGAIN}"
        ) from err
    with package:
        _refuse_other_zips(package)
        yield package


def _ole2_refusal(raw: BinaryIO) -> str:
    """An OLE2 file is an old `.xls` workbook, or a password-protected `.xlsx` (Office wraps
    an encrypted workbook in one, with a stream named EncryptedPackage)."""
    sample = raw.read(1024 * 1024)
    if "EncryptedPackage".encode("utf-16-le") in sample:
        return (
            "The workbook is protected by a password, so it cannot be read. Remove the "
            "password (File > Info > Protect Workbook), save it, and upload it again."
        )
    return f"The file is an Excel 97-2003 workbook (.xls), which import cannot read. {_SAVE_AGAIN}"


def _refuse_other_zips(package: zipfile.ZipFile) -> None:
    names = set(package.namelist())
    if "xl/workbook.xml" in names or "[Content_Types].xml" in names:
        return
    if "manifest.csv" in names:
        raise FileRefused(
            "This file is a OneRoster file set; import it as oneroster (--format oneroster)."
        )
    if "mimetype" in names and "opendocument" in _small(package, "mimetype", 200).decode(
        "ascii", "replace"
    ):
        raise FileRefused(
            "The file is an OpenDocument spreadsheet (.ods), which import cannot read. "
            f"{_SAVE_AGAIN}"
        )
    raise FileRefused(
        "The file is a ZIP archive, not a workbook. Upload the .xlsx or .csv file itself."
    )


def find_sheet(package: zipfile.ZipFile, wanted: str | None) -> Workbook:
    """The worksheet named `wanted` (any case) or whose part is `wanted`, else the first,
    with what its cells refer to."""
    book = _xml(package, "xl/workbook.xml")
    rels = _relationships(package, "xl/_rels/workbook.xml.rels")
    sheets = [
        (sheet.get("name") or "", sheet.get(f"{{{_REL}}}id") or "")
        for sheet in book.iter(f"{{{MAIN}}}sheet")
    ]
    if not sheets:
        raise FileRefused(f"The workbook has no worksheet. {_SAVE_AGAIN}")
    chosen = (wanted or "").casefold()
    name, rel = next(
        (
            (n, r)
            for n, r in sheets
            if n.casefold() == chosen or (r in rels and rels[r][1] == wanted)
        ),
        sheets[0],
    )
    if rel not in rels:
        raise FileRefused(f"The workbook is damaged: worksheet {name!r} is missing. {_SAVE_AGAIN}")
    properties = book.find(f"{{{MAIN}}}workbookPr")
    date1904 = properties is not None and properties.get("date1904") in ("1", "true")
    return Workbook(
        sheet=_existing(package, rels[rel], name),
        shared_strings=_target_of(rels, "/sharedStrings"),
        date_styles=_date_styles(package, _target_of(rels, "/styles")),
        date1904=date1904,
    )


def _existing(package: zipfile.ZipFile, target: tuple[str, str], name: str) -> str:
    path = target[1]
    try:
        package.getinfo(path)
    except KeyError as err:
        raise FileRefused(
            f"The workbook is damaged: worksheet {name!r} is missing. {_SAVE_AGAIN}"
        ) from err
    return path


def _target_of(rels: dict[str, tuple[str, str]], kind: str) -> str | None:
    return next((path for type_, path in rels.values() if type_.endswith(kind)), None)


def _relationships(package: zipfile.ZipFile, name: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, part path) of the workbook's relationships."""
    rels = _xml(package, name)
    found = {}
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        target = rel.get("Target") or ""
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        found[rel.get("Id") or ""] = (rel.get("Type") or "", posixpath.normpath(path))
    return found


def _date_styles(package: zipfile.ZipFile, styles: str | None) -> frozenset[int]:
    """The style indexes whose number format shows a date."""
    if styles is None or styles not in package.namelist():
        return frozenset()
    sheet = _xml(package, styles)
    custom = {
        int(fmt.get("numFmtId") or -1): fmt.get("formatCode") or ""
        for fmt in sheet.iter(f"{{{MAIN}}}numFmt")
    }
    xfs = sheet.find(f"{{{MAIN}}}cellXfs")
    found = set()
    for index, xf in enumerate(xfs if xfs is not None else ()):
        format_id = int(xf.get("numFmtId") or 0)
        if xlsx_sheet.is_date_format(format_id, custom.get(format_id)):
            found.add(index)
    return frozenset(found)


@contextmanager
def shared_strings(
    package: zipfile.ZipFile, workbook: Workbook, limits: ImportLimits
) -> Iterator[xlsx_sheet.Texts]:
    if workbook.shared_strings is None or workbook.shared_strings not in package.namelist():
        yield []
        return
    with (
        _part(package, workbook.shared_strings, limits) as part,
        xlsx_sheet.read_shared_strings(part, most=MAX_SHARED_STRINGS, limits=limits) as texts,
    ):
        yield texts


@contextmanager
def _part(package: zipfile.ZipFile, name: str, limits: ImportLimits) -> Iterator[BinaryIO]:
    """A part of the workbook to stream, checked against unpacking and DOCTYPE bombs."""
    info = package.getinfo(name)
    most = limits.max_bytes * UNPACK_FACTOR
    if info.file_size > most:
        raise FileRefused(
            f"The workbook unpacks to more than {most // 1024**2:,} MB, far more than any "
            f"roster: it may be damaged or built to harm. {_SAVE_AGAIN}"
        )
    try:
        with package.open(info) as stream:
            _refuse_doctype(stream)
        with package.open(info) as stream:
            yield cast(BinaryIO, stream)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise FileRefused(f"The workbook is damaged and cannot be read. {_SAVE_AGAIN}") from err


def _small(package: zipfile.ZipFile, name: str, most: int) -> bytes:
    info = package.getinfo(name)
    if info.file_size > most:
        raise FileRefused(
            f"The workbook's part {name} is far larger than a spreadsheet writes: it may be "
            f"damaged or built to harm. {_SAVE_AGAIN}"
        )
    try:
        return package.read(info)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError) as err:
        raise FileRefused(f"The workbook is damaged and cannot be read. {_SAVE_AGAIN}") from err


def _xml(package: zipfile.ZipFile, name: str) -> ElementTree.Element:
    """A small part parsed whole, once no DOCTYPE can declare an entity in it."""
    try:
        data = _small(package, name, MAX_SMALL_PART)
    except KeyError as err:
        raise FileRefused(f"The workbook is damaged: {name} is missing. {_SAVE_AGAIN}") from err
    _refuse_doctype(io.BytesIO(data))
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as err:
        raise FileRefused(f"The workbook is damaged: {name} is not XML. {_SAVE_AGAIN}") from err


def _refuse_doctype(stream: IO[bytes]) -> None:
    """Read a part's prologue (its XML declaration, comments and processing instructions,
    up to the root element) and refuse a DOCTYPE there, the one place it may stand."""
    data, at = b"", 0
    while True:
        found = _PROLOGUE_ITEM.match(data, at)
        if found is not None and found.end() < len(data):
            at = found.end()
            continue
        rest = data[at:].lstrip().removeprefix(b"\xef\xbb\xbf")
        if rest.startswith(b"<!") and not rest.startswith(b"<!-"):
            raise FileRefused(
                "The workbook holds XML declarations (a DOCTYPE) that spreadsheets never "
                f"write: it may be damaged or built to harm. {_SAVE_AGAIN}"
            )
        if len(rest) > 1 and rest[0:1] == b"<" and rest[1:2] not in (b"?", b"!"):
            return  # the root element: no DOCTYPE can follow
        block = stream.read(64 * 1024)
        if not block:
            return
        data += block
        if len(data) > _MOST_PROLOGUE:
            raise FileRefused(
                "The workbook is damaged: a part starts with more than a megabyte of "
                f"comments. {_SAVE_AGAIN}"
            )
