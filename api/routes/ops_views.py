"""Jobs as the dashboard shows them: a row of the jobs table, and the live figures its
script polls for (`/ops/jobs.json`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.routes.ops_render import utc
from schemas.jobs import JobStatus
from storage.models import District, Job

LIVE = frozenset({JobStatus.QUEUED.value, JobStatus.RUNNING.value})
"""Jobs whose progress the page keeps polling for."""


@dataclass(frozen=True)
class JobRow:
    job: Job
    district: str
    stuck: bool

    @property
    def live(self) -> bool:
        return self.job.status in LIVE

    @property
    def counts(self) -> str:
        return counts_text(self.job.counts)

    @property
    def duration_s(self) -> float | None:
        return duration_s(self.job)


def is_stuck(job: Job, stale_after_s: int, now: dt.datetime | None = None) -> bool:
    """Running without a heartbeat for `stale_after_s`: the reaper's own rule
    (`jobs.reaper.stuck_jobs`), read off the row rather than queried again."""
    if job.status != JobStatus.RUNNING.value:
        return False
    beat = utc(job.heartbeat_at)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=stale_after_s)
    return beat is None or beat < cutoff


def counts_text(counts: Mapping[str, Any] | None) -> str:
    """`created 3 · updated 1,204 · failed 1`, zero counts left out."""
    return " · ".join(
        f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}"
        for name, value in (counts or {}).items()
        if value
    )


def duration_s(job: Job, now: dt.datetime | None = None) -> float | None:
    """From start to finish; for a job still running, from start until now."""
    started = utc(job.started_at)
    if started is None:
        return None
    ended = utc(job.finished_at) or (now or dt.datetime.now(dt.UTC))
    return max(0.0, (ended - started).total_seconds())


def percent_done(job: Job) -> int | None:
    if not job.total:
        return 100 if JobStatus(job.status).finished and job.total == 0 else None
    return min(100, int(job.processed * 100 / job.total))


def live_figures(job: Job, stuck: bool) -> dict[str, Any]:
    """What the page's script updates without a reload."""
    return {
        "id": job.id,
        "status": job.status,
        "live": job.status in LIVE,
        "stuck": stuck,
        "processed": job.processed,
        "total": job.total,
        "percent": percent_done(job),
        "counts": counts_text(job.counts),
        "attempts": job.attempts,
        "duration_s": duration_s(job),
    }


def district_names(session: Session, district_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(district_ids))
    if not wanted:
        return {}
    rows = session.execute(select(District.id, District.name).where(District.id.in_(wanted)))
    return {district_id: name for district_id, name in rows}


def all_districts(session: Session) -> list[tuple[int, str]]:
    """For the district filter: districts are tenants, a short list."""
    rows = session.execute(select(District.id, District.name).order_by(District.name))
    return [(district_id, name) for district_id, name in rows]


def job_rows(session: Session, jobs: Iterable[Job], stale_after_s: int) -> list[JobRow]:
    jobs = list(jobs)
    names = district_names(session, (job.district_id for job in jobs))
    return [
        JobRow(job, names.get(job.district_id, str(job.district_id)), is_stuck(job, stale_after_s))
        for job in jobs
    ]
