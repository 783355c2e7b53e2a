"""The job lifecycle: create, claim, report progress, finish, cancel.

Delivery is at least once, so `run_job` is safe to call for the same job any number of
times: a finished job is skipped; so is a running one whose heartbeat is fresh (another live
worker has it: a duplicate delivery, or dramatiq's redelivery racing the reaper's); every
delivery counts an attempt first, so a message that kills its worker each time (a SIGKILL
does not count as a dramatiq retry) ends `failed` after `max_attempts` deliveries instead of
looping. The job's `attempts` is the one retry counter: a transient fault (`jobs.faults`)
puts the job back to `queued` and re-raises it as a TransientJobError for the broker to
deliver again after a backoff, but only while attempts are left; the broker's Retries sets
no limit of its own on that (`worker.runtime.job_retries`). Any other error
(a programming error: TypeError, KeyError…) fails the job at once as an internal error,
its traceback logged under an error id the job's error names. A worker asked to stop
(SIGTERM) hands its running jobs back at their next batch: `queued` again, the attempt
given back, the message sent again.

Every message the lifecycle sends (a deferral, a hand-back) goes through the context's one
sender, `JobContext.send` (`jobs.messages`).

A job whose district already runs its share of jobs waits, queued, without counting an
attempt (`jobs.fair_share`).

Every step is also written to the job's timeline (`storage.job_events`) in the same
transaction as the change itself, and so is a final state's webhook delivery
(`storage.webhook_deliveries`, when the process has the outbox on: `jobs.notify`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from jobs import fair_share
from jobs.csv_in import ImportLimits
from jobs.errors import JobCancelled, PermanentJobError, TransientJobError, WorkerStopping
from jobs.faults import as_transient, is_transient
from jobs.messages import JobSender, no_broker
from jobs.pdf_table import PDF_MAX_ROWS
from schemas.jobs import JobKind, JobStatus
from schemas.scope import Scope
from storage import job_events, job_records, webhook_deliveries
from storage.db import unit_of_work
from storage.job_events import JobEventName
from storage.models import Job, utcnow
from storage.objects import ObjectStore

log = structlog.get_logger("rosterjobs.jobs")


@dataclass(frozen=True)
class WorkerStop:
    """How a worker process that is asked to stop (SIGTERM) hands its running jobs back.

    Its shutdown sets `requested`; each running job notices it at its next batch
    (`report_progress`), goes back to `queued` and its message is put on the broker again
    (`JobContext.send`), for another worker to resume it. By default it is never requested.
    """

    requested: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class JobContext:
    """What a pipeline needs from its worker: sessions, object storage and limits."""

    sessions: sessionmaker[Session]
    store: ObjectStore
    link_ttl: int = 900
    max_attempts: int = 5
    batch_rows: int = 2000
    export_progress_s: float = 0.0
    """An export stores its progress (and notices a cancel or a stop) after a batch of rows
    once this many seconds have passed since it last did; 0: after every batch. Workers take
    `ROSTERJOBS_EXPORT_PROGRESS_SECONDS` (1 s by default)."""
    import_limits: ImportLimits = field(default_factory=ImportLimits)
    pdf_max_rows: int = PDF_MAX_ROWS
    """The most rows a PDF export prints (`ROSTERJOBS_PDF_MAX_ROWS`); more fails the job."""
    stale_after_s: int = 60
    """A running job whose heartbeat is younger than this belongs to a live worker."""
    district_max_running: int | None = None
    """Jobs of one district that may run at once (`jobs.fair_share`); a job over it waits,
    queued. None (a context a script or a test builds to run pipelines directly): no limit."""
    stop: WorkerStop = field(default_factory=WorkerStop)
    send: JobSender = no_broker
    """`send(kind, job_id, delay_ms=0)`: the one way a job's message is put on the broker
    (`jobs.messages`); a deferred or handed-back job's message goes through it."""
    import_history_days: int = 90
    """How long an import's row results and change history are kept after it finished
    (`ROSTERJOBS_IMPORT_HISTORY_DAYS`): a revert of an older import is refused."""


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
    except WorkerStopping:
        _hand_back(ctx, job)
    except PermanentJobError as err:
        _finish(ctx, job_id, Outcome(JobStatus.FAILED), error=err.message)
    except Exception as err:
        if not is_transient(err):
            _fail_internal(ctx, job_id, err)
            return
        _after_fault(ctx, job, as_transient(err))
    else:
        _finish(ctx, job_id, outcome)


