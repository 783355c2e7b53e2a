"""Helpers of the revert tests: ask for a commit or a revert as the CLI and the API do, run
it, read its result file, and take the three exports of a district."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from jobs.commit import requester_of, source_job, submit_commit
from jobs.imports import run_import
from jobs.lifecycle import JobContext, run_job
from jobs.revert import run_revert
from jobs.revert_requests import submit_revert
from storage.db import unit_of_work
from storage.models import Job, Student
from tests.factories import SmallDistrict
from tests.importing import export_bytes, read_csv

ENTITIES = ("students", "educators", "classes")


def exports(ctx: JobContext, roster: SmallDistrict) -> dict[str, bytes]:
    """Every entity's export, every column."""
    return {entity: export_bytes(ctx, roster, entity) for entity in ENTITIES}


def ask_revert(ctx: JobContext, import_id: str, username: str, *, dry_run: bool = False) -> str:
    with unit_of_work(ctx.sessions) as session:
        source = source_job(session, import_id)
        scope = requester_of(session, source, username)
        return submit_revert(
            session, source, scope, dry_run=dry_run, history_days=ctx.import_history_days
        ).id


def revert(
    ctx: JobContext, import_id: str, username: str, *, dry_run: bool = False
) -> tuple[Job, list[dict[str, str]]]:
    """Ask for a revert of the import, run it, and answer the job and its result rows."""
    job_id = ask_revert(ctx, import_id, username, dry_run=dry_run)
    run_job(ctx, job_id, run_revert)
    return finished_revert(ctx, job_id)


def finished_revert(ctx: JobContext, job_id: str) -> tuple[Job, list[dict[str, str]]]:
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    return job, read_csv(ctx.store, job.result_key)


def commit(ctx: JobContext, dry_run_id: str, username: str) -> Job:
    """Commit the dry run and run the commit."""
    with unit_of_work(ctx.sessions) as session:
        source = source_job(session, dry_run_id)
        job_id = submit_commit(session, source, requester_of(session, source, username)).id
    run_job(ctx, job_id, run_import)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    return job


def password_hashes(ctx: JobContext) -> dict[int, str | None]:
    with ctx.sessions() as session:
        return {i: h for i, h in session.execute(select(Student.id, Student.password_hash))}


def rows_of(data: bytes) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return table[0], table[1:]


def as_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
