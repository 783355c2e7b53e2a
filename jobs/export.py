"""The export pipeline: plan → count → query → render → write → link.

1. plan: the job's request checked again (scope, columns, filters) against today's roster;
2. count: the number of rows, stored as the job's `total`;
3. query and render, from one of two row sources chosen in `write_export`: on Postgres, for
   a CSV, one `COPY (SELECT …) TO STDOUT` whose select renders every cell as the codecs and
   `neutralise` would (`storage.export_copy`); otherwise (SQLite, a server without ICU, or
   another format) rows streamed `batch_rows` at a time, each value through its column's
   codec, formula starts neutralised. Both sources write the same bytes;
4. write: through the requested format's `TableFormat` (`jobs.formats`; CSV is UTF-8 with a
   BOM, RFC 4180 with CRLF), streamed to object storage, where the object appears only
   when complete (a failed export leaves nothing at its key);
5. progress is stored after every `batch_rows` rows, which is also where a cancel is noticed.

Running it twice rewrites the same key, so a redelivered export is harmless.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TypeVar

import structlog
from sqlalchemy.orm import Session

from jobs.errors import RequestRefused
from jobs.export_title import export_title
from jobs.formats import CSV, PLAIN, TABLES, XLSX, TableFormat, TableLayout, layout_of
from jobs.lifecycle import JobContext, Outcome, report_progress
from jobs.oneroster_out import run_oneroster_export
from jobs.requests import ExportPlan, ExportRequest, check_row_cap, plan_export
from schemas.cells import neutralise
from schemas.columns import Column, Entity
from schemas.jobs import JobStatus
from schemas.oneroster import ONEROSTER
from schemas.scope import RosterFilter, Scope
from storage import classes, educators, export_copy, students
from storage.models import Job

log = structlog.get_logger("rosterjobs.jobs")

T = TypeVar("T")
FLUSH_BYTES = 256 * 1024
"""Copied records are handed to storage in blocks of about this size."""


@dataclass(frozen=True)
class EntityQueries:
    """One table module's export queries (see `storage.students` for their contracts)."""

    count: Callable[[Session, Scope, RosterFilter], int]
    stream: Callable[..., Iterator[dict[str, Any]]]
    copy: Callable[..., AbstractContextManager[Iterator[memoryview]]]


QUERIES = {
    Entity.STUDENTS: EntityQueries(students.count_rows, students.stream_rows, students.copy_rows),
    Entity.EDUCATORS: EntityQueries(
        educators.count_rows, educators.stream_rows, educators.copy_rows
    ),
    Entity.CLASSES: EntityQueries(classes.count_rows, classes.stream_rows, classes.copy_rows),
}


class Watch(Protocol):
    """Sees rows go by on their way to the file (progress, cancel); yields them all."""

    def __call__(self, rows: Iterator[T], /) -> Iterator[T]: ...


def run_export(ctx: JobContext, job: Job) -> Outcome:
    if (job.options or {}).get("format") == ONEROSTER:
        return run_oneroster_export(ctx, job)  # a set of files, not one table
    key, table = export_key(job), table_of(job)
    with ctx.sessions() as session:
        plan = plan_export(session, ExportRequest.from_job(job))
        total = QUERIES[plan.entity].count(session, plan.scope, plan.roster_filter)
        check_row_cap(total, table.name, pdf_max_rows=ctx.pdf_max_rows)
        report_progress(ctx, job.id, processed=0, total=total)
        watch = _ProgressWatch(ctx, job.id)
        layout = export_layout(session, plan)
        refuse_too_long(table, total)
        with ctx.store.open_write(key, content_type=table.media_type) as raw:
            written = write_export(
                session,
                plan,
                raw,
                batch_rows=ctx.batch_rows,
                watch=watch,
                table=table,
                layout=layout,
            )
    report_progress(ctx, job.id, processed=written, total=written, done=True)
    return Outcome(JobStatus.COMPLETED, counts={"rows": written}, result_key=key)


def refuse_too_long(table: TableFormat, rows: int) -> None:
    """A format that holds fewer rows than the export has refuses it before any work."""
    if table.most_rows is not None and rows > table.most_rows:
        raise RequestRefused(
            f"The export has {rows:,} rows, more than the {table.most_rows:,} {table.name.upper()} "
            f"holds; filter it, or export it as CSV."
        )


def export_key(job: Job) -> str:
    """Where the export's file lives; the job's random id makes the key unguessable."""
    return f"exports/{job.district_id}/{job.id}/{job.entity}.{table_of(job).extension}"


def table_of(job: Job) -> TableFormat:
    """The format the export was asked for (CSV unless its options name another)."""
    return TABLES[str((job.options or {}).get("format") or CSV.name)]


