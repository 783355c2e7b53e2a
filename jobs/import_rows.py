"""Row stage of the import: cells → values with every problem of the row, and row results.

Pure functions, no I/O. A cell first loses the `'` the export put before a formula start,
then its column's codec decides it. Problems are data (`Column: message`), never
exceptions, and a row collects all of them, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from jobs.csv_in import Header
from schemas.codecs import CellError
from schemas.columns import Column


class RowOutcome(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    NOT_PROCESSED = "not processed"


@dataclass(slots=True)
class RowDraft:
    """One data row after its cells were decoded: what it asks for, and what is wrong."""

    row: int
    record_id: int | None
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    password: str | None = None
    refused: set[str] = field(default_factory=set)

    @property
    def creates(self) -> bool:
        """An empty Database ID creates a record; a refused one neither creates nor updates."""
        return self.record_id is None and not self.id_refused

    @property
    def id_refused(self) -> bool:
        return "Database ID" in self.refused

    def refuse(self, column: str, message: str) -> None:
        self.errors.append(f"{column}: {message}")
        self.refused.add(column)


@dataclass(frozen=True, slots=True)
class RowResult:
    """What happened to one input row, as the reports show it."""

    row: int
    outcome: RowOutcome
    errors: tuple[str, ...] = ()
    record_id: int | None = None


Decoded = tuple[Any, str | None]
"""A cell through its column's codec: `(value, None)`, or `(None, message)` if it is refused."""

Decoder = Callable[[Column, str], Decoded]


def decode_cell(column: Column, raw: str) -> Decoded:
    """The raw cell, its formula quote removed, through the column's codec. Pure: the same
    column and text always give the same answer, so callers may remember it."""
    try:
        return column.codec.from_cell(raw), None
    except CellError as err:
        return None, err.message


def parse_row(
    header: Header, cells: list[str], row: int, *, decode: Decoder = decode_cell
) -> RowDraft:
    draft = RowDraft(row=row, record_id=None)
    headers: dict[str, Column] = {}
    width = len(cells)
    for position, column in header.columns:
        decoded = decode(column, cells[position] if position < width else "")
        take_cell(draft, column, decoded, headers)
    return draft


def take_cell(draft: RowDraft, column: Column, decoded: Decoded, seen: dict[str, Column]) -> None:
    value, problem = decoded
    if problem is not None:
        draft.refuse(column.header, problem)
        return
    if value is None and column.value_required:
        draft.refuse(column.header, "is required.")
        return
    if value is None:
        value = column.empty
    if column.attr == "id":
        draft.record_id = value
    elif column.attr == "password":
        draft.password = value
    elif column.attr in seen and draft.values.get(column.attr) != value:
        # Session Time is one setting shown under two products
        draft.refuse(
            column.header, f"differs from '{seen[column.attr].header}'; they are one setting."
        )
    else:
        seen[column.attr] = column
        draft.values[column.attr] = value
