"""Queries of the workers table: which worker processes are alive, and what they run.

A worker process registers itself when its dramatiq worker boots, then beats every few
seconds (`worker.heartbeat`): each beat refreshes its own row and the `heartbeat_at` of the
jobs it is running, so a job is alive exactly as long as the process running it is, whatever
stage it is in. The reaper (`jobs.reaper`) reads the other side: a running job whose
heartbeat went stale lost its worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.models import Job, WorkerProcess, utcnow

RECENT_SECONDS = 120
SCAN_LIMIT = 500


def register(
    session: Session,
    worker_id: str,
    *,
    host: str,
    pid: int,
    queues: Sequence[str],
    now: dt.datetime | None = None,
) -> WorkerProcess:
    moment = now or utcnow()
    worker = WorkerProcess(
        id=worker_id,
        host=host,
        pid=pid,
        queues=",".join(sorted(queues)),
        started_at=moment,
        heartbeat_at=moment,
        stopped_at=None,
        current_job_ids=[],
    )
    session.add(worker)
    return worker


def beat(
    session: Session, worker_id: str, *, job_ids: Sequence[str], now: dt.datetime | None = None
) -> bool:
    """Refresh the worker's heartbeat and that of the running jobs in `job_ids`; answers
    False when the worker has no row (it was never registered, or its row was removed)."""
    moment = now or utcnow()
    statement = (
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(heartbeat_at=moment, current_job_ids=list(job_ids))
        .execution_options(synchronize_session=False)
    )
    found = cast(CursorResult[Any], session.execute(statement)).rowcount == 1
    if job_ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(list(job_ids)), Job.status == JobStatus.RUNNING.value)
            .values(heartbeat_at=moment)
            .execution_options(synchronize_session=False)
        )
    return found


def mark_stopped(session: Session, worker_id: str, *, now: dt.datetime | None = None) -> None:
    """The process is shutting down cleanly: it takes no new work (running jobs finish)."""
    session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(stopped_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def recent_workers(session: Session, within_s: int = RECENT_SECONDS) -> list[WorkerProcess]:
    """Worker processes whose last heartbeat is at most `within_s` old, stopped ones
    included (`stopped_at` set), by host then start time."""
    cutoff = utcnow() - dt.timedelta(seconds=within_s)
    statement = (
        select(WorkerProcess)
        .where(WorkerProcess.heartbeat_at >= cutoff)
        .order_by(WorkerProcess.host, WorkerProcess.started_at, WorkerProcess.id)
    )
    return list(session.scalars(statement))


def last_running(
    session: Session, job_id: str, *, since: dt.datetime | None = None
) -> WorkerProcess | None:
    """The worker that most recently reported running `job_id` (looking at workers seen
    since `since`), or None."""
    statement = select(WorkerProcess).order_by(WorkerProcess.heartbeat_at.desc()).limit(SCAN_LIMIT)
    if since is not None:
        statement = statement.where(WorkerProcess.heartbeat_at >= since)
    for worker in session.scalars(statement):
        if job_id in (worker.current_job_ids or []):
            return worker
    return None


def prune(session: Session, *, older_than_s: int) -> int:
    """Forget worker processes not seen for `older_than_s`; answers how many."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_s)
    statement = delete(WorkerProcess).where(WorkerProcess.heartbeat_at < cutoff)
    return cast(CursorResult[Any], session.execute(statement)).rowcount
