"""`GET /v1/jobs`, `GET /v1/jobs/{id}` and `POST /v1/jobs/{id}/cancel`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from api.auth import ScopeDep
from api.deps import RuntimeDep, SignerDep
from api.errors import refused, responses
from api.job_access import JobQuery, job_for, page_of_jobs
from api.models import JobOut, JobPage
from api.views import job_view
from jobs.lifecycle import request_cancel
from schemas.columns import Entity
from schemas.jobs import JobKind, JobStatus
from storage.db import unit_of_work

router = APIRouter(prefix="/v1", tags=["jobs"], responses=responses(401, 503))


@router.get("/jobs", summary="The jobs the educator may see, newest first")
def list_jobs(
    *,
    request: Request,
    runtime: RuntimeDep,
    signer: SignerDep,
    scope: ScopeDep,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    entity: Entity | Literal["oneroster"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=400, description="`next_cursor` of the previous page.")
    ] = None,
) -> JobPage:
    """A district admin sees the district's jobs; a school admin their own and those of
    teachers who work only in their schools; a teacher their own."""
    query = JobQuery(
        status=status.value if status else None,
        kind=kind.value if kind else None,
        entity=entity.value if isinstance(entity, Entity) else entity,
        limit=limit,
        cursor=cursor,
    )
    with runtime.jobs.sessions() as session:
        found, next_cursor = page_of_jobs(session, scope, query)
        jobs = [job_view(runtime, signer, request, job) for job in found]
    return JobPage(jobs=jobs, next_cursor=next_cursor)


@router.get(
    "/jobs/{job_id}", summary="One job, with fresh download links", responses=responses(403, 404)
)
def show_job(
    job_id: str, request: Request, runtime: RuntimeDep, signer: SignerDep, scope: ScopeDep
) -> JobOut:
    with runtime.jobs.sessions() as session:
        job = job_for(session, scope, job_id)
        return job_view(runtime, signer, request, job)


@router.post(
    "/jobs/{job_id}/cancel",
    summary="Cancel a job that has not finished",
    responses=responses(403, 404, 409),
)
def cancel_job(
    job_id: str, request: Request, runtime: RuntimeDep, signer: SignerDep, scope: ScopeDep
) -> JobOut:
    """A job not yet running never runs; a running one stops at its next batch boundary
    (an import keeps the batches it committed). 409 when the job had already finished."""
    with unit_of_work(runtime.jobs.sessions) as session:
        job = job_for(session, scope, job_id, lock=True)
        if not request_cancel(session, job):
            raise refused(409, f"The job has already finished ({job.status}).")
    return job_view(runtime, signer, request, job)
