"""File formats, one registration each: how an import's rows come in, how a table goes out.

- `ImportReader`: recognises its files by their first bytes (never by their name), surveys
  the whole file before anything is applied, then yields `(spreadsheet row number, cells)`
  to the pipeline and again to the reports. CSV (`jobs.csv_in`) is the last one asked: it
  refuses, naming it, a file that looks like something else. A OneRoster zip uploaded as
  one entity's file is recognised ahead of it and refused, saying what it is
  (`MisdirectedSetReader`; a OneRoster import has its own pipeline). A new
  reader (XLSX, a OneRoster zip) is a module beside `csv_in` plus one entry in `READERS`,
  ahead of CSV.
- `TableFormat`: a table written row by row into a binary stream, never held whole: the
  export's file and the import's result and errors files. `TABLES` maps a format's name to
  it; `csv` (UTF-8 with a BOM, RFC 4180, CRLF) is the default. A new one is a module with
  its `rows_into` plus one entry in `TABLES`. What a format may show beside the cells (a
  worksheet's name, drop-down lists, a printed title) comes in a `TableLayout`, which CSV
  ignores.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from jobs import csv_in
from jobs.csv_in import FileSurvey, ImportLimits, Opener, Records
from jobs.errors import FileRefused
from schemas.codecs import ChoiceCodec, Codec, GradeCodec, StatusCodec, YesNoCodec
from schemas.columns import Column, Entity
from schemas.oneroster import MANIFEST
from schemas.products import Product

HEAD_BYTES = 1024
"""What a reader sees of a file to recognise it."""


@dataclass(frozen=True)
class TableLayout:
    """What a format may show beside the cells; a format uses what it can show.

    `choices` has one entry per column, in order: that column's fixed values (an XLSX
    drop-down list), or `()` for free text; shorter than the header means free text for the
    rest. `title` is the heading a printed table carries (the district, the filter, the date).
    """

    sheet: str = "Rows"
    choices: tuple[tuple[str, ...], ...] = ()
    title: str = ""


PLAIN = TableLayout()
GRADES = ("PK", "K", *(str(grade) for grade in range(1, 13)))


def fixed_values(codec: Codec[object]) -> tuple[str, ...]:
    """The values a column's cells are chosen from (a drop-down list), `()` for free text."""
    if isinstance(codec, GradeCodec):
        return GRADES
    if isinstance(codec, YesNoCodec):
        return ("Yes", "No")
    if isinstance(codec, ChoiceCodec | StatusCodec):
        return codec.choices
    return ()


def layout_of(columns: Sequence[Column], *, sheet: str, title: str = "") -> TableLayout:
    """The layout of a table of `columns`: each column's fixed values, the sheet, the title."""
    choices = tuple(fixed_values(column.codec) for column in columns)
    return TableLayout(sheet=sheet, choices=choices, title=title)


class TableRows(Protocol):
    def writerow(self, cells: Sequence[str], /) -> object: ...


class TableFormat(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def extension(self) -> str:
        """Of the object's key and the download's filename, without the dot."""
        ...

    @property
    def media_type(self) -> str: ...

    @property
    def neutralised(self) -> bool:
        """Whether a cell that starts like a formula is written with a leading `'` (CSV: a
        spreadsheet would run it) or exactly as it is (a text cell is never run)."""
        ...

    def rows_into(
        self, raw: BinaryIO, layout: TableLayout = PLAIN
    ) -> AbstractContextManager[TableRows]:
        """A writer of rows into `raw` (the header first), flushed when the block ends; `raw`
        stays the caller's (not closed)."""
        ...


@dataclass(frozen=True)
class CsvTable:
    """UTF-8 with a BOM (so spreadsheets show accents), RFC 4180 quoting, CRLF."""

    name: str = "csv"
    extension: str = "csv"
    media_type: str = "text/csv; charset=utf-8"
    neutralised: bool = True

    @contextmanager
    def rows_into(self, raw: BinaryIO, layout: TableLayout = PLAIN) -> Iterator[TableRows]:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", write_through=False)
        try:
            yield csv.writer(text)
            text.flush()
        finally:
            text.detach()


CSV = CsvTable()
TABLES: dict[str, TableFormat] = {CSV.name: CSV}


class ImportReader(Protocol):
    name: str
    reports: TableFormat
    """How the result and errors files of an import of this kind are written."""

    def recognises(self, head: bytes) -> bool:
        """Whether the file whose first `HEAD_BYTES` are `head` is this reader's."""
        ...

    def survey(
        self,
        open_file: Opener,
        *,
        entity: Entity,
        purchased: Collection[Product],
        limits: ImportLimits,
    ) -> FileSurvey:
        """The whole file checked (header, limits, rows counted); `FileRefused` if it cannot
        be imported, nothing applied."""
        ...

    def read_rows(self, open_file: Opener, survey: FileSurvey, *, limits: ImportLimits) -> Records:
        """Every non-blank data row with its spreadsheet row number (header = row 1)."""
        ...

    def warnings(self, survey: FileSurvey) -> dict[str, object]:
        """What the job reports about how the file was read (an encoding fallback)."""
        ...


class CsvReader:
    """CSV text (`jobs.csv_in`): UTF-8 with or without a BOM, else Windows-1252."""

    name = "csv"

    def __init__(self) -> None:
        self.reports: TableFormat = CSV

    def recognises(self, head: bytes) -> bool:
        return True  # the last one asked: it refuses, naming it, what looks like another kind

    def survey(
        self,
        open_file: Opener,
        *,
        entity: Entity,
        purchased: Collection[Product],
        limits: ImportLimits,
    ) -> FileSurvey:
        return csv_in.survey(open_file, entity=entity, purchased=purchased, limits=limits)

    def read_rows(self, open_file: Opener, survey: FileSurvey, *, limits: ImportLimits) -> Records:
        return csv_in.read_rows(open_file, encoding=survey.encoding, limits=limits)

    def warnings(self, survey: FileSurvey) -> dict[str, object]:
        encoding = csv_in.encoding_warning(survey.encoding)
        return {"encoding": encoding} if encoding else {}


class MisdirectedSetReader:
    """A OneRoster zip uploaded as one entity's file (an import whose entity is students,
    educators or classes): recognised by a zip's first member being `manifest.csv` (as the
    service and most SIS write it) and refused with one sentence saying what it is. Its
    own imports (entity `oneroster`, `jobs.oneroster_in`) never ask `READERS`."""

    name = "oneroster"

    def __init__(self) -> None:
        self.reports: TableFormat = CSV

    def recognises(self, head: bytes) -> bool:
        return head.startswith(b"PK\x03\x04") and head[30:42] == MANIFEST.encode()

    def survey(
        self,
        open_file: Opener,
        *,
        entity: Entity,
        purchased: Collection[Product],
        limits: ImportLimits,
    ) -> FileSurvey:
        raise FileRefused(
            "This file is a OneRoster file set; import it as oneroster (--format oneroster)."
        )

    def read_rows(self, open_file: Opener, survey: FileSurvey, *, limits: ImportLimits) -> Records:
        raise FileRefused("A OneRoster file set is not read as one entity's rows.")

    def warnings(self, survey: FileSurvey) -> dict[str, object]:
        return {}


READERS: tuple[ImportReader, ...] = (MisdirectedSetReader(), CsvReader())


def reader_for(open_file: Opener) -> ImportReader:
    """The first reader in `READERS` that recognises the file's first bytes."""
    with open_file() as raw:
        head = raw.read(HEAD_BYTES)
    return next(reader for reader in READERS if reader.recognises(head))
