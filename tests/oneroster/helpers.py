"""Running a OneRoster export in a test and reading its zip back with csv."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from jobs.export import run_export
from jobs.lifecycle import JobContext, run_job
from jobs.requests import ExportRequest, submit_export
from storage.db import unit_of_work
from storage.models import Job
from tests.factories import SmallDistrict


@dataclass
class OneRosterSet:
    job: Job
    headers: dict[str, list[str]]
    rows: dict[str, list[dict[str, str]]]
    raw: dict[str, bytes]

    def by_id(self, name: str) -> dict[str, dict[str, str]]:
        return {row["sourcedId"]: row for row in self.rows[name]}


def read_set(
    data: bytes,
) -> tuple[dict[str, list[str]], dict[str, list[dict[str, str]]], dict[str, bytes]]:
    headers, rows, raw = {}, {}, {}
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert zipped.testzip() is None
        for name in zipped.namelist():
            raw[name] = zipped.read(name)
            text = raw[name].decode("utf-8")
            table = list(csv.reader(io.StringIO(text, newline="")))
            headers[name] = table[0]
            rows[name] = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    return headers, rows, raw


def export_set(
    ctx: JobContext, roster: SmallDistrict, username: str | None = None, **fields: object
) -> OneRosterSet:
    request = ExportRequest(
        district=str(roster.district.id),
        username=username or roster.district_admin.username,
        entity="",
        format="oneroster",
        **fields,  # type: ignore[arg-type]
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    assert job.status == "completed", job.error
    assert job.result_key is not None
    with ctx.store.open_read(job.result_key) as stream:
        headers, rows, raw = read_set(stream.read())
    return OneRosterSet(job, headers, rows, raw)
