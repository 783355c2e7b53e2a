"""Commit a dry run: the same stored upload applied for real, as a new import job.

The portal verifies an upload with a dry run, then processes that very upload: the new job
keeps the dry run's `input_key` (nothing is uploaded twice) and names the dry run in its
`source_job_id`; the dry run names its commit in `committed_by_job_id`, set by one
conditional UPDATE so that two commits racing make one job. Only a finished dry run
(`completed` or `completed_with_errors`) may be committed, once (again only if its commit
ended `failed` or `cancelled`); anything else is a `JobConflict`. Who may commit: who may
see the dry run's job (`storage.job_reach`) and import its entity.

The commit runs as any import does; at its end (`commit_warnings`) the rows whose outcome
differs from the dry run's are named in its warnings: the roster changed in between.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from jobs.errors import JobConflict, RequestRefused
from jobs.lifecycle import create_job
from jobs.requests import ImportRequest, plan_import, resolve_scope
from schemas.jobs import JobKind, JobStatus
from schemas.scope import Scope
from storage import job_reach, job_records, revert_history
from storage.models import Job

SUCCEEDED = frozenset({JobStatus.COMPLETED.value, JobStatus.COMPLETED_WITH_ERRORS.value})
GIVEN_UP = frozenset({JobStatus.FAILED.value, JobStatus.CANCELLED.value})
"""A commit or revert that ended so does not count: the dry run or import may be tried again."""
DIFFERING_ROWS_SHOWN = 20


class NoSuchJob(RequestRefused):
    """No such job."""


class OutsideReach(RequestRefused):
    """This job was requested by an educator outside your reach."""


def requester_of(session: Session, job: Job, username: str) -> Scope:
    """The scope of `username` in the job's district, when they may see the job (else
    `OutsideReach`; an unknown educator is a `RequestRefused`)."""
    scope = resolve_scope(session, str(job.district_id), username)
    if not job_reach.may_see(session, scope, job.id):
        raise OutsideReach()
    return scope


def source_job(session: Session, job_id: str) -> Job:
    """The job, locked for the rest of the transaction; `NoSuchJob` when there is none."""
    job = job_records.get_for_update(session, job_id)
    if job is None:
        raise NoSuchJob()
    return job


def submit_commit(session: Session, dry_run: Job, scope: Scope) -> Job:
    """Record a queued import applying `dry_run`'s upload for real (the caller commits,
    then sends it). `dry_run` should be locked (`source_job`)."""
    _check_committable(session, dry_run)
    options = dict(dry_run.options) | {"username": scope.username, "dry_run": False}
    target = plan_import(session, ImportRequest(**options))
    job = create_job(
        session,
        kind=JobKind.IMPORT,
        entity=target.entity.value,
        scope=target.scope,
        options=options,
    )
    job.input_key = dry_run.input_key
    job.source_job_id = dry_run.id
    claim_follow_up(session, dry_run, "committed_by_job_id", job.id)
    return job


def _check_committable(session: Session, job: Job) -> None:
    if job.kind != JobKind.IMPORT.value or not job.dry_run:
        raise JobConflict("Only a dry run can be committed; this job is not one.")
    if job.status not in SUCCEEDED:
        raise JobConflict(f"Only a finished dry run can be committed; this one is {job.status}.")
    earlier = job.committed_by_job_id and job_records.get(session, job.committed_by_job_id)
    if earlier and earlier.status not in GIVEN_UP:
        raise JobConflict(f"This dry run has already been committed, as job {earlier.id}.")


def claim_follow_up(session: Session, source: Job, column: str, job_id: str) -> None:
    """Set the source's pointer to its follow-up, unless another follow-up took it since
    this transaction read it (`JobConflict`)."""
    seen = getattr(source, column)
    pointer = getattr(Job, column)
    statement = (
        update(Job)
        .where(Job.id == source.id, pointer.is_(None) if seen is None else pointer == seen)
        .values({column: job_id})
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], session.execute(statement)).rowcount != 1:
        raise JobConflict("Another request took this job at the same moment; look again.")
    setattr(source, column, job_id)


def commit_warnings(session: Session, job: Job) -> dict[str, object]:
    """For a commit: the rows whose outcome differs from its dry run's, if any."""
    if not job.source_job_id:
        return {}
    dry_run = job_records.get(session, job.source_job_id)
    if dry_run is None or dry_run.history_pruned_at is not None:
        return {"dry_run_results": "The dry run's row results were pruned; not compared."}
    count, first = revert_history.differing_rows(
        session, job.id, dry_run.id, limit=DIFFERING_ROWS_SHOWN
    )
    if not count:
        return {}
    rows = ", ".join(str(row) for row in first) + (", …" if count > len(first) else "")
    return {
        "differs_from_dry_run": (
            f"{count} row(s) came out differently from the dry run (rows {rows}): "
            "the roster changed in between."
        )
    }
