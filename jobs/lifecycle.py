"""The job lifecycle: create, claim, report progress, finish, cancel.

Delivery is at least once, so `run_job` is safe to call for the same job any number of
times: a finished job is skipped; so is a running one whose heartbeat is fresh (another live
worker has it: a duplicate delivery, or dramatiq's redelivery racing the reaper's); every
delivery counts an attempt first, so a message that kills its worker each time (a SIGKILL
does not count as a dramatiq retry) ends `failed` after `max_attempts` deliveries instead of
looping; a transient fault puts the job back to `queued` and re-raises for the broker to
retry with backoff, until the attempts run out.

Every step is also written to the job's timeline (`storage.job_events`) in the same
transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.csv_in import ImportLimits
from jobs.errors import JobCancelled, PermanentJobError, TransientJobError
from jobs.faults import as_transient
from schemas.jobs import JobKind, JobStatus
from schemas.scope import Scope
from storage import job_events, job_records
from storage.db import unit_of_work
from storage.job_events import JobEventName
from storage.models import Job, utcnow
from storage.objects import ObjectStore

log = structlog.get_logger("rosterjobs.jobs")


@dataclass(frozen=True)
class JobContext:
    """What a pipeline needs from its worker: sessions, object storage and limits."""

    sessions: sessionmaker[Session]
    store: ObjectStore
    link_ttl: int = 900
    max_attempts: int = 5
    batch_rows: int = 2000
    import_limits: ImportLimits = field(default_factory=ImportLimits)
    stale_after_s: int = 60
    """A running job whose heartbeat is younger than this belongs to a live worker."""


@dataclass(frozen=True)
class Outcome:
    """What a pipeline reports back when it ran to its end."""

    status: JobStatus
    counts: dict[str, int] = field(default_factory=dict)
    result_key: str | None = None
    error_report_key: str | None = None
    warnings: dict[str, Any] = field(default_factory=dict)


Pipeline = Callable[[JobContext, Job], Outcome]


def create_job(
    session: Session,
    *,
    kind: JobKind,
    entity: str,
    scope: Scope,
    options: dict[str, Any],
    dry_run: bool = False,
    status: JobStatus = JobStatus.QUEUED,
) -> Job:
    job = Job(
        kind=kind.value,
        entity=entity,
        district_id=scope.district_id,
        requested_by_id=scope.educator_id,
        requested_by=scope.username,
        status=status.value,
        dry_run=dry_run,
        options=options,
        counts={},
        warnings={},
        processed=0,
        attempts=0,
        checkpoint=0,
        cancel_requested=False,
        created_at=utcnow(),
        queued_at=utcnow() if status is JobStatus.QUEUED else None,
    )
    session.add(job)
    session.flush()
    job_events.record(session, job.id, JobEventName.CREATED)
    if status is JobStatus.QUEUED:
        job_events.record(session, job.id, JobEventName.QUEUED)
    return job


def run_job(ctx: JobContext, job_id: str, pipeline: Pipeline) -> None:
    """Run one delivery of a job's message: claim it, run `pipeline`, record the outcome."""
    job = claim(ctx, job_id)
    if job is None:
        return
    structlog.contextvars.bind_contextvars(
        job_id=job.id, kind=job.kind, district_id=job.district_id, attempt=job.attempts
    )
    log.info(f"{job.kind}.started", entity=job.entity)
    try:
        outcome = pipeline(ctx, job)
    except JobCancelled:
        _finish(ctx, job_id, Outcome(JobStatus.CANCELLED), error="Cancelled at the user's request.")
    except PermanentJobError as err:
        _finish(ctx, job_id, Outcome(JobStatus.FAILED), error=err.message)
    except Exception as err:
        _after_fault(ctx, job, as_transient(err))
    else:
        _finish(ctx, job_id, outcome)


def claim(ctx: JobContext, job_id: str) -> Job | None:
    """Mark the job running and count the attempt; None when there is nothing to run."""
    with unit_of_work(ctx.sessions) as session:
        job = job_records.get_for_update(session, job_id)
        if job is None:
            log.warning("job.unknown", job_id=job_id)
            return None
        status = JobStatus(job.status)
        if status.finished or status is JobStatus.AWAITING_UPLOAD:
            log.info("job.skipped", job_id=job_id, status=job.status)
            return None
        if status is JobStatus.RUNNING and _alive(job, ctx.stale_after_s):
            log.info("job.already_running", job_id=job_id)
            return None
        if job.cancel_requested:
            _set_finished(session, job, JobStatus.CANCELLED, "Cancelled before it started.")
            return None
        job.attempts += 1
        if job.attempts > ctx.max_attempts:
            _set_finished(session, job, JobStatus.FAILED, _gave_up(job.attempts - 1, job.error))
            log.error("job.gave_up", job_id=job_id, attempts=job.attempts - 1)
            return None
        job.status = JobStatus.RUNNING.value
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        job_events.record(session, job.id, JobEventName.STARTED, attempt=job.attempts)
        return job


