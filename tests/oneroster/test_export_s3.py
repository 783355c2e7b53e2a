"""A OneRoster export to S3 (moto's server, over HTTP): written through a multipart upload
the zip writer cannot seek, downloaded through its presigned link as a zip."""

from __future__ import annotations

import io
import urllib.request
import zipfile
from pathlib import Path

from jobs.lifecycle import JobContext
from jobs.views import job_object
from storage.db import make_engine, session_factory, unit_of_work
from storage.s3 import S3Store
from tests import factories
from tests.oneroster.helpers import export_set, read_set


def test_a_oneroster_export_to_s3_downloads_as_a_zip_through_its_presigned_link(
    sqlite_url: str, s3_store: S3Store, tmp_path: Path
) -> None:
    # given
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
    ctx = JobContext(sessions=sessions, store=s3_store, batch_rows=3, link_ttl=600)

    # when
    found = export_set(ctx, roster)
    link = job_object(found.job, s3_store, link_ttl=600)["result_url"]
    with urllib.request.urlopen(link, timeout=30) as response:
        body = response.read()
        content_type = response.headers["Content-Type"]
        disposition = response.headers["Content-Disposition"]

    # then
    assert content_type == "application/zip"
    assert "oneroster-" in disposition and ".zip" in disposition
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        assert all(info.flag_bits & 0x08 for info in zipped.infolist())  # streamed
    assert read_set(body)[2] == found.raw
    engine.dispose()
