"""Commit and revert on the dashboard: the links between a job and the jobs made from it,
whether an import can still be reverted, and the Revert action.

Reverting from the dashboard takes two steps, each a POST form with the CSRF token: first a
dry run of the revert (its counts say what would go back and what changed since), then,
from that dry run's page, the real revert, which also needs its confirmation box ticked.
Both are made on behalf of the import's requester, whose reach was the import's.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from api.deps import RuntimeDep
from api.ops_auth import FormDep, PageCaller, ops_auth
from api.queueing import send_job
from api.routes.ops_render import redirect
from jobs.commit import requester_of, source_job
from jobs.errors import JobConflict, RequestRefused
from jobs.messages import REVERT
from jobs.revert_requests import check_revertible, submit_revert
from schemas.jobs import JobKind, JobStatus
from storage.db import unit_of_work
from storage.models import Job

log = structlog.get_logger("rosterjobs.api")

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])


@dataclass(frozen=True)
class RevertOffer:
    """What the job page offers: `import_id` to revert, `real` (a dry run was seen, so the
    real revert is offered), or why not (`reason`)."""

    import_id: str | None = None
    real: bool = False
    reason: str | None = None


def revert_offer(session: Session, job: Job, *, history_days: int) -> RevertOffer:
    """An import: a dry-run revert, or why it cannot be reverted; a finished dry-run
    revert whose import can still be reverted: the real one."""
    if job.kind == JobKind.REVERT.value:
        finished_trial = job.dry_run and job.status in (
            JobStatus.COMPLETED.value,
            JobStatus.COMPLETED_WITH_ERRORS.value,
        )
        source = session.get(Job, job.source_job_id) if job.source_job_id else None
        if not finished_trial or source is None or _refusal(session, source, history_days):
            return RevertOffer()
        return RevertOffer(import_id=source.id, real=True)
    if job.kind != JobKind.IMPORT.value:
        return RevertOffer()
    reason = _refusal(session, job, history_days)
    return RevertOffer(reason=reason) if reason else RevertOffer(import_id=job.id)


def _refusal(session: Session, job: Job, history_days: int) -> str | None:
    try:
        check_revertible(session, job, history_days=history_days)
    except JobConflict as err:
        return err.message
    return None


@router.post("/jobs/{job_id}/revert")
def revert_import(
    job_id: str, caller: PageCaller, form: FormDep, runtime: RuntimeDep
) -> RedirectResponse:
    """A revert of the import, as its requester: a dry run (`dry_run=1`), or the real one
    (`dry_run=0` with `confirm=yes`). The browser is sent to the new revert's page."""
    caller.check_csrf(form)
    dry_run = form.get("dry_run") != "0"
    if not dry_run and form.get("confirm") != "yes":
        return redirect(f"/ops/jobs/{job_id}?done=revert_unconfirmed")
    try:
        with unit_of_work(runtime.jobs.sessions) as session:
            source = source_job(session, job_id)
            scope = requester_of(session, source, source.requested_by)
            days = runtime.settings.import_history_days
            new_id = submit_revert(session, source, scope, dry_run=dry_run, history_days=days).id
    except (RequestRefused, JobConflict) as err:
        log.info("ops.revert_refused", job_id=job_id, reason=err.message)
        return redirect(f"/ops/jobs/{job_id}?done=revert_refused")
    try:
        send_job(runtime, REVERT.actor_name, new_id)
    except Exception as err:
        log.error("ops.revert_not_sent", job_id=new_id, error=type(err).__name__)
        return redirect(f"/ops/jobs/{new_id}?done=not_sent")
    log.info("ops.revert_queued", job_id=new_id, source_job_id=job_id, dry_run=dry_run)
    return redirect(f"/ops/jobs/{new_id}?done=revert_queued")
