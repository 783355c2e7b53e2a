"""Upload targets for an import's file, and receiving that file when the API serves it.

S3 storage: a presigned POST for the job's `input_key`, whose policy limits the file to
1..`import_max_bytes` bytes (S3 enforces the policy; moto does not) and expires after the
link lifetime. The bucket's upload event, or `POST /v1/imports/{id}/start`, starts it.

Folder storage: a signed, expiring `PUT /v1/uploads/{job_id}` on the API itself, which
streams the body into the store (never holding it whole), refuses it past the size limit,
and then queues the import itself.
"""

from __future__ import annotations

import datetime as dt
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.errors import refused
from api.links import LinkSigner
from api.models import UploadTarget
from storage.objects import ObjectStore
from storage.s3 import S3Store
from worker.runtime import Runtime


def upload_target(
    runtime: Runtime, signer: LinkSigner, base_url: str, job_id: str, key: str
) -> UploadTarget:
    store = runtime.jobs.store
    max_bytes = runtime.settings.import_max_bytes
    if isinstance(store, S3Store):
        return s3_post_target(store, key, max_bytes=max_bytes, ttl_seconds=signer.ttl_seconds)
    url, expires = signer.upload_url(base_url, job_id)
    return UploadTarget(
        method="PUT",
        url=url,
        fields={},
        headers={"Content-Type": "text/csv"},
        max_bytes=max_bytes,
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
    )


def s3_post_target(store: S3Store, key: str, *, max_bytes: int, ttl_seconds: int) -> UploadTarget:
    expires_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=ttl_seconds)
    post = store.upload_form(key, max_bytes=max_bytes, ttl_seconds=ttl_seconds)
    return UploadTarget(
        method="POST",
        url=post["url"],
        fields={str(name): str(value) for name, value in post["fields"].items()},
        headers={},
        max_bytes=max_bytes,
        expires_at=expires_at,
    )


class UploadTooLarge(Exception):
    """The upload is larger than the import size limit."""


class EmptyUpload(Exception):
    """The upload is empty."""


async def receive_file(request: Request, store: ObjectStore, key: str, max_bytes: int) -> int:
    """Stream the request body to `key`; answers its size.

    Refused with 413 when the declared or the streamed length passes `max_bytes`, and with
    400 when empty; then nothing is stored at `key` (the store publishes an object only
    when its write block ends cleanly). Store calls run in the thread pool, off the loop.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    writing = store.open_write(key)
    out = await run_in_threadpool(writing.__enter__)
    try:
        size = await _copy_body(request, out, max_bytes)
    except BaseException as err:
        await run_in_threadpool(writing.__exit__, type(err), err, err.__traceback__)
        if isinstance(err, UploadTooLarge):
            raise _too_large(max_bytes) from err
        if isinstance(err, EmptyUpload):
            raise refused(400, "The upload is empty; send the CSV file as the body.") from err
        raise
    await run_in_threadpool(writing.__exit__, None, None, None)
    return size


async def _copy_body(request: Request, out: BinaryIO, max_bytes: int) -> int:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge()
        if chunk:
            await run_in_threadpool(out.write, chunk)
    if size == 0:
        raise EmptyUpload()
    return size


def _too_large(max_bytes: int) -> Exception:
    return refused(413, f"The file is larger than the import limit of {max_bytes} bytes.")
