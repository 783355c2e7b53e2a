"""The API's own signed links, for folder storage: `PUT /v1/uploads/{job_id}` receives an
import's file and starts the import; `GET /v1/files/{key}` downloads an output.

A link is its own credential (like a presigned URL): no bearer token, but a signature over
the method, the resource, the expiry and (downloads) the filename. A tampered or expired
link is a 403. See `api.links`.

A download is roster data: `Cache-Control: no-store` keeps it out of browser and proxy
caches, and `X-Content-Type-Options: nosniff` keeps a browser from reading the CSV as
anything but CSV (a cell that looks like HTML stays text).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, SignerDep
from api.errors import refused, responses
from api.links import upload_resource
from api.models import JobOut
from api.queueing import queue_uploaded, send_import
from api.uploads import received_file
from api.views import fresh_view
from jobs.lifecycle import transition
from schemas.jobs import JobKind, JobStatus
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import ObjectNotFound, ObjectStore, attachment_disposition, media_type_of
from worker.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["signed links"], responses=responses(503))

CHUNK_BYTES = 256 * 1024
DOWNLOAD_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
Expires = Annotated[int, Query(ge=0, le=2**40, description="Unix time the link expires.")]
Signature = Annotated[str, Query(max_length=128, description="The link's HMAC-SHA256 (hex).")]

_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The CSV file, as it is (UTF-8 with or without BOM, or Windows-1252).",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in ("text/csv", "application/octet-stream")
        },
    }
}


@router.put(
    "/uploads/{job_id}",
    summary="Upload an import's file (folder storage's signed upload link)",
    responses=responses(400, 403, 404, 409, 413),
    openapi_extra=_CSV_BODY,
)
async def upload_import_file(
    *,
    job_id: str,
    request: Request,
    runtime: RuntimeDep,
    signer: SignerDep,
    expires: Expires,
    signature: Signature,
) -> JobOut:
    """Streams the body into storage, then queues the import: no `start` call is needed.
    413 (and nothing queued) when the file passes the import size limit; 409 when the
    import is no longer awaiting its upload, or while another upload to the link is being
    received (the stored file stays the other upload's)."""
    signer.verify("PUT", upload_resource(job_id), expires=expires, signature=signature)
    key = await run_in_threadpool(_awaiting_key, runtime, job_id)
    store, limit = runtime.jobs.store, runtime.settings.import_max_bytes
    queued = False
    try:
        async with received_file(request, store, key, limit):
            # Queued before it is published, while this upload still holds the key: the file
            # stored is the one upload that queued the import; a later one is discarded.
            queued = await run_in_threadpool(queue_uploaded, runtime, job_id)
            if not queued:
                raise refused(409, "The import has already been started or cancelled.")
    except BaseException:
        if queued:  # queued, but the file could not be published after all
            await run_in_threadpool(_await_upload_again, runtime, job_id)
        raise
    await run_in_threadpool(send_import, runtime, job_id)
    return await run_in_threadpool(fresh_view, runtime, signer, request, job_id)


def _awaiting_key(runtime: Runtime, job_id: str) -> str:
    with runtime.jobs.sessions() as session:
        job = session.get(Job, job_id)
    if job is None or job.kind != JobKind.IMPORT.value or not job.input_key:
        raise refused(404, "No such import.")
    if job.status != JobStatus.AWAITING_UPLOAD.value:
        raise refused(409, f"The import is not awaiting its upload ({job.status}).")
    return job.input_key


def _await_upload_again(runtime: Runtime, job_id: str) -> None:
    """Put the import back to awaiting its upload, so the link can be used again."""
    with unit_of_work(runtime.jobs.sessions) as session:
        transition(session, job_id, JobStatus.QUEUED, JobStatus.AWAITING_UPLOAD)


@router.get(
    "/files/{key:path}",
    summary="Download an output file (folder storage's signed download link)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **responses(403, 404),
    },
)
def download_file(
    *,
    key: str,
    runtime: RuntimeDep,
    signer: SignerDep,
    expires: Expires,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
    signature: Signature,
) -> StreamingResponse:
    signer.verify("GET", key, expires=expires, signature=signature, filename=filename)
    store = runtime.jobs.store
    try:
        size = store.size(key)
    except ValueError:
        size = None
    if size is None:
        raise refused(404, "No such file.")
    return StreamingResponse(
        _chunks(store, key),
        media_type=media_type_of(filename),
        headers={
            "Content-Disposition": attachment_disposition(filename),
            "Content-Length": str(size),
            **DOWNLOAD_HEADERS,
        },
    )


def _chunks(store: ObjectStore, key: str) -> Iterator[bytes]:
    try:
        with store.open_read(key) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                yield chunk
    except ObjectNotFound:  # deleted between the check and the read: end the body short
        return
