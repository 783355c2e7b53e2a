"""The fast path's row stage: cell decoding remembered per column (`RememberingDecoder`).

A codec is a pure function of the column and the cell text, and a district's files repeat
the same grades, yes/no answers, languages and names on most rows; a batch's remembered
values are looked up a column at a time, and a row whose every cell is taken as is is built
in one step. The answer is always `import_rows.parse_row`'s.

The fast path's other strategies, chosen with this one in `jobs.imports._strategies`:
`COPY` and array writes with index probes for earlier rows (`jobs.import_writes`), a
password pool (`jobs.password_pool`), overlapped batches (`jobs.import_overlap`). The
general path stays the reference (`jobs.imports.run_general_import`, and SQLite), and tests
compare the two on every file of the corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from jobs.csv_in import Header
from jobs.import_rows import Decoded, RowDraft, decode_cell, take_cell
from schemas.codecs import CellError
from schemas.columns import Column

REMEMBERED_PER_COLUMN = 8192
"""Distinct cell texts kept per column; a column that shows more than this many is decoded
cell by cell from then on, so memory stays flat whatever the file (a column of unique
values costs at most this many)."""

NEVER_REMEMBERED = frozenset({"id", "password"})
"""Unique by nature (nothing to gain), or a secret that must not linger in memory."""

_TAKEN = frozenset({"id", "password"})
"""Attributes `take_cell` puts elsewhere than the row's values."""

_REFUSED: Any = object()
"""A cell `take_cell` would refuse (or that has not been decoded yet): the row goes the long way."""


@dataclass(frozen=True)
class _Layout:
    """How one header's rows are read quickly: the cells to take, in file order."""

    width: int  # cells a row needs (shorter rows are padded with empty cells)
    pick: Any  # cells -> the cells of `getters`, in file order (an itemgetter)
    getters: tuple[Any, ...]  # per picked cell: raw -> its value, or _REFUSED
    attrs: tuple[str, ...]  # per picked cell: the attribute it sets
    repeats: tuple[tuple[int, int], ...]  # (first, later) picks of one attribute
    record_id: Any  # raw Database ID -> value or _REFUSED (None: no such column)
    record_id_at: int
    password: Any
    password_at: int
    columns: tuple[Column, ...]  # per picked cell: its column


