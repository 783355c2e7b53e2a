"""File formats, one registration each: how an import's rows come in, how a table goes out.

- `ImportReader`: recognises its files by their first bytes (never by their name), surveys
  the whole file before anything is applied, then yields `(spreadsheet row number, cells)`
  to the pipeline and again to the reports. XLSX (`jobs.xlsx_in`) claims ZIP and OLE2
  files; CSV (`jobs.csv_in`) is the last one asked: it refuses, naming it, a file that
  looks like something else. A new reader (a OneRoster zip) is a module plus one entry in
  `READERS`, ahead of the ones it must be asked before.
- `TableFormat` (`jobs.tables`): a table written row by row into a binary stream, never
  held whole: the export's file and the import's result and errors files. `TABLES` maps a
  format's name to it; `csv` is the default, `xlsx` (`jobs.xlsx_out`) the spreadsheet one,
  `pdf` (`jobs.pdf_table`) the printable roster.
  A new one is a module with its `rows_into` plus one entry in `TABLES`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from jobs import csv_in
from jobs.csv_in import FileSurvey, ImportLimits, Opener, Records
from jobs.pdf_table import PDF
from jobs.tables import CSV, PLAIN, TableFormat, TableLayout, TableRows, layout_of
from jobs.xlsx_in import XlsxReader
from jobs.xlsx_out import XLSX
from schemas.columns import Entity
from schemas.products import Product

__all__ = [
    "CSV",
    "PLAIN",
    "READERS",
    "TABLES",
    "XLSX",
    "ImportReader",
    "TableFormat",
    "TableLayout",
    "TableRows",
    "layout_of",
    "reader_for",
]

HEAD_BYTES = 1024
"""What a reader sees of a file to recognise it."""


class ImportReader(Protocol):
    name: str
    description: str
    """What the file is, in a sentence's words: "a CSV file"."""
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
    description = "a CSV file"

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


TABLES: dict[str, TableFormat] = {CSV.name: CSV, XLSX.name: XLSX, PDF.name: PDF}
READERS: tuple[ImportReader, ...] = (XlsxReader(), CsvReader())


def described(name: str) -> str:
    """A reader's `description` by its name."""
    return next((reader.description for reader in READERS if reader.name == name), name)


def reader_for(open_file: Opener) -> ImportReader:
    """The first reader in `READERS` that recognises the file's first bytes."""
    with open_file() as raw:
        head = raw.read(HEAD_BYTES)
    return next(reader for reader in READERS if reader.recognises(head))
