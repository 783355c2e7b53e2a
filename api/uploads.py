"""Upload targets for an import's file, and receiving that file when the API serves it.

S3 storage: a presigned POST for the job's `input_key`, whose policy limits the file to
1..`import_max_bytes` bytes (S3 enforces the policy; moto does not) and expires after the
link lifetime. The bucket's upload event, or `POST /v1/imports/{id}/start`, starts it.

Folder storage: a signed, expiring `PUT /v1/uploads/{job_id}` on the API itself, which
streams the body into the store (never holding it whole), refuses it past the size limit,
and then queues the import itself. One upload per link at a time: the store's lock on the
key refuses a second one while the first is being received.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.errors import refused
from api.links import LinkSigner
from api.models import UploadTarget
from storage.objects import ObjectStore, UploadForm, WriteInProgress
from worker.runtime import Runtime


def upload_target(
    runtime: Runtime, signer: LinkSigner, base_url: str, job_id: str, key: str
) -> UploadTarget:
    """The store's own form when it takes uploads (S3), else the API's signed PUT."""
    store = runtime.jobs.store
    max_bytes = runtime.settings.import_max_bytes
    expires_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(
        seconds=signer.ttl_seconds
    )
    form = store.upload_form(key, max_bytes=max_bytes, ttl_seconds=signer.ttl_seconds)
    if form is not None:
        return post_target(form, max_bytes=max_bytes, expires_at=expires_at)
    url, expires = signer.upload_url(base_url, job_id)
    return UploadTarget(
        method="PUT",
        url=url,
        fields={},
        headers={"Content-Type": "text/csv"},
        max_bytes=max_bytes,
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
    )


def post_target(form: UploadForm, *, max_bytes: int, expires_at: dt.datetime) -> UploadTarget:
    return UploadTarget(
        method="POST",
        url=form.url,
        fields=dict(form.fields),
        headers={},
        max_bytes=max_bytes,
        expires_at=expires_at,
    )


class UploadTooLarge(Exception):
    """The upload is larger than the import size limit."""


class EmptyUpload(Exception):
    """The upload is empty."""


@asynccontextmanager
async def received_file(
    request: Request, store: ObjectStore, key: str, max_bytes: int
) -> AsyncIterator[int]:
    """Stream the request body to `key`, then run the caller's block with its size.

    The file is published at `key` only when that block ends cleanly: while it runs, the
    caller still holds the key (the folder store's lock) and decides whether this upload
    is the one to keep; raising there discards it and leaves the stored file as it was.

    Refused with 409 while another upload to `key` is being received, with 413 when the
    declared or the streamed length passes `max_bytes`, and with 400 when empty; then
    nothing is stored at `key`. Store calls run in the thread pool, off the loop.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    writing = store.open_write(key)
    try:
        out = await run_in_threadpool(writing.__enter__)
    except WriteInProgress as err:
        raise refused(409, "Another upload to this link is in progress.") from err
    try:
        yield await _copy_body(request, out, max_bytes)
    except UploadTooLarge as err:
        await _discard(writing, err)
        raise _too_large(max_bytes) from err
    except EmptyUpload as err:
        await _discard(writing, err)
        raise refused(400, "The upload is empty; send the CSV file as the body.") from err
    except BaseException as err:
        await _discard(writing, err)
        raise
    await run_in_threadpool(writing.__exit__, None, None, None)


async def _discard(writing: AbstractContextManager[BinaryIO], err: BaseException) -> None:
    await run_in_threadpool(writing.__exit__, type(err), err, err.__traceback__)


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
