"""The reaper: a running job whose worker stopped heartbeating goes back to the queue.

Every worker process refreshes the `heartbeat_at` of the jobs it runs every few seconds
(`worker.heartbeat`), whatever stage they are in. A job still `running` whose heartbeat is
older than `stale_after_s` has lost its worker (SIGKILL, out of memory, a node gone). The
reaper, run periodically by every worker process, then:

1. moves it back to `queued` and sends its message again (to its kind's actor,
   `jobs.messages`), so any worker picks it up: an export is written again, an import
   resumes after its last committed batch; or
2. fails it, naming the lost worker, when its attempts are used up (the same rule as a
   transient fault: a job that kills its worker every time must not loop forever).

Each job is moved by one conditional UPDATE (still `running`, heartbeat still stale), so
reapers running at once in several processes take a job once, and only the one that moved
it sends its message. dramatiq may also redeliver the lost worker's message on its own;
`jobs.lifecycle.claim` skips a delivery of a job already running with a fresh heartbeat, so
the job still runs once at a time.

A `queued` job can lose its message too: a Redis without persistence restarted, a failover
that dropped the last writes, a retry waiting in the delay queue when Redis went away.
Nothing else would ever send it again, so the reaper also re-sends the message of a job
queued (and not run) for `resend_after_s` (`resend_lost_messages`), far longer than the
longest retry backoff. Each resend moves the job's `queued_at` forward by one conditional
UPDATE, so several reapers send it once per period; if the job still had its message, the
second delivery is skipped by `claim` (finished, or running with a fresh heartbeat).

Both take `send(actor_name, job_id)`; a worker passes its job context's sender
(`jobs.messages.by_actor_name(ctx.send)`), so the reaper's messages go the way all others do.

The reaper also bounds the history imports leave (`prune_old_history`): the row results and
change history of imports, dry runs and reverts that finished more than
`ROSTERJOBS_IMPORT_HISTORY_DAYS` ago are deleted, in short transactions of a few hundred
rows, so that it never holds long locks on the tables imports write. The jobs keep their
counts and files; once empty, a job is marked `history_pruned_at`, and a revert of it is
refused with that reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs import messages
from jobs.lifecycle import finished_detail
from jobs.messages import ActorSend, route
from schemas.jobs import JobStatus
from storage import job_events, revert_history, webhook_deliveries, workers
from storage.db import unit_of_work
from storage.job_events import JobEventName
from storage.models import Job, utcnow

log = structlog.get_logger("rosterjobs.reaper")

STALE_AFTER_SECONDS = 60
RESEND_QUEUED_AFTER_SECONDS = 900
"""Longer than the longest retry backoff (300 s), so a job waiting for its retry is not
sent twice; a backlog longer than this gets one extra, skipped, message per job and period."""
ACTORS = messages.ACTORS
"""Kind → actor name (`jobs.messages`), for the operations pages that read it here."""

Send = ActorSend
"""`send(actor_name, job_id)`: put the job's message on the broker."""


@dataclass(frozen=True)
class _Stuck:
    id: str
    kind: str
    attempts: int
    started_at: dt.datetime | None


@dataclass(frozen=True)
class _Queued:
    id: str
    kind: str
    queued_at: dt.datetime | None


def stuck_jobs(
    session: Session, stale_after_s: int = STALE_AFTER_SECONDS, *, limit: int = 100
) -> list[Job]:
    """Running jobs whose heartbeat is older than `stale_after_s` (or missing), the
    longest silent first, at most `limit` of them."""
    statement = (
        select(Job)
        .where(Job.status == JobStatus.RUNNING.value, _stale(stale_after_s))
        .order_by(Job.heartbeat_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def count_stuck_jobs(session: Session, stale_after_s: int = STALE_AFTER_SECONDS) -> int:
    statement = select(func.count()).where(
        Job.status == JobStatus.RUNNING.value, _stale(stale_after_s)
    )
    return session.scalar(statement) or 0


def reap_stuck_jobs(
    sessions: sessionmaker[Session],
    *,
    stale_after_s: int = STALE_AFTER_SECONDS,
    max_attempts: int,
    send: Send,
) -> list[str]:
    """Requeue (and send again) or fail every stuck job; answers the ids this call took,
    in either way. A job another reaper took first is left to it."""
    with unit_of_work(sessions) as session:
        found = [
            _Stuck(job.id, job.kind, job.attempts, job.started_at)
            for job in stuck_jobs(session, stale_after_s)
        ]
    taken: list[str] = []
    for job in found:
        if job.attempts >= max_attempts:
            if _fail(sessions, job, stale_after_s):
                taken.append(job.id)
        elif _requeue(sessions, job, stale_after_s, send):
            taken.append(job.id)
    return taken


def _requeue(sessions: sessionmaker[Session], job: _Stuck, stale_after_s: int, send: Send) -> bool:
    with unit_of_work(sessions) as session:
        lost = _lost_worker(session, job)
        values = {
            "status": JobStatus.QUEUED.value,
            "queued_at": utcnow(),
            "error": f"{lost} stopped responding (attempt {job.attempts}); queued again.",
        }
        if not _take(session, job.id, stale_after_s, values):
            return False
        detail = f"{lost} stopped responding."
        job_events.record(
            session, job.id, JobEventName.REQUEUED, attempt=job.attempts, detail=detail
        )
    log.warning("job.requeued", job_id=job.id, attempt=job.attempts, reason=detail)
    try:
        send(route(job.kind).actor_name, job.id)
    except Exception as err:
        _put_back(sessions, job.id, stale_after_s)
        log.error("job.requeue_send_failed", job_id=job.id, error=type(err).__name__)
        return False
    return True


def _fail(sessions: sessionmaker[Session], job: _Stuck, stale_after_s: int) -> bool:
    with unit_of_work(sessions) as session:
        lost = _lost_worker(session, job)
        error = f"Stopped after {job.attempts} attempts: {lost} stopped responding."
        values = {"status": JobStatus.FAILED.value, "error": error, "finished_at": utcnow()}
        if not _take(session, job.id, stale_after_s, values):
            return False
        job_events.record(
            session,
            job.id,
            JobEventName.FINISHED,
            attempt=job.attempts,
            detail=finished_detail(JobStatus.FAILED, error),
        )
        webhook_deliveries.add_if_enabled(session, job.id)
    log.error("job.gave_up", job_id=job.id, attempts=job.attempts, reason=error)
    return True


def _take(session: Session, job_id: str, stale_after_s: int, values: dict[str, Any]) -> bool:
    """The conditional UPDATE that lets exactly one reaper take a stuck job."""
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, _stale(stale_after_s))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def _put_back(sessions: sessionmaker[Session], job_id: str, stale_after_s: int) -> None:
    """The message could not be sent: make the job stuck again, so the next reaper run
    tries once more (unless a redelivered message has claimed it meanwhile)."""
    with unit_of_work(sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value, _stale(stale_after_s))
            .values(status=JobStatus.RUNNING.value)
            .execution_options(synchronize_session=False)
        )


