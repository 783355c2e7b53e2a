"""The reports of a OneRoster import: zips of the input's files with `Row`, `Result` and
`Errors` added (every row), and of the refused rows with `Errors`, written in one pass from
the stored row results (`jobs.oneroster_in` gives each file its range of row numbers;
the users file has two, merged back into its row order)."""

from __future__ import annotations

import csv
import heapq
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.import_rows import RowOutcome
from jobs.lifecycle import JobContext
from jobs.oneroster_zip import SetFile, SetSurvey, raw_rows
from storage.models import ImportRowResult, Job

SLOT = 10_000_000
SLOTS = {
    "orgs.csv": (1,),
    "academicSessions.csv": (2,),
    "courses.csv": (3,),
    "classes.csv": (4,),
    "users.csv": (5, 6),
    "enrollments.csv": (7,),
}
"""Each file's slots: its rows are numbered slot × `SLOT` + their spreadsheet row."""
MEDIA_TYPE = "application/zip"


def number(slot: int, row: int) -> int:
    return slot * SLOT + row


@dataclass(frozen=True)
class _Source:
    ctx: JobContext
    job: Job
    archive: zipfile.ZipFile
    found: SetSurvey


def _results(
    session: Session, ctx: JobContext, job: Job, set_file: SetFile
) -> Iterator[tuple[int, str, list[str]]]:
    """(spreadsheet row, outcome, errors) of a file's rows, in row order."""
    streams = []
    for slot in SLOTS[set_file.name]:
        statement = (
            select(ImportRowResult.row_number, ImportRowResult.outcome, ImportRowResult.errors)
            .where(
                ImportRowResult.job_id == job.id,
                ImportRowResult.row_number.between(number(slot, 0), number(slot, SLOT - 1)),
            )
            .order_by(ImportRowResult.row_number)
            .execution_options(yield_per=ctx.batch_rows)
        )
        streams.append(_shifted(session.execute(statement), slot * SLOT))
    return heapq.merge(*streams)


def _shifted(found: Iterable[Any], base: int) -> Iterator[tuple[int, str, list[str]]]:
    for row_number, outcome, errors in found:
        yield row_number - base, outcome, list(errors or ())


def write_reports(
    ctx: JobContext, job: Job, archive: zipfile.ZipFile, found: SetSurvey
) -> tuple[str, str]:
    """The result zip (every row of every file with `Row`, `Result`, `Errors`) and the
    errors zip (the refused rows with `Errors`), written together in one pass."""
    base = f"imports/{job.district_id}/{job.id}"
    keys = f"{base}/result.zip", f"{base}/errors.zip"
    store = ctx.store
    with (
        ctx.sessions() as session,
        store.open_write(keys[0], content_type=MEDIA_TYPE) as everything,
        store.open_write(keys[1], content_type=MEDIA_TYPE) as refused,
    ):
        _reports_into(session, _Source(ctx, job, archive, found), everything, refused)
    return keys


def _reports_into(session: Session, run: _Source, everything: BinaryIO, refused: BinaryIO) -> None:
    deflated = zipfile.ZIP_DEFLATED
    with (
        zipfile.ZipFile(everything, "w", deflated) as all_zip,
        zipfile.ZipFile(refused, "w", deflated) as errors_zip,
    ):
        for set_file in run.found.files:
            with (
                all_zip.open(set_file.name, "w") as all_member,
                errors_zip.open(set_file.name, "w") as error_member,
            ):
                _report_file(session, run, set_file, all_member, error_member)


def _report_file(
    session: Session, run: _Source, set_file: SetFile, all_member: Any, error_member: Any
) -> None:
    all_text = io.TextIOWrapper(all_member, encoding="utf-8", newline="")
    error_text = io.TextIOWrapper(error_member, encoding="utf-8", newline="")
    try:
        all_out, error_out = csv.writer(all_text), csv.writer(error_text)
        rows = raw_rows(run.archive, set_file.name)
        _, header = next(rows)
        all_out.writerow([*header, "Row", "Result", "Errors"])
        error_out.writerow([*header, "Errors"])
        results = _results(session, run.ctx, run.job, set_file)
        pending = next(results, None)
        for row, cells in rows:
            while pending is not None and pending[0] < row:
                pending = next(results, None)
            outcome, errors = RowOutcome.NOT_PROCESSED.value, []
            if pending is not None and pending[0] == row:
                outcome, errors = pending[1], pending[2]
            joined = "; ".join(errors)
            all_out.writerow([*cells, str(row), outcome, joined])
            if outcome == RowOutcome.FAILED.value:
                error_out.writerow([*cells, joined])
        all_text.flush()
        error_text.flush()
    finally:
        all_text.detach()
        error_text.detach()