class RememberingDecoder:
    """`import_rows.parse_row` with each column's decoding remembered for the texts it has seen.

    Answers are immutable (text, numbers, dates, booleans, tuples, products, messages), so
    handing the same one to several rows is the same as decoding each time. A row whose
    every cell is taken as is (no problem, nothing required left empty, a setting shown
    twice given the same value twice) is built in one step: its values, in file order, from
    each column's remembered values. Any other row goes cell by cell through `take_cell`,
    exactly as `parse_row` does, so its problems come out in the same order.
    """

    def __init__(self, limit: int = REMEMBERED_PER_COLUMN) -> None:
        self._limit = limit
        self._answers: dict[str, dict[str, Decoded]] = {}
        self._values: dict[str, dict[str, Any]] = {}  # the answers `take_cell` takes as is
        self._direct: set[str] = set()  # headers of columns decoded cell by cell
        self._header: Header | None = None  # one file, one header: kept by identity
        self._layout_of_header: _Layout | None = None

    def parse_row(self, header: Header, cells: list[str], row: int) -> RowDraft:
        return self.parse_batch(header, [(row, cells)])[0]

    def parse_batch(self, header: Header, batch: Sequence[tuple[int, list[str]]]) -> list[RowDraft]:
        """`parse_row` of each `(row, cells)`, in order. The remembered values are looked
        up a column at a time over the whole batch (one `map` of the column's dictionary,
        no Python loop per cell); each row is then built from its values, or the long way."""
        layout = self._layout(header)
        width = layout.width
        padded = [c if len(c) >= width else [*c, *([""] * (width - len(c)))] for _, c in batch]
        picked = list(map(layout.pick, padded))
        by_column = zip(*picked, strict=True) if layout.getters else ()
        looked_up = [
            self._looked_up(column, get, raws)
            for column, get, raws in zip(layout.columns, layout.getters, by_column, strict=True)
        ]
        values_of_rows = zip(*looked_up, strict=True) if looked_up else [()] * len(batch)
        drafts = []
        rows = zip(batch, padded, picked, values_of_rows, strict=True)
        for (row, _), cells, cut, values in rows:
            draft = self._quickly(layout, cells, row, cut, list(values))
            drafts.append(draft or self._slowly(header, cells, row))
        return drafts

    def _looked_up(self, column: Column, get: Any, raws: tuple[str, ...]) -> list[Any]:
        """A column's values for a batch's cells (`_REFUSED` where not taken as is). Texts
        the column has not shown before are decoded first, once each: a file sorted by
        school brings a new school name on hundreds of rows of one batch at a time."""
        values = list(map(get, raws, repeat(_REFUSED)))
        if _REFUSED in values and self._remembers(column):
            for raw in dict.fromkeys(r for r, v in zip(raws, values, strict=True) if v is _REFUSED):
                if not self._remembers(column):
                    break  # too many texts: the rest of the column goes cell by cell
                self._value(column, raw)
            values = list(map(get, raws, repeat(_REFUSED)))
        return values

    def _quickly(
        self,
        layout: _Layout,
        cells: list[str],
        row: int,
        picked: tuple[str, ...],
        values: list[Any],
    ) -> RowDraft | None:
        """The row built from its picked cells' `values` (`_REFUSED` where not remembered)."""
        if _REFUSED in values and not self._fill(layout, values, picked):
            return None
        for first, later in layout.repeats:
            if values[first] != values[later]:
                return None
        draft = RowDraft(row=row, record_id=None)
        draft.values = dict(zip(layout.attrs, values, strict=True))
        for first, _ in layout.repeats:
            draft.values[layout.attrs[first]] = values[first]
        if layout.record_id is not None:
            draft.record_id = layout.record_id(cells[layout.record_id_at], _REFUSED)
            if draft.record_id is _REFUSED:
                return None
        if layout.password is not None:
            draft.password = layout.password(cells[layout.password_at], _REFUSED)
            if draft.password is _REFUSED:
                return None
        return draft

    def _fill(self, layout: _Layout, values: list[Any], picked: tuple[str, ...]) -> bool:
        """Decode the cells not remembered yet; False if one of them is not taken as is."""
        for index, known in enumerate(values):
            if known is _REFUSED:
                column = layout.columns[index]
                if not self._remembers(column):
                    return False  # its getter decoded the cell: it is refused
                values[index] = self._value(column, picked[index])
                if values[index] is _REFUSED:
                    return False
        return True

    def _slowly(self, header: Header, cells: list[str], row: int) -> RowDraft:
        """`import_rows.parse_row`, with the remembered answers."""
        draft = RowDraft(row=row, record_id=None)
        seen: dict[str, Column] = {}
        for position, column in header.columns:
            take_cell(draft, column, self._decoded(column, cells[position]), seen)
        return draft

    def _layout(self, header: Header) -> _Layout:
        """The quick reading of `header`'s rows (built again when a column goes direct)."""
        if self._header is not header or self._layout_of_header is None:
            self._header = header
            self._layout_of_header = self._laid_out(header)
        return self._layout_of_header

    def _laid_out(self, header: Header) -> _Layout:
        taken = [(p, c) for p, c in header.columns if c.attr not in _TAKEN]
        first_of: dict[str, int] = {}
        repeats = []
        for index, (_, column) in enumerate(taken):
            if column.attr in first_of:
                repeats.append((first_of[column.attr], index))
            first_of.setdefault(column.attr, index)
        special = {c.attr: (p, c) for p, c in header.columns if c.attr in _TAKEN}
        width = max((p + 1 for p, _ in header.columns), default=0)
        return _Layout(
            width=width,
            pick=_picker([p for p, _ in taken]),
            getters=tuple(self._getter(c) for _, c in taken),
            attrs=tuple(c.attr for _, c in taken),
            repeats=tuple(repeats),
            record_id=self._getter(special["id"][1]) if "id" in special else None,
            record_id_at=special["id"][0] if "id" in special else 0,
            password=self._getter(special["password"][1]) if "password" in special else None,
            password_at=special["password"][0] if "password" in special else 0,
            columns=tuple(c for _, c in taken),
        )

    def _getter(self, column: Column) -> Any:
        """raw -> the value `take_cell` takes as is, or _REFUSED (unknown, or not as is)."""
        if not self._remembers(column):
            return _taken_as_is(column)
        return self._values.setdefault(column.header, {}).get

    def _remembers(self, column: Column) -> bool:
        return column.attr not in NEVER_REMEMBERED and column.header not in self._direct

    def _value(self, column: Column, raw: str) -> Any:
        """The cell's value as `take_cell` takes it, or _REFUSED if it would not."""
        value, problem = self._decoded(column, raw)
        if problem is not None or (value is None and column.value_required):
            return _REFUSED
        if value is None:
            value = column.empty
        if self._remembers(column):
            self._values.setdefault(column.header, {})[raw] = value
        return value

    def _decoded(self, column: Column, raw: str) -> Decoded:
        if not self._remembers(column):
            return decode_cell(column, raw)
        answers = self._answers.setdefault(column.header, {})
        decoded = answers.get(raw)
        if decoded is None:
            decoded = decode_cell(column, raw)
            if len(answers) >= self._limit:
                self._go_direct(column)
            else:
                answers[raw] = decoded
        return decoded

    def _go_direct(self, column: Column) -> None:
        """Too many distinct texts to remember: decode the column's cells one by one."""
        self._direct.add(column.header)
        self._answers.pop(column.header, None)
        self._values.pop(column.header, None)
        self._layout_of_header = None


def _taken_as_is(column: Column) -> Any:
    """raw -> the value `take_cell` takes as is, or _REFUSED: `decode_cell`, then the empty
    cell's meaning, in one call (a column decoded cell by cell runs it on every row)."""
    from_cell, required, empty = column.codec.from_cell, column.value_required, column.empty

    def value_of(raw: str, default: Any) -> Any:
        try:
            value = from_cell(raw)
        except CellError:
            return _REFUSED
        if value is None:
            return _REFUSED if required else empty
        return value

    return value_of


def _picker(positions: list[int]) -> Any:
    """cells -> a tuple of the cells at `positions` (itemgetter answers a bare cell for one)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda cells: (cells[only],)
    if not positions:
        return lambda cells: ()
    return itemgetter(*positions)
