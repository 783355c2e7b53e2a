"""Running a OneRoster import in a test and reading its report zips."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from jobs.imports import run_import
from jobs.lifecycle import JobContext, mark_queued, run_job
from jobs.requests import ImportRequest, submit_import
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import ObjectStore


@dataclass
class SetImport:
    job: Job
    results: dict[str, list[dict[str, str]]]
    errors: dict[str, list[dict[str, str]]]

    def outcomes(self, name: str) -> list[str]:
        return [row["Result"] for row in self.results[name]]

    def row(self, name: str, sourced_id: str) -> dict[str, str]:
        return next(r for r in self.results[name] if r["sourcedId"] == sourced_id)


def read_zip(store: ObjectStore, key: str | None) -> dict[str, list[dict[str, str]]]:
    if key is None:
        return {}
    with store.open_read(key) as raw, zipfile.ZipFile(io.BytesIO(raw.read())) as zipped:
        return {
            name: list(csv.DictReader(io.StringIO(zipped.read(name).decode(), newline="")))
            for name in zipped.namelist()
        }


def submit_set(
    ctx: JobContext, district_id: int, username: str, data: bytes, *, dry_run: bool = False
) -> str:
    request = ImportRequest(
        district=str(district_id),
        username=username,
        entity="oneroster",
        dry_run=dry_run,
        filename="roster.zip",
    )
    with unit_of_work(ctx.sessions) as session:
        job = submit_import(session, request)
        job_id, key = job.id, job.input_key or ""
    with ctx.store.open_write(key) as raw:
        raw.write(data)
    with unit_of_work(ctx.sessions) as session:
        queued = session.get(Job, job_id)
        assert queued is not None
        mark_queued(session, queued)
    return job_id


def finished_set(ctx: JobContext, job_id: str) -> SetImport:
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    return SetImport(
        job, read_zip(ctx.store, job.result_key), read_zip(ctx.store, job.error_report_key)
    )


def import_set(
    ctx: JobContext, district_id: int, username: str, data: bytes, *, dry_run: bool = False
) -> SetImport:
    job_id = submit_set(ctx, district_id, username, data, dry_run=dry_run)
    run_job(ctx, job_id, run_import)
    return finished_set(ctx, job_id)
