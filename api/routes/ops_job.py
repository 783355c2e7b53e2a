"""One job on the dashboard (`GET /ops/jobs/{id}`) and what an operator can do to it:
cancel a job that has not finished, retry one that failed, send one of its webhook
notifications again.

Actions are POST forms; after one, the browser is sent back to the job's page (303) with a
`done` word the page turns into a sentence, so a reload never repeats the action.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.deps import RuntimeDep, SignerDep
from api.job_access import JOB_ID
from api.ops_auth import FormDep, PageCaller, ops_auth
from api.queueing import send_job
from api.routes.ops_render import redirect, render
from api.routes.ops_revert import revert_offer
from api.routes.ops_views import district_names, duration_s, is_stuck, option_lines
from api.views import job_view
from jobs.lifecycle import finished_detail, request_cancel, transition
from jobs.reaper import ACTORS
from schemas.jobs import JobStatus
from storage import job_events, job_records, webhook_attempts, webhook_deliveries
from storage.db import unit_of_work
from storage.job_events import JobEventName
from storage.models import Job, WebhookDelivery, utcnow
from worker.runtime import Runtime

log = structlog.get_logger("rosterjobs.api")

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])

ROW_ERRORS_SHOWN = 20
CANCELLABLE = frozenset(status.value for status in JobStatus if not status.finished)
NOT_SENT = "The job could not be queued again: the job queue did not answer. Retry later."


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    *,
    job_id: str,
    request: Request,
    caller: PageCaller,
    runtime: RuntimeDep,
    signer: SignerDep,
    done: str | None = None,
) -> HTMLResponse:
    with runtime.jobs.sessions() as session:
        job = _job_or_404(session.get(Job, job_id) if JOB_ID.fullmatch(job_id) else None)
        district = district_names(session, [job.district_id]).get(job.district_id, "")
        context: dict[str, Any] = {
            "job": job,
            "view": job_view(runtime, signer, request, job),
            "district": district,
            "options": option_lines(job, district),
            "finished": JobStatus(job.status).finished,
            "events": job_events.timeline(session, job.id),
            "row_errors": job_records.failed_rows(session, job.id, limit=ROW_ERRORS_SHOWN),
            "stuck": is_stuck(job, runtime.jobs.stale_after_s),
            "duration_s": duration_s(job),
            "can_cancel": job.status in CANCELLABLE,
            "can_retry": job.status == JobStatus.FAILED.value,
            "deliveries": _deliveries(session, job.id),
            "done": done,
            "revert": revert_offer(session, job, history_days=runtime.settings.import_history_days),
        }
    return render(request, caller, "job.html", **context)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    job_id: str, caller: PageCaller, form: FormDep, runtime: RuntimeDep
) -> RedirectResponse:
    """A queued job never runs; a running one stops at its next batch boundary."""
    caller.check_csrf(form)
    with unit_of_work(runtime.jobs.sessions) as session:
        job = _job_or_404(job_records.get_for_update(session, job_id))
        done = "cancelled" if request_cancel(session, job) else "already_finished"
    log.info("ops.job_cancel", job_id=job_id, outcome=done)
    return redirect(f"/ops/jobs/{job_id}?done={done}")


@router.post("/jobs/{job_id}/retry")
def retry_job(
    job_id: str, caller: PageCaller, form: FormDep, runtime: RuntimeDep
) -> RedirectResponse:
    """Back to `queued` (attempts from zero, error cleared, an import's checkpoint kept),
    then its message is sent again; only a failed job."""
    caller.check_csrf(form)
    with unit_of_work(runtime.jobs.sessions) as session:
        job = _job_or_404(job_records.get(session, job_id))
        attempts = job.attempts
        requeued = job_records.requeue_failed(session, job_id)
        if requeued:
            detail = f"Retried from the operations dashboard after {attempts} attempts."
            job_events.record(session, job_id, JobEventName.REQUEUED, detail=detail)
        kind = job.kind
    if not requeued:
        return redirect(f"/ops/jobs/{job_id}?done=not_failed")
    try:
        send_job(runtime, ACTORS[kind], job_id)
    except Exception as err:
        log.error("ops.retry_not_sent", job_id=job_id, error=type(err).__name__)
        _fail_unsent(runtime, job_id)
        return redirect(f"/ops/jobs/{job_id}?done=not_sent")
    log.info("ops.job_retried", job_id=job_id)
    return redirect(f"/ops/jobs/{job_id}?done=retried")


@router.post("/jobs/{job_id}/webhooks/{delivery_id}/resend")
def resend_webhook(
    job_id: str, delivery_id: str, caller: PageCaller, form: FormDep, runtime: RuntimeDep
) -> RedirectResponse:
    """Send the notification again now, with the same `webhook-id` and a fresh retry
    schedule, whatever became of it (delivered, failed, gone or still retrying)."""
    caller.check_csrf(form)
    with unit_of_work(runtime.jobs.sessions) as session:
        resent = webhook_deliveries.resend(session, job_id, delivery_id)
    log.info("ops.webhook_resend", job_id=job_id, webhook_id=delivery_id, resent=resent)
    return redirect(f"/ops/jobs/{job_id}?done={'resent' if resent else 'no_delivery'}")


def _deliveries(session: Session, job_id: str) -> list[tuple[WebhookDelivery, list[Any]]]:
    """The job's webhook deliveries, oldest first, each with its attempts."""
    found = webhook_deliveries.of_job(session, job_id)
    tried = webhook_attempts.of_deliveries(session, [delivery.id for delivery in found])
    return [(delivery, list(tried[delivery.id])) for delivery in found]


def _fail_unsent(runtime: Runtime, job_id: str) -> None:
    """The job was put back to `queued` but its message never left: fail it again."""
    with unit_of_work(runtime.jobs.sessions) as session:
        if transition(session, job_id, JobStatus.QUEUED, JobStatus.FAILED):
            job = job_records.get(session, job_id)
            if job is not None:
                job.error, job.finished_at = NOT_SENT, utcnow()
                detail = finished_detail(JobStatus.FAILED, NOT_SENT)
                job_events.record(session, job_id, JobEventName.FINISHED, detail=detail)
                webhook_deliveries.add_if_enabled(session, job_id)


def _job_or_404(job: Job | None) -> Job:
    """A browser gets this as the dashboard's 404 page, a script as JSON (`ops.install`)."""
    if job is None:
        raise HTTPException(404, "This job does not exist.")
    return job
