"""Row stage of the import: cells → values with every problem of the row, and row results.

Pure functions, no I/O. A cell first loses the `'` the export put before a formula start,
then its column's codec decides it. Problems are data (`Column: message`), never
exceptions, and a row collects all of them, not only the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from jobs.csv_in import Header
from schemas.cells import unneutralise
from schemas.codecs import CellError
from schemas.columns import Column


class RowOutcome(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    NOT_PROCESSED = "not processed"


@dataclass
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


@dataclass(frozen=True)
class RowResult:
    """What happened to one input row, as the reports show it."""

    row: int
    outcome: RowOutcome
    errors: tuple[str, ...] = ()
    record_id: int | None = None


def parse_row(header: Header, cells: list[str], row: int) -> RowDraft:
    draft = RowDraft(row=row, record_id=None)
    headers: dict[str, Column] = {}
    for position, column in header.columns:
        cell = unneutralise(cells[position]) if position < len(cells) else ""
        _read_cell(draft, column, cell, headers)
    return draft


def _read_cell(draft: RowDraft, column: Column, cell: str, seen: dict[str, Column]) -> None:
    try:
        value = column.codec.from_cell(cell)
    except CellError as err:
        draft.refuse(column.header, err.message)
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
