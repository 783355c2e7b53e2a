"""An XLSX round trip through S3 (moto's server, over HTTP): the export downloads through
its presigned link as a workbook, and that workbook, uploaded to S3, imports unchanged with
workbook reports (the reader copies an S3 upload to a local file, since a ZIP is read from
its end)."""

from __future__ import annotations

import io
import urllib.request
import zipfile
from pathlib import Path

import openpyxl
from sqlalchemy.orm import Session, sessionmaker

from jobs.imports import run_import
from jobs.lifecycle import JobContext, run_job
from jobs.views import job_object
from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Job
from storage.s3 import S3Store
from tests import factories
from tests.importing import submit
from tests.integration.test_export_s3 import export_students

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def finished_job(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_an_xlsx_export_downloads_from_s3_and_imports_back_unchanged(
    sqlite_url: str, s3_store: S3Store, tmp_path: Path
) -> None:
    # given a district exported as a workbook to S3
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
    ctx = JobContext(sessions=sessions, store=s3_store, batch_rows=3, link_ttl=600)
    exported = export_students(sessions, s3_store, roster, "xlsx")

    # when the teacher downloads it through the presigned link
    link = job_object(exported, s3_store, link_ttl=600)["result_url"]
    with urllib.request.urlopen(link, timeout=30) as response:
        workbook = response.read()
        content_type = response.headers["Content-Type"]
        disposition = response.headers["Content-Disposition"]

    # then it is a workbook, named and typed as one
    assert exported.status == "completed"
    assert exported.result_key is not None and exported.result_key.endswith(".xlsx")
    assert content_type == XLSX_TYPE
    assert f'filename="students-{exported.created_at:%Y-%m-%d}.xlsx"' in disposition
    sheet = openpyxl.load_workbook(io.BytesIO(workbook)).active
    assert sheet is not None and sheet.title == "Students"
    assert sheet.max_row == 1 + exported.counts["rows"]

    # when it is uploaded back to S3 and imported
    job_id = submit(ctx, roster, workbook)
    run_job(ctx, job_id, run_import)
    imported = finished_job(sessions, job_id)

    # then every row is unchanged, and the result file is a workbook in S3
    assert imported.status == "completed", imported.error
    assert imported.counts == {
        "created": 0,
        "updated": 0,
        "unchanged": exported.counts["rows"],
        "failed": 0,
    }
    assert imported.options["format"] == "xlsx"
    assert imported.result_key is not None and imported.result_key.endswith(".xlsx")
    with s3_store.open_read(imported.result_key) as raw:
        result = raw.read()
    assert zipfile.is_zipfile(io.BytesIO(result))
    rows = list(openpyxl.load_workbook(io.BytesIO(result)).active.values)  # type: ignore[union-attr]
    assert rows[0][-3:] == ("Row", "Result", "Errors")
    assert {row[-2] for row in rows[1:]} == {"unchanged"}
    engine.dispose()
