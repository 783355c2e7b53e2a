"""Report stage of the import: the result file and the errors file, streamed.

A run that reads the whole file from its first row writes them as its batches commit
(`live_reports`). Any other run (resumed after a stop, or cancelled) reads the input once
more and joins each row with its stored result (both in row order). Either way neither the
file nor the results are ever held whole, and the bytes are the same (`ReportRows`).

The result file is every input row plus `Row`, `Result`, `Errors`; the errors file is only
the refused rows, their input columns plus `Errors`, ready to be fixed and uploaded again
as it is (an import ignores `Row`, `Result` and `Errors`). Cells are written neutralised
like an export's, and the Password column is always empty: a report never carries a
password.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import BinaryIO

from jobs.csv_in import Header
from jobs.formats import CSV, TableFormat
from jobs.import_rows import RowOutcome, RowResult
from schemas.cells import QUOTE, neutralise, unneutralise
from storage.objects import ObjectStore

IGNORED = frozenset({"row", "result", "errors"})
ERROR_SEPARATOR = " | "


@dataclass(frozen=True)
class ReportKeys:
    result_key: str
    errors_key: str | None


def report_keys(district_id: int, job_id: str, table: TableFormat = CSV) -> tuple[str, str]:
    base = f"imports/{district_id}/{job_id}"
    return f"{base}/result.{table.extension}", f"{base}/errors.{table.extension}"


def write_reports(
    store: ObjectStore,
    *,
    keys: tuple[str, str],
    header: Header,
    rows: Iterable[tuple[int, list[str]]],
    results: Iterable[RowResult],
    table: TableFormat = CSV,
) -> ReportKeys:
    """Both files from the input rows and the stored results (a pass over the file)."""
    with _opened(store, keys, header, table) as report:
        for row, cells, result in _joined(rows, results):
            report.add(row, cells, result)
    return _kept(store, keys, report)


@contextmanager
def _opened(
    store: ObjectStore, keys: tuple[str, str], header: Header, table: TableFormat
) -> Iterator[ReportRows]:
    """Both objects open for writing: written if the block ends, dropped if it raises."""
    with ExitStack() as stack:
        result_raw = stack.enter_context(store.open_write(keys[0], content_type=table.media_type))
        errors_raw = stack.enter_context(store.open_write(keys[1], content_type=table.media_type))
        with ReportRows(header, result_raw, errors_raw, table) as report:
            yield report


def _kept(store: ObjectStore, keys: tuple[str, str], report: ReportRows) -> ReportKeys:
    """The reports' keys, once written: an errors file without a refused row is removed."""
    if not report.failed:
        store.delete(keys[1])
    return ReportKeys(keys[0], keys[1] if report.failed else None)


class ReportRows:
    """The two files written row by row into two binary streams, in row order, as `table`
    writes a table (`jobs.formats`); closing it flushes them (the streams stay the
    caller's)."""

    def __init__(
        self, header: Header, result_raw: BinaryIO, errors_raw: BinaryIO, table: TableFormat = CSV
    ) -> None:
        kept = [i for i, cell in enumerate(header.cells) if cell.strip().lower() not in IGNORED]
        secret = {i for i, column in header.columns if column.attr == "password"}
        names = [header.cells[i] for i in kept]
        self._cells_of = _Kept(kept, secret)
        self._exact = not table.neutralised
        self._stack = ExitStack()
        self._result_out = self._stack.enter_context(table.rows_into(result_raw))
        self._errors_out = self._stack.enter_context(table.rows_into(errors_raw))
        self._result_out.writerow([*names, "Row", "Result", "Errors"])
        self._errors_out.writerow([*names, "Errors"])
        self.failed = 0

    def add(self, row: int, cells: list[str], result: RowResult) -> None:
        values = self._cells_of(cells)
        errors = ERROR_SEPARATOR.join(result.errors)
        if self._exact and QUOTE in map(_FIRST, values):
            values = [unneutralise(value) for value in values]
        else:
            errors = neutralise(errors)
        self._result_out.writerow([*values, str(row), result.outcome.value, errors])
        if result.outcome is RowOutcome.FAILED:
            self._errors_out.writerow([*values, errors])
            self.failed += 1

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> ReportRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LiveReports:
    """A run's reports written as its batches commit (`add`), for a run that reads the
    whole file from its first row: no second pass over the file and its stored results.

    `keys` is set only once every row of the file is in (`live_reports`); a run that
    stops short (a cancel, a stop, a failure) leaves both objects unwritten, and the
    report pass writes them from the stored results instead.
    """

    def __init__(self, report: ReportRows) -> None:
        self._report = report
        self.rows = 0
        self.keys: ReportKeys | None = None

    def add(self, rows: Sequence[tuple[int, list[str]]], results: Iterable[RowResult]) -> None:
        for (row, cells), result in zip(rows, results, strict=True):
            self._report.add(row, cells, result)
        self.rows += len(rows)


class _Unfinished(Exception):
    """The run stopped short of the file's end: its live reports are dropped."""


@contextmanager
def live_reports(
    store: ObjectStore,
    *,
    keys: tuple[str, str],
    header: Header,
    rows: int,
    table: TableFormat = CSV,
) -> Iterator[LiveReports]:
    """Both objects open for writing while the run goes; kept if all `rows` were added,
    dropped (never visible) otherwise, and dropped if the run raises."""
    try:
        with _opened(store, keys, header, table) as report:
            live = LiveReports(report)
            yield live
            if live.rows != rows:
                raise _Unfinished
    except _Unfinished:
        return
    live.keys = _kept(store, keys, report)


_TOUCHED_BY_QUOTING = frozenset("'=+-@\t\r")
"""First characters `unneutralise` or `neutralise` may act on; any other cell is kept as is."""


class _Kept:
    """A row's cells as the reports write them: the kept columns, each cell neutralised like
    an export's, the Password column emptied."""

    def __init__(self, kept: list[int], secret: set[int]) -> None:
        self._kept = kept
        self._width = max(kept, default=-1) + 1
        self._pick = itemgetter(*kept) if len(kept) > 1 else lambda cells: (cells[kept[0]],)
        self._secret = [at for at, position in enumerate(kept) if position in secret]
        self._secret_positions = secret

    def __call__(self, cells: list[str]) -> list[str]:
        if len(cells) < self._width or not self._kept:
            return self._one_by_one(cells)
        values = list(self._pick(cells))
        if not _TOUCHED_BY_QUOTING.isdisjoint(map(_FIRST, values)):
            return self._one_by_one(cells)
        for at in self._secret:
            values[at] = ""
        return values

    def _one_by_one(self, cells: list[str]) -> list[str]:
        secret = self._secret_positions
        return ["" if i in secret else _cell(cells, i) for i in self._kept]


_FIRST = itemgetter(slice(0, 1))


def _cell(cells: list[str], position: int) -> str:
    if position >= len(cells):
        return ""
    cell = cells[position]
    if not cell or cell[0] not in _TOUCHED_BY_QUOTING:
        return cell
    return neutralise(unneutralise(cell))


def _joined(
    rows: Iterable[tuple[int, list[str]]], results: Iterable[RowResult]
) -> Iterator[tuple[int, list[str], RowResult]]:
    """Each input row with its result; rows the job never reached are `not processed`."""
    pending = iter(results)
    result = next(pending, None)
    for row, cells in rows:
        while result is not None and result.row < row:
            result = next(pending, None)
        if result is not None and result.row == row:
            yield row, cells, result
        else:
            yield row, cells, RowResult(row, RowOutcome.NOT_PROCESSED)
