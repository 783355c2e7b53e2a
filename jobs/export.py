"""The export pipeline: plan → count → query → render → write → link.

1. plan: the job's request checked again (scope, columns, filters) against today's roster;
2. count: the number of rows, stored as the job's `total`;
3. query: rows streamed from the database `batch_rows` at a time, never the whole roster;
4. render: each value through its column's codec, formula starts neutralised;
5. write: UTF-8 with a BOM, RFC 4180, streamed to object storage, where the object
   appears only when complete (a failed export leaves nothing at its key);
6. progress is stored after every batch, which is also where a cancel is noticed.

Running it twice rewrites the same key, so a redelivered export is harmless.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from jobs.lifecycle import JobContext, Outcome, report_progress
from jobs.requests import ExportRequest, plan_export
from schemas.cells import neutralise
from schemas.columns import Column, Entity
from schemas.jobs import JobStatus
from schemas.scope import RosterFilter, Scope
from storage import classes, educators, students
from storage.models import Job

RowSource = Callable[..., Iterator[dict[str, Any]]]
Counter = Callable[[Session, Scope, RosterFilter], int]

QUERIES: dict[Entity, tuple[Counter, RowSource]] = {
    Entity.STUDENTS: (students.count_rows, students.stream_rows),
    Entity.EDUCATORS: (educators.count_rows, educators.stream_rows),
    Entity.CLASSES: (classes.count_rows, classes.stream_rows),
}


def run_export(ctx: JobContext, job: Job) -> Outcome:
    key = export_key(job)
    with ctx.sessions() as session:
        plan = plan_export(session, ExportRequest.from_job(job))
        count_rows, stream_rows = QUERIES[plan.entity]
        total = count_rows(session, plan.scope, plan.roster_filter)
        report_progress(ctx, job.id, processed=0, total=total)
        rows = stream_rows(session, plan.scope, plan.roster_filter, batch_rows=ctx.batch_rows)
        with ctx.store.open_write(key) as raw:
            written = write_csv(raw, plan.columns, _with_progress(ctx, job.id, rows))
    report_progress(ctx, job.id, processed=written, total=written)
    return Outcome(JobStatus.COMPLETED, counts={"rows": written}, result_key=key)


def export_key(job: Job) -> str:
    """Where the export's CSV lives; the job's random id makes the key unguessable."""
    return f"exports/{job.district_id}/{job.id}/{job.entity}.csv"


def write_csv(raw: BinaryIO, columns: tuple[Column, ...], rows: Iterable[dict[str, Any]]) -> int:
    """Render `rows` as CSV into `raw` (UTF-8 with BOM, CRLF); answers the number of rows."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text)
        writer.writerow([column.header for column in columns])
        written = 0
        for row in rows:
            writer.writerow(render_row(columns, row))
            written += 1
        text.flush()
    finally:
        text.detach()
    return written


def render_row(columns: tuple[Column, ...], row: dict[str, Any]) -> list[str]:
    return [neutralise(column.codec.to_cell(row.get(column.attr))) for column in columns]


def _with_progress(
    ctx: JobContext, job_id: str, rows: Iterator[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Pass rows through, storing progress (and noticing a cancel) after every batch."""
    for processed, row in enumerate(rows, start=1):
        yield row
        if processed % ctx.batch_rows == 0:
            report_progress(ctx, job_id, processed=processed)
