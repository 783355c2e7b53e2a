"""Submitting jobs from this process: record the job, upload its file, send its message,
and, with the in-process broker, run it here until it finishes."""

from __future__ import annotations

from pathlib import Path

from jobs.errors import RequestRefused
from jobs.lifecycle import mark_queued
from jobs.messages import EXPORT, IMPORT, kind_of
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from storage import job_records
from storage.db import unit_of_work
from worker.progress import wait_for_job
from worker.runtime import Runtime, ensure_embedded_worker

EXPORT_ACTOR = EXPORT.actor_name
IMPORT_ACTOR = IMPORT.actor_name


def export_job(rt: Runtime, request: ExportRequest) -> str:
    """Record a queued export (RequestRefused leaves no job) and answer its id."""
    with unit_of_work(rt.jobs.sessions) as session:
        return submit_export(session, request, pdf_max_rows=rt.settings.pdf_max_rows).id


def import_job(rt: Runtime, request: ImportRequest, path: Path) -> str:
    """Record an import, upload `path` as its file, then mark it queued."""
    with unit_of_work(rt.jobs.sessions) as session:
        job = submit_import(session, request)
        job_id, key = job.id, job.input_key or ""
    rt.jobs.store.put_file(key, path)
    with unit_of_work(rt.jobs.sessions) as session:
        queued = job_records.get(session, job_id)
        if queued is None:
            raise RequestRefused("The import disappeared while its file was uploaded.")
        mark_queued(session, queued)
    return job_id


def enqueue_job(rt: Runtime, kind: str, job_id: str) -> None:
    """Send the job's message through the job context's sender; with the in-process broker,
    a worker thread of this process (started once) will run it."""
    if rt.settings.embedded_broker:
        ensure_embedded_worker(rt)
    rt.jobs.send(kind, job_id)


def enqueue(rt: Runtime, actor_name: str, job_id: str) -> None:
    """`enqueue_job` for callers that name the job's actor (`EXPORT_ACTOR`, `IMPORT_ACTOR`)."""
    enqueue_job(rt, kind_of(actor_name), job_id)


def send(rt: Runtime, actor_name: str, job_id: str, *, wait: bool, show_progress: bool) -> None:
    """Send the job's message; with the in-process broker, also wait here for its end."""
    enqueue(rt, actor_name, job_id)
    if wait or rt.settings.embedded_broker:
        wait_for_job(rt.jobs, job_id, show_progress=show_progress)
