"""`POST /v1/exports`, `POST /v1/imports` and `POST /v1/imports/{id}/start`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import ScopeDep
from api.deps import RuntimeDep, SignerDep
from api.errors import refused, responses
from api.job_access import job_for
from api.models import ExportBody, ImportBody, ImportCreated, JobOut
from api.queueing import queue_uploaded, send_export, send_import
from api.uploads import upload_target
from api.views import fresh_view, job_view
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from schemas.jobs import JobKind, JobStatus
from storage.db import unit_of_work
from storage.models import Job

router = APIRouter(prefix="/v1", responses=responses(401, 503))


@router.post(
    "/exports",
    status_code=202,
    tags=["exports"],
    summary="Queue an export",
    responses=responses(400, 403),
)
def create_export(
    body: ExportBody, request: Request, runtime: RuntimeDep, signer: SignerDep, scope: ScopeDep
) -> JobOut:
    """The job is queued at once; poll `GET /v1/jobs/{id}` until it finishes, then download
    `result_url`. 403 when the request is outside the educator's reach (teachers cannot
    export educators; a school or class/group filter outside their schools or classes)."""
    export = ExportRequest(
        district=str(scope.district_id),
        username=scope.username,
        entity=body.entity.value if body.entity else "",
        format=body.format,
        columns=None if body.columns is None else tuple(body.columns),
        grade=body.filters.grade,
        school=body.filters.school,
        class_group=body.filters.class_group,
        product=body.filters.product,
        search=body.filters.search,
        ids=tuple(body.ids),
        include_inactive=body.include_inactive,
    )
    pdf_max_rows = runtime.settings.pdf_max_rows
    with unit_of_work(runtime.jobs.sessions) as session:
        job = submit_export(session, export, pdf_max_rows=pdf_max_rows)
    send_export(runtime, job.id)
    return job_view(runtime, signer, request, job)


@router.post(
    "/imports",
    status_code=201,
    tags=["imports"],
    summary="Create an import and get where to upload its file",
    responses=responses(400, 403),
)
def create_import(
    body: ImportBody, request: Request, runtime: RuntimeDep, signer: SignerDep, scope: ScopeDep
) -> ImportCreated:
    """The job waits in `awaiting_upload`. Send the file to `upload` (see `UploadTarget`):
    with folder storage the upload itself starts the import; with S3 the bucket's upload
    event does, or call `POST /v1/imports/{id}/start`."""
    wanted = ImportRequest(
        district=str(scope.district_id),
        username=scope.username,
        entity=body.entity.value,
        dry_run=body.dry_run,
        filename=body.filename,
        format=body.format,
    )
    with unit_of_work(runtime.jobs.sessions) as session:
        job = submit_import(session, wanted)
    target = upload_target(runtime, signer, str(request.base_url), job.id, job.input_key or "")
    view = job_view(runtime, signer, request, job)
    return ImportCreated(**view.model_dump(), upload=target)


@router.post(
    "/imports/{job_id}/start",
    status_code=202,
    tags=["imports"],
    summary="Queue an import whose file has been uploaded",
    responses=responses(403, 404, 409, 413),
)
def start_import(
    job_id: str, request: Request, runtime: RuntimeDep, signer: SignerDep, scope: ScopeDep
) -> JobOut:
    """409 when the file has not landed yet, or the import is no longer awaiting its
    upload (already started, by this call, the upload or an upload event, or cancelled).
    Starting twice queues the import once."""
    with runtime.jobs.sessions() as session:
        job = job_for(session, scope, job_id)
    _check_uploaded(runtime, job)
    if not queue_uploaded(runtime, job.id):
        raise refused(409, "The import has already been started or cancelled.")
    send_import(runtime, job.id)
    return fresh_view(runtime, signer, request, job.id)


def _check_uploaded(runtime: RuntimeDep, job: Job) -> None:
    if job.kind != JobKind.IMPORT.value:
        raise refused(409, "This job is an export; only imports are started.")
    if job.status != JobStatus.AWAITING_UPLOAD.value:
        raise refused(409, f"The import is not awaiting its upload ({job.status}).")
    size = runtime.jobs.store.size(job.input_key or "")
    if size is None:
        raise refused(409, "The file has not been uploaded yet.")
    limit = runtime.settings.import_max_bytes
    if size > limit:
        raise refused(413, f"The file is larger than the import limit of {limit} bytes.")
