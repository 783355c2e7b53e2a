"""OneRoster jobs on the dashboard: the entity filter offers them, the job page shows each
file's counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from tests.factories import SmallDistrict
from tests.ops_pages.helpers import job, job_ids, text_of


def test_the_entity_filter_narrows_the_table_to_oneroster_jobs(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        oneroster = job(session, roster.district.id, entity="oneroster").id
        job(session, roster.district.id, entity="students")

    # when
    page = ops.get("/ops", params={"entity": "oneroster"})

    # then
    assert page.status_code == 200
    assert job_ids(page.text) == [oneroster]
    assert '<option value="oneroster"' in page.text


def test_a_oneroster_jobs_page_shows_each_files_count(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    counts = {"rows": 26, "orgs": 3, "users": 8, "enrollments": 8}
    with unit_of_work(sessions) as session:
        found = job(session, roster.district.id, entity="oneroster", counts=counts)

    # when
    page = text_of(ops.get(f"/ops/jobs/{found.id}").text)

    # then
    for name in ("orgs", "users", "enrollments"):
        assert name in page


def test_a_oneroster_imports_page_shows_each_files_counts(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    by_file = {"users": {"created": 3, "failed": 1}, "enrollments": {"created": 0}}
    with unit_of_work(sessions) as session:
        found = job(
            session,
            roster.district.id,
            kind="import",
            entity="oneroster",
            counts={"created": 3, "failed": 1},
            counts_by_file=by_file,
        )

    # when
    page = text_of(ops.get(f"/ops/jobs/{found.id}").text)

    # then
    assert "Counts by file" in page
    assert "users created 3 · failed 1" in page
    assert "enrollments none" in page
