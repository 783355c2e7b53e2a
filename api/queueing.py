"""Putting jobs on the broker from the API, once each.

An import leaves `awaiting_upload` by one conditional UPDATE (`jobs.lifecycle.transition`,
shared with the S3 upload-event consumer): whichever of an upload, a `start` call or an S3
event gets there first queues the job, and the others find nothing to change, so a job is
never queued twice.

If the broker does not answer after the job was recorded, the job is put back as it was
(an import to `awaiting_upload`, so the portal can start it again) or failed (an export,
which the portal can simply ask for again), and the caller answers 503.
"""

from __future__ import annotations

from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, update

from api.errors import refused
from jobs.lifecycle import transition
from jobs.messages import EXPORT, IMPORT, kind_of
from schemas.jobs import JobStatus
from storage import webhook_deliveries
from storage.db import unit_of_work
from storage.models import Job, utcnow
from worker.runtime import Runtime
from worker.submit import enqueue_job

log = structlog.get_logger("rosterjobs.api")


def queue_uploaded(runtime: Runtime, job_id: str) -> bool:
    """Move the import from `awaiting_upload` to `queued`; False if it was not awaiting."""
    return _move(runtime, job_id, JobStatus.AWAITING_UPLOAD, JobStatus.QUEUED)


def send_import(runtime: Runtime, job_id: str) -> None:
    """Send a queued import's message; on a broker fault, back to `awaiting_upload` + 503."""
    try:
        send_job(runtime, IMPORT.actor_name, job_id)
    except Exception as err:
        log.error("api.enqueue_failed", job_id=job_id, error=type(err).__name__)
        _move(runtime, job_id, JobStatus.QUEUED, JobStatus.AWAITING_UPLOAD)
        raise _broker_down() from err


def send_export(runtime: Runtime, job_id: str) -> None:
    """Send a queued export's message; on a broker fault, fail the job + 503."""
    send_or_fail(runtime, EXPORT.actor_name, job_id)


def send_or_fail(runtime: Runtime, actor_name: str, job_id: str) -> None:
    """Send a queued job's message; on a broker fault, fail the job + 503 (an export, a
    commit or a revert: the portal asks again, and a failed one blocks no other)."""
    try:
        send_job(runtime, actor_name, job_id)
    except Exception as err:
        log.error("api.enqueue_failed", job_id=job_id, error=type(err).__name__)
        with unit_of_work(runtime.jobs.sessions) as session:
            failed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.FAILED.value,
                    error="The job could not be queued; please ask again.",
                    finished_at=utcnow(),
                )
            )
            if cast(CursorResult[Any], failed).rowcount == 1:
                webhook_deliveries.add_if_enabled(session, job_id)
        raise _broker_down() from err


def send_job(runtime: Runtime, actor_name: str, job_id: str) -> None:
    """Send the job's message through the job context's sender (`worker.submit`). Named by
    its actor, as the operations pages' retry names it."""
    enqueue_job(runtime, kind_of(actor_name), job_id)
    log.info("api.job_enqueued", job_id=job_id, actor=actor_name)


def _move(runtime: Runtime, job_id: str, source: JobStatus, target: JobStatus) -> bool:
    with unit_of_work(runtime.jobs.sessions) as session:
        return transition(session, job_id, source, target)


def _broker_down() -> Exception:
    return refused(503, "The job queue did not answer; try again in a moment.")
