"""Queries of the job_events table: each job's timeline, as the dashboard shows it.

Events are written by `jobs.lifecycle` and `jobs.reaper` in the same transaction as the
change they describe, so a timeline never shows a step the job record does not have.
`detail` holds an error message, a final status or why a job waits, never roster content.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import JobEvent, utcnow


class JobEventName(StrEnum):
    CREATED = "created"
    QUEUED = "queued"
    STARTED = "started"
    RETRY_SCHEDULED = "retry_scheduled"
    REQUEUED = "requeued"  # by the reaper, after its worker stopped heartbeating
    CANCEL_REQUESTED = "cancel_requested"
    DEFERRED = "deferred"  # its district ran its share of jobs; noted once per wait
    FINISHED = "finished"


DETAIL_MAX_CHARS = 2000


def record(
    session: Session,
    job_id: str,
    event: JobEventName | str,
    *,
    attempt: int | None = None,
    detail: str | None = None,
) -> JobEvent:
    """Add one event to the job's timeline, in the caller's transaction. `event` is one of
    `JobEventName` (a plain string must be one of its values: ValueError otherwise)."""
    entry = JobEvent(
        job_id=job_id,
        at=utcnow(),
        event=JobEventName(event).value,
        attempt=attempt,
        detail=detail[:DETAIL_MAX_CHARS] if detail else detail,
    )
    session.add(entry)
    return entry


def last_event(session: Session, job_id: str) -> str | None:
    """The name of the job's latest event (None before its first)."""
    statement = (
        select(JobEvent.event)
        .where(JobEvent.job_id == job_id)
        .order_by(JobEvent.at.desc(), JobEvent.id.desc())
        .limit(1)
    )
    return session.scalar(statement)


def timeline(session: Session, job_id: str) -> list[JobEvent]:
    """The job's events, oldest first (events of the same instant in the order written)."""
    statement = select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.at, JobEvent.id)
    return list(session.scalars(statement))