def _alive(job: Job, stale_after_s: int) -> bool:
    """Whether the job's heartbeat is younger than `stale_after_s` (SQLite gives it back
    without its UTC zone)."""
    beat = job.heartbeat_at
    if beat is None:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=dt.UTC)
    return utcnow() - beat < dt.timedelta(seconds=stale_after_s)


def report_progress(
    ctx: JobContext, job_id: str, *, processed: int | None = None, total: int | None = None
) -> None:
    """Store progress in its own short transaction (an import's batches store theirs with
    their checkpoint, so they only send the heartbeat); raise JobCancelled if asked to stop."""
    with unit_of_work(ctx.sessions) as session:
        cancel = job_records.record_progress(session, job_id, processed=processed, total=total)
    if cancel:
        raise JobCancelled()


def transition(session: Session, job_id: str, source: JobStatus, target: JobStatus) -> bool:
    """Move a job from `source` to `target` in one conditional UPDATE; False when it was
    not in `source`. Concurrent callers (an upload, a start call, an S3 event) race
    safely: exactly one of them wins."""
    values: dict[str, Any] = {"status": target.value}
    if target is JobStatus.QUEUED:
        values["queued_at"] = utcnow()
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == source.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(statement))
    moved = result.rowcount == 1
    if moved and target is JobStatus.QUEUED:
        job_events.record(session, job_id, JobEventName.QUEUED)
    return moved


def mark_queued(session: Session, job: Job) -> None:
    """An import's file has landed: the job may run once its message arrives."""
    job.status = JobStatus.QUEUED.value
    job.queued_at = utcnow()
    job_events.record(session, job.id, JobEventName.QUEUED)


def request_cancel(session: Session, job: Job) -> bool:
    """Cancel a job: a queued one never runs, a running one stops at its next batch.

    Answers False when the job had already finished.
    """
    status = JobStatus(job.status)
    if status.finished:
        return False
    job.cancel_requested = True
    job_events.record(session, job.id, JobEventName.CANCEL_REQUESTED)
    if status in (JobStatus.QUEUED, JobStatus.AWAITING_UPLOAD):
        _set_finished(session, job, JobStatus.CANCELLED, "Cancelled before it started.")
    return True


def _after_fault(ctx: JobContext, job: Job, fault: TransientJobError) -> None:
    if job.attempts >= ctx.max_attempts:
        _finish(ctx, job.id, Outcome(JobStatus.FAILED), error=_gave_up(job.attempts, fault.message))
        return
    with unit_of_work(ctx.sessions) as session:
        record = job_records.get(session, job.id)
        if record is not None:
            record.status = JobStatus.QUEUED.value
            record.error = f"{fault.message} (attempt {job.attempts}; retrying)"
            job_events.record(
                session,
                job.id,
                JobEventName.RETRY_SCHEDULED,
                attempt=job.attempts,
                detail=fault.message,
            )
    log.warning("job.retry_scheduled", error=fault.message)
    raise fault


def _gave_up(attempts: int, last_error: str | None) -> str:
    reason = f" Last error: {last_error}" if last_error else ""
    return f"Stopped after {attempts} attempts that did not finish.{reason}"


def _finish(ctx: JobContext, job_id: str, outcome: Outcome, *, error: str | None = None) -> None:
    with unit_of_work(ctx.sessions) as session:
        job = job_records.get(session, job_id)
        if job is None:
            return
        job.counts = dict(outcome.counts)
        job.warnings = dict(outcome.warnings) or job.warnings
        job.result_key = outcome.result_key or job.result_key
        job.error_report_key = outcome.error_report_key or job.error_report_key
        _set_finished(session, job, outcome.status, error)
    log.info(f"{job.kind}.finished", status=outcome.status.value, counts=outcome.counts)


def _set_finished(session: Session, job: Job, status: JobStatus, error: str | None) -> None:
    job.status = status.value
    job.error = error
    job.finished_at = utcnow()
    job_events.record(
        session,
        job.id,
        JobEventName.FINISHED,
        attempt=job.attempts or None,
        detail=finished_detail(status, error),
    )


def finished_detail(status: JobStatus, error: str | None) -> str:
    """How a `finished` event reads: the final status, then the job-level error if any."""
    return f"{status.value}: {error}" if error else status.value
