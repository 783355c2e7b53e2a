"""Tables written row by row into a binary stream, never held whole: an export's file and an
import's result and errors files. `jobs.formats` registers them by name; this module holds
what every format shares, and CSV, the default.

What a format may show beside the cells (a worksheet's name, drop-down lists, a printed
title) comes in a `TableLayout`, which CSV ignores.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from schemas.codecs import GRADES, ChoiceCodec, Codec, GradeCodec, StatusCodec, YesNoCodec
from schemas.columns import Column


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
    def most_rows(self) -> int | None:
        """The most data rows the format holds (None: no limit)."""
        ...

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
    most_rows: int | None = None

    @contextmanager
    def rows_into(self, raw: BinaryIO, layout: TableLayout = PLAIN) -> Iterator[TableRows]:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", write_through=False)
        try:
            yield csv.writer(text)
            text.flush()
        finally:
            text.detach()


CSV = CsvTable()
