"""Export to S3 (moto's server, over HTTP) and download through the presigned link."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.lifecycle import JobContext, run_job
from jobs.requests import ExportRequest, submit_export
from jobs.views import job_object
from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Job
from storage.objects import FolderStore, ObjectStore
from storage.s3 import S3Store
from tests import factories


def export_students(
    sessions: sessionmaker[Session],
    store: ObjectStore,
    roster: factories.SmallDistrict,
    file_format: str = "csv",
) -> Job:
    ctx = JobContext(sessions=sessions, store=store, batch_rows=3, link_ttl=600)
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="students",
        columns=None,
        format=file_format,
    )
    with unit_of_work(sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_an_export_to_s3_downloads_through_its_presigned_link_byte_for_byte(
    sqlite_url: str, s3_store: S3Store, tmp_path: Path
) -> None:
    # given
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
    on_disk = export_students(sessions, FolderStore(tmp_path), roster)
    with FolderStore(tmp_path).open_read(on_disk.result_key or "") as raw:
        expected = raw.read()

    # when
    job = export_students(sessions, s3_store, roster)
    link = job_object(job, s3_store, link_ttl=600)["result_url"]
    with urllib.request.urlopen(link, timeout=30) as response:
        body = response.read()
        disposition = response.headers["Content-Disposition"]

    # then
    assert job.status == "completed"
    assert body == expected
    assert body.startswith(b"\xef\xbb\xbf")
    assert f'filename="students-{job.created_at:%Y-%m-%d}.csv"' in disposition
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["600"]
    assert job.id in urlsplit(link).path
    engine.dispose()
