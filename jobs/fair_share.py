"""Fair share between districts: at most `limit` jobs of one district run at once.

One district's burst of large jobs must not take every worker thread while the other
districts wait. So `jobs.lifecycle.claim`, before it moves a job to `running`, asks
`deferral` in the same transaction:

1. the district's row is locked until the claim commits (Postgres: `SELECT … FOR NO KEY
   UPDATE`, which leaves alone the foreign-key checks of rows inserted for the district;
   SQLite: a write that changes nothing, which takes the database's one writer lock), so
   two workers claiming jobs of one district count one after the other and cannot both
   take its last slot;
2. the district's other jobs that are `running` with a heartbeat younger than
   `stale_after_s` are counted: a job whose worker died holds no slot (the reaper requeues
   it later). Running jobs are few, so the count reads the (status, created_at) index.

A job over the limit stays `queued` and counts no attempt. Its timeline notes the wait
once (`deferred`, unless the last event already says so), not at every look, and its
message is sent again after about `DEFER_MS` with jitter, through the job context's one
sender (`JobContext.send`): a fresh message rather than a retry, so no attempt is counted
and no backoff grows. Meanwhile the worker thread takes the next message, which is most
often another district's job, and the deferred message joins the back of the queue when it
comes due.

The job row is the only source of truth, so the rule holds on the embedded broker too,
and a slot is free as soon as its job finishes or goes silent. dramatiq's
ConcurrentRateLimiter was the other choice; it needs Redis, its slots expire after a
fixed TTL (a job running longer loses its slot, a crashed worker's slot is held until
then), and a refusal goes through the Retries middleware (counted, with a growing backoff).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage import job_events
from storage.job_events import JobEventName
from storage.models import District, Job, utcnow

log = structlog.get_logger("rosterjobs.jobs")

DEFER_MS = 3000
"""How long a deferred job's message waits before it is delivered again (±50 % jitter,
so deferred jobs do not come back all at once)."""


@dataclass(frozen=True)
class Deferral:
    """A job that waits for a slot of its district: its message is to be sent again."""

    job_id: str
    kind: str
    delay_ms: int


def deferral(session: Session, job: Job, *, limit: int, stale_after_s: int) -> Deferral | None:
    """None when the job's district has a free slot; otherwise the job is left `queued`,
    its wait noted in its timeline, and the answer says when to send its message again."""
    lock_district(session, job.district_id)
    running = running_in_district(
        session, job.district_id, stale_after_s=stale_after_s, besides=job.id
    )
    if running < limit:
        return None
    # a redelivered job whose worker died is still `running` (stale) until it gets a slot
    job.status = JobStatus.QUEUED.value
    # seen by a worker just now: its message is alive, so the reaper's resend of lost
    # messages (`jobs.reaper.resend_lost_messages`) leaves a long wait alone
    job.heartbeat_at = utcnow()
    if job_events.last_event(session, job.id) != JobEventName.DEFERRED:
        detail = f"{running} jobs of its district are running (at most {limit} at once)."
        job_events.record(session, job.id, JobEventName.DEFERRED, detail=detail)
    delay_ms = jittered(DEFER_MS)
    log.info(
        "job.deferred",
        job_id=job.id,
        district_id=job.district_id,
        running=running,
        limit=limit,
        delay_ms=delay_ms,
    )
    return Deferral(job.id, job.kind, delay_ms)


def lock_district(session: Session, district_id: int) -> None:
    """Hold the district's row until the transaction ends, so that claims of its jobs are
    decided one at a time."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(District)
            .where(District.id == district_id)
            .values(name=District.name)
            .execution_options(synchronize_session=False)
        )
        return
    locked = select(District.id).where(District.id == district_id).with_for_update(key_share=True)
    session.execute(locked)


def running_in_district(
    session: Session, district_id: int, *, stale_after_s: int, besides: str | None = None
) -> int:
    """The district's jobs that are `running` with a fresh heartbeat (`besides` left out)."""
    cutoff = utcnow() - dt.timedelta(seconds=stale_after_s)
    statement = select(func.count()).where(
        Job.status == JobStatus.RUNNING.value,
        Job.district_id == district_id,
        Job.heartbeat_at >= cutoff,
    )
    if besides is not None:
        statement = statement.where(Job.id != besides)
    return session.scalar(statement) or 0


def jittered(delay_ms: int) -> int:
    return int(delay_ms * random.uniform(0.5, 1.5))