def export_layout(session: Session, plan: ExportPlan) -> TableLayout:
    """The export's worksheet (named after the entity), drop-down lists and title (the
    district, the entity, the filter in words, today's date)."""
    title = export_title(
        session,
        district_id=plan.scope.district_id,
        entity=plan.entity,
        roster_filter=plan.roster_filter,
        day=dt.datetime.now(dt.UTC).date(),
    )
    return layout_of(plan.columns, sheet=plan.entity.value.capitalize(), title=title)


def write_export(
    session: Session,
    plan: ExportPlan,
    raw: BinaryIO,
    *,
    batch_rows: int,
    watch: Watch | None = None,
    fast: bool = True,
    table: TableFormat = CSV,
    layout: TableLayout = PLAIN,
) -> int:
    """Write the plan's table into `raw`; answers the number of rows. The row source is
    chosen here, once: COPY for a CSV where the database can (unless `fast` is False: the
    general path, the reference the fast one is tested against), else the row stream."""
    queries, seen = QUERIES[plan.entity], watch or _unwatched
    copied = fast and table in (CSV, XLSX) and export_copy.can_copy(session, plan.columns)
    log.info("export.rendering", path="copy" if copied else "rows", format=table.name)
    if copied and table is XLSX:
        shape = export_copy.CELL_RECORDS
        with queries.copy(session, plan.scope, plan.roster_filter, plan.columns, shape) as records:
            return write_copied_xlsx(raw, plan.columns, seen(records), layout)
    if copied:
        with queries.copy(session, plan.scope, plan.roster_filter, plan.columns) as records:
            return write_copied_csv(raw, plan.columns, seen(records))
    rows = queries.stream(session, plan.scope, plan.roster_filter, batch_rows=batch_rows)
    return write_table(raw, plan.columns, seen(rows), table=table, layout=layout)


def write_table(
    raw: BinaryIO,
    columns: tuple[Column, ...],
    rows: Iterable[dict[str, Any]],
    *,
    table: TableFormat = CSV,
    layout: TableLayout = PLAIN,
) -> int:
    """Render `rows` into `raw` as `table` writes them; answers the number of rows."""
    with table.rows_into(raw, layout) as out:
        out.writerow([column.header for column in columns])
        written = 0
        for row in rows:
            out.writerow(render_row(columns, row, neutralised=table.neutralised))
            written += 1
    return written


def write_csv(raw: BinaryIO, columns: tuple[Column, ...], rows: Iterable[dict[str, Any]]) -> int:
    """`write_table` as CSV (UTF-8 with BOM, CRLF)."""
    return write_table(raw, columns, rows, table=CSV)


def write_copied_csv(
    raw: BinaryIO, columns: tuple[Column, ...], records: Iterable[memoryview]
) -> int:
    """The header as `write_csv` writes it, then COPY's records with CRLF for their final
    LF (line breaks inside quoted cells stay as they are, as csv leaves them); answers the
    number of records."""
    write_csv(raw, columns, ())
    pending, written = bytearray(), 0
    for record in records:
        pending += record[:-1]
        pending += b"\r\n"
        written += 1
        if len(pending) >= FLUSH_BYTES:
            raw.write(bytes(pending))
            pending.clear()
    raw.write(bytes(pending))
    return written


def write_copied_xlsx(
    raw: BinaryIO, columns: tuple[Column, ...], records: Iterable[memoryview], layout: TableLayout
) -> int:
    """The workbook `write_table` writes, from COPY's records of exact cells
    (`storage.export_copy.CELL_RECORDS`), handed to the sheet in blocks of whole records;
    answers the number of records."""
    pending, written = bytearray(), 0
    with XLSX.rows_into(raw, layout) as sheet:
        sheet.writerow([column.header for column in columns])
        for record in records:
            pending += record
            written += 1
            if len(pending) >= FLUSH_BYTES:
                sheet.write_records(bytes(pending))
                pending.clear()
        if pending:
            sheet.write_records(bytes(pending))
    return written


def render_row(
    columns: tuple[Column, ...], row: dict[str, Any], *, neutralised: bool = True
) -> list[str]:
    cells = [column.codec.to_cell(row.get(column.attr)) for column in columns]
    return [neutralise(cell) for cell in cells] if neutralised else cells


def _unwatched(rows: Iterator[T]) -> Iterator[T]:
    return rows


@dataclass(frozen=True)
class _ProgressWatch:
    """Stores progress (and notices a cancel or a stop) after a batch of rows, at most every
    `ctx.export_progress_s`: a COPY export writes a thousand rows in a few milliseconds,
    and a transaction per batch would cost more than the rows."""

    ctx: JobContext
    job_id: str

    def __call__(self, rows: Iterator[T], /) -> Iterator[T]:
        batch, every = self.ctx.batch_rows, self.ctx.export_progress_s
        last = time.monotonic()
        for processed, row in enumerate(rows, start=1):
            yield row
            if processed % batch == 0 and time.monotonic() - last >= every:
                report_progress(self.ctx, self.job_id, processed=processed)
                last = time.monotonic()
