"""Helpers of the XLSX tests: export in a format, read a workbook's cells as text, and read
an import's reports whichever format they were written in."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import JobContext, mark_queued, run_job
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import ObjectStore
from tests.factories import SmallDistrict
from tests.importing import ImportRun

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_rows(data: bytes, sheet: str | None = None) -> list[list[str]]:
    """Every row of the workbook's worksheet `sheet` (else its first) as text, an empty
    cell as "", trailing empty cells dropped."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        worksheet = book[sheet] if sheet else book.worksheets[0]
        rows = []
        for row in worksheet.iter_rows(values_only=True):
            cells = ["" if value is None else str(value) for value in row]
            while cells and cells[-1] == "":
                cells.pop()
            rows.append(cells)
        return rows
    finally:
        book.close()


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def records(rows: list[list[str]]) -> list[dict[str, str]]:
    """Rows under a header row as dicts; a short row's missing cells as ""."""
    if not rows:
        return []
    header, *body = rows
    return [
        dict(zip(header, [*row, *[""] * (len(header) - len(row))], strict=False)) for row in body
    ]


def stored(store: ObjectStore, key: str | None) -> bytes | None:
    if key is None:
        return None
    with store.open_read(key) as raw:
        return raw.read()


def report(store: ObjectStore, key: str | None) -> list[dict[str, str]]:
    """An import's result or errors file as dicts, read as XLSX or CSV by its key's end."""
    data = stored(store, key)
    if data is None or key is None:
        return []
    return records(sheet_rows(data) if key.endswith(".xlsx") else csv_rows(data))


def finished_any(ctx: JobContext, job_id: str) -> ImportRun:
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    return ImportRun(
        job, report(ctx.store, job.result_key), report(ctx.store, job.error_report_key)
    )


def submit_file(
    ctx: JobContext,
    roster: SmallDistrict,
    data: bytes,
    *,
    entity: str = "students",
    filename: str = "edited.xlsx",
    file_format: str | None = None,
) -> str:
    request = ImportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity=entity,
        filename=filename,
        format=file_format,
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


def import_file(ctx: JobContext, roster: SmallDistrict, data: bytes, **options: Any) -> ImportRun:
    job_id = submit_file(ctx, roster, data, **options)
    run_job(ctx, job_id, run_import)
    return finished_any(ctx, job_id)


def export_as(
    ctx: JobContext,
    roster: SmallDistrict,
    file_format: str,
    *,
    entity: str = "students",
    columns: tuple[str, ...] | None = None,
    grade: str | None = None,
    username: str | None = None,
) -> bytes:
    """The district admin's (or `username`'s) export of `entity` (every column unless
    `columns`) as `file_format`."""
    request = ExportRequest(
        district=str(roster.district.id),
        username=username or roster.district_admin.username,
        entity=entity,
        columns=columns,
        grade=grade,
        format=file_format,
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.result_key is not None, job and job.error
        assert job.result_key.endswith(f".{file_format}")
    data = stored(ctx.store, job.result_key)
    assert data is not None
    return data
