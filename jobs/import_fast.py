"""What the import's fast path does differently from the general path, stage by stage.

The fast path (Postgres) runs the same stages with the same rules as the general path; only
how each stage gets its answer differs, never the answer:

- row stage: a cell's decoding is remembered per column (`RememberingDecoder`), since a
  codec is a pure function of the column and the cell text and a district's files repeat
  the same grades, yes/no answers, languages and names on most rows;
- checks: the earlier rows of the job are found by one index probe per key
  (`storage.bulk_writes.first_rows`), whatever the planner's statistics say about a table
  that grew by the whole file in the last minutes;
- apply: updates, row results and audit rows go through `COPY` (`storage.bulk_writes`);
- passwords: hashed and verified in a process pool (`jobs.password_pool`).

The general path stays the reference (`jobs.imports.run_general_import`, and SQLite), and
tests compare the two on every file of the corpus.
"""

from __future__ import annotations

from jobs.csv_in import Header
from jobs.import_rows import Decoded, RowDraft, decode_cell, take_cell
from schemas.columns import Column

REMEMBERED_PER_COLUMN = 2048
"""Distinct cell texts kept per column; past it the column starts again from empty, so
memory stays flat whatever the file (a column of unique values costs at most this many)."""

NEVER_REMEMBERED = frozenset({"id", "password"})
"""Unique by nature (nothing to gain), or a secret that must not linger in memory."""


class RememberingDecoder:
    """`import_rows.parse_row` with each column's decoding remembered for the texts it has seen.

    Answers are immutable (text, numbers, dates, booleans, tuples, products, messages), so
    handing the same one to several rows is the same as decoding each time. A cell that
    decodes to a value, in a column not yet seen in the row, is taken the way `take_cell`
    takes it; every other cell goes through `take_cell` itself.
    """

    def __init__(self, limit: int = REMEMBERED_PER_COLUMN) -> None:
        self._limit = limit
        self._answers: dict[str, dict[str, Decoded]] = {}
        self._header: Header | None = None  # one file, one header: kept by identity
        self._layout_of_header: list[Cell] = []

    def parse_row(self, header: Header, cells: list[str], row: int) -> RowDraft:
        draft = RowDraft(row=row, record_id=None)
        seen: dict[str, Column] = {}
        values = draft.values
        width = len(cells)
        for position, column, answers in self._layout(header):
            raw = cells[position] if position < width else ""
            decoded = None if answers is None else answers.get(raw)
            if decoded is None:
                decoded = self._decode(column, raw, answers)
            value, problem = decoded
            attr = column.attr
            if problem is None and value is not None and attr not in seen and attr not in _TAKEN:
                seen[attr] = column
                values[attr] = value
            else:
                take_cell(draft, column, decoded, seen)
        return draft

    def _layout(self, header: Header) -> list[Cell]:
        """Each known column's position, and its remembered answers (None: never kept)."""
        if self._header is not header:
            self._header = header
            self._layout_of_header = [
                (position, column, self._answers_of(column)) for position, column in header.columns
            ]
        return self._layout_of_header

    def _answers_of(self, column: Column) -> dict[str, Decoded] | None:
        if column.attr in NEVER_REMEMBERED:
            return None
        return self._answers.setdefault(column.header, {})

    def _decode(self, column: Column, raw: str, answers: dict[str, Decoded] | None) -> Decoded:
        decoded = decode_cell(column, raw)
        if answers is not None:
            if len(answers) >= self._limit:
                answers.clear()
            answers[raw] = decoded
        return decoded


Cell = tuple[int, Column, dict[str, Decoded] | None]
_TAKEN = frozenset({"id", "password"})
"""Attributes `take_cell` puts elsewhere than the row's values."""
