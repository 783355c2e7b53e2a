"""Helpers shared by the import tests: run an import of some CSV text and read its reports."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import JobContext, mark_queued, run_job
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from storage.db import unit_of_work
from storage.models import ImportChange, Job
from storage.objects import ObjectStore
from tests.factories import SmallDistrict


@dataclass
class ImportRun:
    job: Job
    results: list[dict[str, str]]
    errors: list[dict[str, str]]

    def outcome(self, row: int) -> str:
        return next(r["Result"] for r in self.results if r["Row"] == str(row))

    def errors_of(self, row: int) -> str:
        return next(r["Errors"] for r in self.results if r["Row"] == str(row))


def read_csv(store: ObjectStore, key: str | None) -> list[dict[str, str]]:
    if key is None:
        return []
    with store.open_read(key) as raw:
        text = raw.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def submit(
    ctx: JobContext,
    roster: SmallDistrict,
    data: bytes,
    *,
    entity: str = "students",
    username: str | None = None,
    dry_run: bool = False,
) -> str:
    request = ImportRequest(
        district=str(roster.district.id),
        username=username or roster.district_admin.username,
        entity=entity,
        dry_run=dry_run,
        filename="edited.csv",
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


def finished(ctx: JobContext, job_id: str) -> ImportRun:
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    return ImportRun(
        job, read_csv(ctx.store, job.result_key), read_csv(ctx.store, job.error_report_key)
    )


def run_import_of(
    ctx: JobContext, roster: SmallDistrict, data: bytes | str, **options: object
) -> ImportRun:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    job_id = submit(ctx, roster, raw, **options)  # type: ignore[arg-type]
    run_job(ctx, job_id, run_import)
    return finished(ctx, job_id)


def export_bytes(ctx: JobContext, roster: SmallDistrict, entity: str = "students") -> bytes:
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity=entity,
        columns=None,
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.result_key is not None
    with ctx.store.open_read(job.result_key) as raw:
        return raw.read()


def change_count(sessions: sessionmaker[Session], job_id: str | None = None) -> int:
    statement = select(func.count()).select_from(ImportChange)
    if job_id is not None:
        statement = statement.where(ImportChange.job_id == job_id)
    with sessions() as session:
        return session.scalar(statement) or 0
