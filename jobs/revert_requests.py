"""Asking for a revert: which imports may be reverted, by whom, and the job that does it.

An import may be reverted when it is a real import (not a dry run, not itself a revert)
that has finished and still has its change history: finished less than
`ROSTERJOBS_IMPORT_HISTORY_DAYS` ago and not pruned by the reaper. A real revert is made
once: the import names it in `reverted_by_job_id` (one conditional UPDATE, as a commit
does), and another is refused unless that one ended `failed` or `cancelled`. A dry-run
revert changes nothing and may be asked any number of times. Who may revert: who may see
the import's job and import its entity. Anything else is a `JobConflict` (409).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from jobs.commit import GIVEN_UP, claim_follow_up
from jobs.errors import JobConflict
from jobs.lifecycle import create_job
from jobs.requests import ImportRequest, plan_import
from schemas.jobs import FINISHED, JobKind, JobStatus
from schemas.oneroster import ONEROSTER
from schemas.scope import Scope
from storage import job_records
from storage.models import Job, utcnow

DEFAULT_HISTORY_DAYS = 90


def submit_revert(
    session: Session,
    source: Job,
    scope: Scope,
    *,
    dry_run: bool,
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> Job:
    """Record a queued revert of `source` (locked: `jobs.commit.source_job`); the caller
    commits, then sends it."""
    check_revertible(session, source, history_days=history_days)
    request = ImportRequest(str(source.district_id), scope.username, source.entity, dry_run)
    plan_import(session, request)  # may they import this entity at all?
    options: dict[str, object] = {
        "district": request.district,
        "username": request.username,
        "entity": request.entity,
        "dry_run": dry_run,
    }
    job = create_job(
        session,
        kind=JobKind.REVERT,
        entity=source.entity,
        scope=scope,
        options=options,
        dry_run=dry_run,
    )
    job.source_job_id = source.id
    if not dry_run:
        claim_follow_up(session, source, "reverted_by_job_id", job.id)
    return job


def check_revertible(session: Session, job: Job, *, history_days: int) -> None:
    """`JobConflict` with the reason when `job` cannot be reverted (now)."""
    if job.kind == JobKind.REVERT.value:
        raise JobConflict("A revert cannot itself be reverted.")
    if job.kind != JobKind.IMPORT.value:
        raise JobConflict("Only an import can be reverted; this job is an export.")
    if job.entity == ONEROSTER:
        raise JobConflict(
            "A OneRoster import cannot be reverted yet; import a corrected file set instead."
        )
    if job.dry_run:
        raise JobConflict("A dry run changed nothing, so there is nothing to revert.")
    if JobStatus(job.status) not in FINISHED:
        raise JobConflict(f"Only a finished import can be reverted; this one is {job.status}.")
    refusal = history_refusal(job, history_days=history_days)
    if refusal:
        raise JobConflict(refusal)
    earlier = job.reverted_by_job_id and job_records.get(session, job.reverted_by_job_id)
    if earlier and earlier.status not in GIVEN_UP:
        raise JobConflict(f"This import has already been reverted, by job {earlier.id}.")


def history_refusal(job: Job, *, history_days: int) -> str | None:
    """Why the import's history is gone (or about to be), or None while it is kept."""
    finished = job.finished_at
    if finished is not None and finished.tzinfo is None:
        finished = finished.replace(tzinfo=dt.UTC)
    expired = finished is not None and utcnow() - finished > dt.timedelta(days=history_days)
    if job.history_pruned_at is not None or expired:
        return (
            f"The import's change history is kept for {history_days} days after it finished "
            "and has been pruned, so it can no longer be reverted."
        )
    return None
