"""The broker and the workers on the dashboard: `GET /ops/queues` (depths, delayed and
dead-lettered messages, with a requeue button per dead letter) and `GET /ops/workers`
(worker processes seen recently, and running jobs whose heartbeat has stopped)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import RuntimeDep
from api.ops_auth import FormDep, PageCaller, ops_auth
from api.routes.ops_render import redirect, render
from api.routes.ops_views import job_rows
from jobs.reaper import stuck_jobs
from storage.workers import recent_workers
from worker import queues

log = structlog.get_logger("rosterjobs.api")

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])

DEAD_LETTERS_SHOWN = 100
WORKERS_WITHIN_S = 120


@router.get("/queues", response_class=HTMLResponse)
def queues_page(
    request: Request, caller: PageCaller, runtime: RuntimeDep, done: str | None = None
) -> HTMLResponse:
    stats = queues.queue_stats(runtime.broker)
    letters = queues.dead_letters(runtime.broker, limit=DEAD_LETTERS_SHOWN)
    return render(request, caller, "queues.html", queues=stats, letters=letters, done=done)


@router.post("/queues/{queue}/dead-letters/{message_id}/requeue")
def requeue_dead_letter(
    queue: str, message_id: str, caller: PageCaller, form: FormDep, runtime: RuntimeDep
) -> RedirectResponse:
    """Back onto its queue; a job that has finished meanwhile is skipped by the worker."""
    caller.check_csrf(form)
    moved = queues.requeue_dead_letter(runtime.broker, queue, message_id)
    log.info("ops.dead_letter_requeued", queue=queue, message_id=message_id, moved=moved)
    return redirect(f"/ops/queues?done={'requeued' if moved else 'gone'}")


@router.get("/workers", response_class=HTMLResponse)
def workers_page(request: Request, caller: PageCaller, runtime: RuntimeDep) -> HTMLResponse:
    with runtime.jobs.sessions() as session:
        workers = recent_workers(session, within_s=WORKERS_WITHIN_S)
        stuck = stuck_jobs(session, runtime.jobs.stale_after_s)
        stuck_rows = job_rows(session, stuck, runtime.jobs.stale_after_s)
    return render(
        request,
        caller,
        "workers.html",
        workers=workers,
        stuck=stuck_rows,
        within_s=WORKERS_WITHIN_S,
        stale_after_s=runtime.jobs.stale_after_s,
        embedded=runtime.settings.embedded_broker,
    )
