"""Jobs as the dashboard shows them: a row of the jobs table, and the live figures its
script polls for (`/ops/jobs.json`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.routes.ops_render import readable, utc
from schemas.jobs import JobKind, JobStatus
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
        """The table's cell, which may wrap between counts but never inside one."""
        return keep_counts_whole(counts_text(self.job.counts))

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


def keep_counts_whole(text: str) -> str:
    """`created\u00a03 · updated\u00a01,204`: no-break spaces inside each count, so a
    narrow column puts `updated 1,204` on a line of its own rather than split its number
    from its name (the page's script does the same to the live figures)."""
    return " · ".join(count.replace(" ", "\u00a0") for count in text.split(" · "))


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


FILTERS = {
    "grade": "Grade",
    "school": "School",
    "class_group": "Class/group",
    "product": "Product",
    "search": "Search",
}
"""An export's filters (`jobs.requests.ExportRequest`), in the order the panel lists them."""

SHOWN_ELSEWHERE = frozenset({"district", "username", "entity", "columns", "ids", "dry_run"})
"""Options the panel does not list as stored: `district` is what the requester typed (an
id on one job, a name on another), so the panel names the job's district instead;
`username` is the page's "Requested by"; the rest have lines of their own."""

IDS_SHOWN = 20
DRY_RUN = "yes: validated and reported, nothing changed"


def option_lines(job: Job, district: str) -> list[tuple[str, str]]:
    """The Options panel as (label, value) lines in words, never as stored JSON: the
    district by name, an export's filters and columns, an import's dry run and file, then
    any option this page does not know yet, labelled after its name."""
    options = dict(job.options)
    lines = [("Entity", job.entity), ("District", district)]
    if job.kind == JobKind.EXPORT.value:
        lines += [("Filters", filters_text(options)), ("Columns", columns_text(options))]
    if job.kind in (JobKind.IMPORT.value, JobKind.REVERT.value) or job.dry_run:
        lines.append(("Dry run", DRY_RUN if job.dry_run else "no"))
    rest = (name for name in options if name not in SHOWN_ELSEWHERE and name not in FILTERS)
    lines += [(_label(name), readable(options[name])) for name in rest]
    return [(label, value) for label, value in lines if value]


def filters_text(options: Mapping[str, Any]) -> str:
    """`Grade 5 · School North Elementary`; an export of the requester's whole reach says so."""
    chosen = [f"{label} {options[name]}" for name, label in FILTERS.items() if options.get(name)]
    ids = [str(row_id) for row_id in options.get("ids") or ()]
    if ids:
        more = f" and {len(ids) - IDS_SHOWN:,} more" if len(ids) > IDS_SHOWN else ""
        chosen.append(f"Database IDs {', '.join(ids[:IDS_SHOWN])}{more}")
    return " · ".join(chosen) or "none: every row the requester may see"


def columns_text(options: Mapping[str, Any]) -> str:
    """`columns` None is every optional column; a list adds those to the required ones."""
    named = options.get("columns", [])
    if named is None:
        return "every column"
    return "the required ones" + (f" and {', '.join(named)}" if named else " only")


def _label(name: str) -> str:
    """`source_job_id` → `Source job id`; `filename` → `File`."""
    return "File" if name == "filename" else name.replace("_", " ").capitalize()
