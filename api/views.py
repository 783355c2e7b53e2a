"""The job object as the API shows it: the store's own links when they reach a client
(S3's presigned GETs), else the API's signed download links (a folder); made afresh on
every read."""

from __future__ import annotations

from starlette.requests import Request

from api.errors import not_found
from api.links import LinkSigner
from api.models import JobOut
from jobs.views import job_object
from storage.models import Job
from worker.runtime import Runtime


def job_view(runtime: Runtime, signer: LinkSigner, request: Request, job: Job) -> JobOut:
    store = runtime.jobs.store
    links = None if store.links_reach_clients else signer.download_links(str(request.base_url))
    view = job_object(job, store, link_ttl=runtime.settings.link_ttl, links=links)
    return JobOut.model_validate(view)


def fresh_view(runtime: Runtime, signer: LinkSigner, request: Request, job_id: str) -> JobOut:
    """The job as it is now (after a change made in another transaction)."""
    with runtime.jobs.sessions() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise not_found()
        return job_view(runtime, signer, request, job)