def claim(ctx: JobContext, job_id: str) -> Job | None:
    """Mark the job running and count the attempt; None when there is nothing to run.

    None too when the job's district already runs `ctx.district_max_running` jobs: the job
    stays queued, counts no attempt, and its message is sent again a few seconds later
    (`jobs.fair_share`), after this transaction has committed."""
    with unit_of_work(ctx.sessions) as session:
        job = _claimable(ctx, session, job_id)
        if job is None:
            return None
        wait = _fair_share_wait(ctx, session, job)
        if wait is None:
            return _start(ctx, session, job)
    ctx.send(wait.kind, wait.job_id, wait.delay_ms)
    return None


def _claimable(ctx: JobContext, session: Session, job_id: str) -> Job | None:
    """The job, locked, when this delivery may run it (finished, awaiting its file, running
    on a live worker or cancelled: None)."""
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
    return job


def _fair_share_wait(ctx: JobContext, session: Session, job: Job) -> fair_share.Deferral | None:
    if ctx.district_max_running is None:
        return None
    return fair_share.deferral(
        session, job, limit=ctx.district_max_running, stale_after_s=ctx.stale_after_s
    )


def _start(ctx: JobContext, session: Session, job: Job) -> Job | None:
    """Count the attempt and mark the job running, or fail it once its attempts are used."""
    job.attempts += 1
    if job.attempts > ctx.max_attempts:
        _set_finished(session, job, JobStatus.FAILED, _gave_up(job.attempts - 1, job.error))
        log.error("job.gave_up", job_id=job.id, attempts=job.attempts - 1)
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
    ctx: JobContext,
    job_id: str,
    *,
    processed: int | None = None,
    total: int | None = None,
    done: bool = False,
) -> None:
    """Store progress in its own short transaction (an import's batches store theirs with
    their checkpoint, so they only send the heartbeat); raise JobCancelled if the job was
    cancelled, or WorkerStopping if its worker process is stopping. `done`: the job's work
    is complete (its object written), so neither is raised: stopping then would throw the
    finished work away."""
    with unit_of_work(ctx.sessions) as session:
        cancel = job_records.record_progress(session, job_id, processed=processed, total=total)
    if done:
        return
    if cancel:
        raise JobCancelled()
    if ctx.stop.requested.is_set():
        raise WorkerStopping()


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
    """Fail the job when its attempts are used up; otherwise put it back to `queued` and
    re-raise `fault`: the broker delivers the message again after a backoff, with no limit
    of its own (`worker.runtime.job_retries`), and that delivery counts the next attempt."""
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


def internal_error_message(error_id: str) -> str:
    return (
        f"An internal error stopped the job (error id {error_id}); "
        "operations can find it in the logs."
    )


def _fail_internal(ctx: JobContext, job_id: str, err: Exception) -> None:
    """A defect, not an outage: running the job again would meet it again, so it fails at
    once. Its error names an id, and the one `job.internal_error` line under that id holds
    the traceback, which the job's error (shown to teachers) must not."""
    error_id = secrets.token_hex(4)
    log.error("job.internal_error", error_id=error_id, error=type(err).__name__, exc_info=err)
    _finish(ctx, job_id, Outcome(JobStatus.FAILED), error=internal_error_message(error_id))


HANDED_BACK = "Its worker was asked to stop; queued again for another worker."


def _hand_back(ctx: JobContext, job: Job) -> None:
    """Its worker is stopping: back to `queued` with the attempt given back (stopping is no
    failure), and the message sent again. Another worker resumes it: an import after its
    last committed batch, an export from the start (rewriting its object)."""
    with unit_of_work(ctx.sessions) as session:
        record = job_records.get_for_update(session, job.id)
        if record is None or record.status != JobStatus.RUNNING.value:
            return
        record.status = JobStatus.QUEUED.value
        record.queued_at = utcnow()
        record.attempts = job.attempts - 1
        job_events.record(
            session, job.id, JobEventName.REQUEUED, attempt=job.attempts, detail=HANDED_BACK
        )
    log.info("job.handed_back", checkpoint=record.checkpoint, processed=record.processed)
    try:
        ctx.send(job.kind, job.id)
    except Exception as err:
        _leave_to_reaper(ctx, job.id)
        log.error("job.hand_back_send_failed", error=type(err).__name__)


def _leave_to_reaper(ctx: JobContext, job_id: str) -> None:
    """The message could not be sent: the job is made stuck (running without a heartbeat),
    so the next reaper run of any worker sends it again."""
    with unit_of_work(ctx.sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, heartbeat_at=None)
            .execution_options(synchronize_session=False)
        )


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
    webhook_deliveries.add_if_enabled(session, job.id)


def finished_detail(status: JobStatus, error: str | None) -> str:
    """How a `finished` event reads: the final status, then the job-level error if any."""
    return f"{status.value}: {error}" if error else status.value