def _lost_worker(session: Session, job: _Stuck) -> str:
    worker = workers.last_running(session, job.id, since=job.started_at)
    return f"Its worker {worker.id}" if worker else "Its worker"


def _stale(stale_after_s: int) -> ColumnElement[bool]:
    cutoff = utcnow() - dt.timedelta(seconds=stale_after_s)
    return or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff)


def resend_lost_messages(
    sessions: sessionmaker[Session],
    *,
    resend_after_s: int = RESEND_QUEUED_AFTER_SECONDS,
    send: Send,
    limit: int = 100,
) -> list[str]:
    """Send again the message of every job `queued` for `resend_after_s` without running
    since (its message was probably lost with the broker's data); answers their ids."""
    with unit_of_work(sessions) as session:
        found = [
            _Queued(job.id, job.kind, job.queued_at)
            for job in session.scalars(
                select(Job)
                .where(Job.status == JobStatus.QUEUED.value, _waiting(resend_after_s))
                .order_by(Job.queued_at)
                .limit(limit)
            )
        ]
    return [job.id for job in found if _resend(sessions, job, resend_after_s, send)]


def _resend(sessions: sessionmaker[Session], job: _Queued, resend_after_s: int, send: Send) -> bool:
    with unit_of_work(sessions) as session:
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == JobStatus.QUEUED.value)
                .where(_waiting(resend_after_s))
                .values(queued_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        )
        if taken.rowcount != 1:
            return False
        detail = f"Queued for over {resend_after_s} s without running; its message was sent again."
        job_events.record(session, job.id, JobEventName.REQUEUED, detail=detail)
    try:
        send(route(job.kind).actor_name, job.id)
    except Exception as err:
        _restore_queued_at(sessions, job.id, job.queued_at)
        log.error("job.resend_failed", job_id=job.id, error=type(err).__name__)
        return False
    log.warning("job.message_resent", job_id=job.id, waited_s=resend_after_s)
    return True


def _restore_queued_at(
    sessions: sessionmaker[Session], job_id: str, queued_at: dt.datetime | None
) -> None:
    """The broker did not take the message: the next reaper run tries again."""
    with unit_of_work(sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(queued_at=queued_at)
            .execution_options(synchronize_session=False)
        )


def _waiting(resend_after_s: int) -> ColumnElement[bool]:
    """Queued that long, and not run since either (a retry in backoff beat when it ran)."""
    cutoff = utcnow() - dt.timedelta(seconds=resend_after_s)
    return and_(
        or_(Job.queued_at.is_(None), Job.queued_at < cutoff),
        or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff),
    )


HISTORY_PRUNE_ROWS = 500
"""Rows deleted per table and transaction: a short lock, whatever the import's size."""
HISTORY_PRUNE_BATCHES = 40
"""Transactions per reaper run: the rest waits for the next run."""


def prune_old_history(
    sessions: sessionmaker[Session],
    *,
    history_days: int,
    rows: int = HISTORY_PRUNE_ROWS,
    max_batches: int = HISTORY_PRUNE_BATCHES,
) -> int:
    """Delete the row results and change history of imports finished more than
    `history_days` ago, in at most `max_batches` transactions of at most `rows` rows per
    table; answers how many rows went."""
    cutoff = utcnow() - dt.timedelta(days=history_days)
    with unit_of_work(sessions) as session:
        job_ids = revert_history.imports_to_prune(
            session, finished_before=cutoff, limit=max_batches
        )
    deleted, batches = 0, 0
    for job_id in job_ids:
        gone = -1
        while gone != 0 and batches < max_batches:
            with unit_of_work(sessions) as session:
                gone = revert_history.prune_some(session, job_id, rows=rows)
            deleted += gone
            batches += 1
    if deleted:
        log.info("history.pruned", rows=deleted, older_than_days=history_days)
    return deleted
