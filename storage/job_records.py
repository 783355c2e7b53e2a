"""Queries of the jobs table, the source of truth of every job, and of the row results that
belong to an import's record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Float, case, func, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from schemas.jobs import JobStatus
from storage.models import ImportRowResult, Job, utcnow


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def get_for_update(session: Session, job_id: str) -> Job | None:
    """The job, locked until the transaction ends (Postgres; SQLite serialises writers)."""
    return session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()


def record_format(session: Session, job_id: str, name: str) -> None:
    """Store the format an import's file was recognised as (the job object shows it)."""
    job = session.get(Job, job_id)
    if job is not None:
        job.options = {**(job.options or {}), "format": name}


def record_progress(
    session: Session, job_id: str, *, processed: int | None = None, total: int | None = None
) -> bool:
    """Store progress (when given) and refresh the heartbeat; answers whether a cancel was
    requested."""
    values: dict[str, object] = {"heartbeat_at": utcnow()}
    if processed is not None:
        values["processed"] = processed
    if total is not None:
        values["total"] = total
    # one round trip: an import stores its heartbeat after every batch, on its main thread
    statement = update(Job).where(Job.id == job_id).values(**values)
    return bool(session.scalar(statement.returning(Job.cancel_requested)))


def list_jobs(
    session: Session,
    *,
    district_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
) -> Sequence[Job]:
    """Newest first."""
    statement = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if district_id is not None:
        statement = statement.where(Job.district_id == district_id)
    if status is not None:
        statement = statement.where(Job.status == status)
    if kind is not None:
        statement = statement.where(Job.kind == kind)
    if since is not None:
        statement = statement.where(Job.created_at >= since)
    return session.scalars(statement).all()


# --- the operations dashboard ---------------------------------------------------------

ALL_STATUSES = tuple(status.value for status in JobStatus)
FINISHED_STATUSES = tuple(status.value for status in JobStatus if status.finished)
RAN_TO_AN_OUTCOME = tuple(
    status.value
    for status in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED)
)


@dataclass(frozen=True)
class JobFilter:
    """What the dashboard's jobs table is narrowed to; None leaves a field open."""

    status: str | None = None
    kind: str | None = None
    entity: str | None = None
    district_id: int | None = None
    created_since: dt.datetime | None = None
    created_until: dt.datetime | None = None


def page_of_all_jobs(
    session: Session,
    narrowed: JobFilter,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
) -> Sequence[Job]:
    """Newest first across every district, `limit` jobs after the position `after`
    (created_at, id) of the previous page's last job: keyset pagination, no OFFSET.

    The position is written `created_at <= c AND (created_at < c OR id < i)` rather than as
    a row value, so that the created_at bound can use whichever index the filter picks,
    (status, created_at) or (district_id, created_at); unfiltered, an index on created_at
    lets the newest rows be read first instead of sorting the table.
    """
    statement = (
        select(Job)
        .where(*_conditions(narrowed))
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
    )
    if after is not None:
        created, last_id = after
        statement = statement.where(
            Job.created_at <= created, or_(Job.created_at < created, Job.id < last_id)
        )
    return session.scalars(statement).all()


def _conditions(narrowed: JobFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (Job.status, narrowed.status),
        (Job.kind, narrowed.kind),
        (Job.entity, narrowed.entity),
        (Job.district_id, narrowed.district_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if narrowed.created_since is not None:
        conditions.append(Job.created_at >= narrowed.created_since)
    if narrowed.created_until is not None:
        conditions.append(Job.created_at < narrowed.created_until)
    return conditions


def jobs_by_ids(session: Session, job_ids: Sequence[str]) -> Sequence[Job]:
    """The jobs of `job_ids` that exist (the dashboard's live progress asks for these)."""
    if not job_ids:
        return []
    return session.scalars(select(Job).where(Job.id.in_(list(job_ids)))).all()


def failed_rows(session: Session, job_id: str, *, limit: int = 20) -> Sequence[ImportRowResult]:
    """The first rows an import refused, in file order, with their errors."""
    return session.scalars(
        select(ImportRowResult)
        .where(ImportRowResult.job_id == job_id, ImportRowResult.outcome == "failed")
        .order_by(ImportRowResult.row_number)
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class Summary:
    """Jobs created since a moment: how many ended how, and the rows they went through."""

    by_status: dict[str, int]
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 else None

    @property
    def failure_rate(self) -> float | None:
        """Failed among the jobs that ran to an outcome (cancelled ones were stopped)."""
        ran = sum(self.by_status.get(status, 0) for status in RAN_TO_AN_OUTCOME)
        return self.by_status.get(JobStatus.FAILED.value, 0) / ran if ran else None


def summary_since(session: Session, since: dt.datetime) -> Summary:
    """One grouped query. `status IN (every status)` lets the (status, created_at) index
    serve the time bound, so the cost follows the jobs of the window, not of the table."""
    duration = SecondsBetween(Job.started_at, Job.finished_at)
    finished = Job.finished_at.is_not(None) & Job.started_at.is_not(None)
    statement = (
        select(
            Job.status,
            func.count(),
            func.sum(case((finished, Job.processed), else_=0)),
            func.sum(case((finished, duration), else_=0.0)),
        )
        .where(Job.status.in_(ALL_STATUSES), Job.created_at >= since)
        .group_by(Job.status)
    )
    by_status: dict[str, int] = {}
    rows, seconds = 0, 0.0
    for status, count, processed, spent in session.execute(statement):
        by_status[status] = int(count)
        if status in FINISHED_STATUSES:
            rows += int(processed or 0)
            seconds += float(spent or 0.0)
    return Summary(by_status, rows, seconds)


class SecondsBetween(FunctionElement[float]):
    """Seconds from the first timestamp to the second, in the database's own arithmetic."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(SecondsBetween)
def _seconds_by_interval(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(SecondsBetween, "sqlite")
def _seconds_by_julian_day(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def requeue_failed(session: Session, job_id: str) -> bool:
    """Put a failed job back to `queued` for another run: attempts start again from zero,
    the error and the times of the last run are cleared (the timeline keeps them), and an
    import keeps its checkpoint (it resumes after the last batch it committed). False when
    the job is not failed (one UPDATE, so two operators retrying at once queue it once)."""
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.FAILED.value)
        .values(
            status=JobStatus.QUEUED.value,
            attempts=0,
            error=None,
            cancel_requested=False,
            queued_at=utcnow(),
            started_at=None,
            heartbeat_at=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount == 1
