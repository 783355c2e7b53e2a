"""Queries of the jobs table: the source of truth of every job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import Job, utcnow


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def get_for_update(session: Session, job_id: str) -> Job | None:
    """The job, locked until the transaction ends (Postgres; SQLite serialises writers)."""
    return session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()


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
    session.execute(update(Job).where(Job.id == job_id).values(**values))
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


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
