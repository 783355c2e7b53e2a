"""`GET /ops`: every job of every district, newest first, narrowed by the filters, a page
at a time; the last 24 hours at a glance; live figures for the page's script."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from storage.models import utcnow
from tests.factories import SmallDistrict
from tests.ops_pages.helpers import job, job_ids, text_of

OLDER = re.compile(r'href="(/ops\?[^"]*cursor=[^"]+)"')


def test_the_table_shows_every_district_newest_first(
    ops: TestClient,
    sessions: sessionmaker[Session],
    roster: SmallDistrict,
    other_roster: SmallDistrict,
) -> None:
    # given
    now = utcnow()
    with unit_of_work(sessions) as session:
        oldest = job(session, roster.district.id, created_at=now - dt.timedelta(hours=2)).id
        newest = job(session, other_roster.district.id, created_at=now).id
        middle = job(session, roster.district.id, created_at=now - dt.timedelta(hours=1)).id

    # when
    page = ops.get("/ops").text

    # then
    assert job_ids(page) == [newest, middle, oldest]
    assert "Hillcrest Consolidated" in page and "Riverside Unified" in page


def test_each_filter_narrows_the_table(
    ops: TestClient,
    sessions: sessionmaker[Session],
    roster: SmallDistrict,
    other_roster: SmallDistrict,
) -> None:
    # given
    now = utcnow().replace(microsecond=0)
    here, there = roster.district.id, other_roster.district.id
    with unit_of_work(sessions) as session:
        failed = job(session, here, status="failed", created_at=now - dt.timedelta(hours=3)).id
        an_import = job(
            session, here, kind="import", entity="classes", created_at=now - dt.timedelta(hours=2)
        ).id
        elsewhere = job(session, there, entity="educators", created_at=now - dt.timedelta(hours=1))
    since = (now - dt.timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    until = (now - dt.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%S")

    # when
    shown = {
        query: job_ids(ops.get(f"/ops?{query}").text)
        for query in (
            "status=failed",
            "kind=import",
            "entity=educators",
            f"district={there}",
            f"since={since}",
            f"since={since}&until={until}",
            "status=failed&district=" + str(there),
            "status=&kind=&entity=&district=&since=&until=",
        )
    }

    # then
    assert shown == {
        "status=failed": [failed],
        "kind=import": [an_import],
        "entity=educators": [elsewhere.id],
        f"district={there}": [elsewhere.id],
        f"since={since}": [elsewhere.id, an_import],
        f"since={since}&until={until}": [an_import],
        "status=failed&district=" + str(there): [],
        "status=&kind=&entity=&district=&since=&until=": [elsewhere.id, an_import, failed],
    }


def test_a_filter_value_that_is_not_a_choice_is_a_400(ops: TestClient) -> None:
    # when
    answers = [ops.get(f"/ops?{query}").status_code for query in ("status=lost", "since=soon")]

    # then
    assert answers == [400, 400]


def test_pages_of_fifty_follow_each_other_without_repeating_or_skipping_a_job(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given 120 jobs, ten of them created at the very same instant
    now = utcnow()
    with unit_of_work(sessions) as session:
        created = [
            job(session, roster.district.id, created_at=now - dt.timedelta(seconds=n // 10 * 10))
            for n in range(120)
        ]
    expected = [
        row.id for row in sorted(created, key=lambda row: (row.created_at, row.id), reverse=True)
    ]

    # when
    pages, urls, url = [], [], "/ops?kind=export"
    while url:
        urls.append(url)
        page = ops.get(url).text
        pages.append(job_ids(page))
        older = OLDER.search(page)
        url = older.group(1).replace("&amp;", "&") if older else ""

    # then
    assert [len(ids) for ids in pages] == [50, 50, 20]
    assert [job_id for ids in pages for job_id in ids] == expected
    assert urls[0] == "/ops?kind=export" and all("kind=export" in url for url in urls)


def test_the_last_24_hours_show_outcomes_rows_per_second_and_failure_rate(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given three finished jobs of 4 s each (1,200 rows) and one of two days ago
    now = utcnow()
    with unit_of_work(sessions) as session:
        for status, rows in (("completed", 1000), ("completed_with_errors", 200), ("failed", 0)):
            job(session, roster.district.id, status=status, processed=rows, created_at=now)
        job(session, roster.district.id, status="running", processed=50, created_at=now)
        job(session, roster.district.id, status="failed", created_at=now - dt.timedelta(days=2))

    # when
    panel = text_of(ops.get("/ops").text.split('<form class="filters"')[0])

    # then
    assert "1 completed 1 completed with errors 1 failed 0 cancelled 1 running" in panel
    assert "100 rows / second" in panel  # 1,200 rows in 12 s
    assert "33.3 % failure rate" in panel


def test_the_live_figures_report_progress_of_the_jobs_asked_for(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        running = job(session, roster.district.id, status="running", processed=30, total=120)
        done = job(session, roster.district.id, processed=120, total=120, counts={"rows": 120})
        ids = f"{running.id},{done.id},00000000-0000-4000-8000-000000000000"

    # when
    body = ops.get(f"/ops/jobs.json?ids={ids}").json()

    # then
    figures = {entry["id"]: entry for entry in body["jobs"]}
    assert set(figures) == {running.id, done.id}
    assert figures[running.id] | {"duration_s": None} == {
        "id": running.id,
        "status": "running",
        "live": True,
        "stuck": True,  # running, and no heartbeat ever recorded
        "processed": 30,
        "total": 120,
        "percent": 25,
        "counts": "",
        "attempts": 1,
        "duration_s": None,
    }
    assert figures[done.id]["live"] is False and figures[done.id]["counts"] == "rows 120"


def test_the_live_figures_refuse_what_is_not_a_list_of_job_ids(ops: TestClient) -> None:
    # when
    response = ops.get("/ops/jobs.json?ids=1,2;DROP TABLE jobs")

    # then
    assert response.status_code == 400


def test_running_jobs_are_marked_for_live_updates_and_stuck_ones_flagged(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        alive = job(session, roster.district.id, status="running", heartbeat_at=utcnow()).id
        stale = utcnow() - dt.timedelta(minutes=10)
        stuck = job(session, roster.district.id, status="running", heartbeat_at=stale).id
        finished = job(session, roster.district.id).id

    # when
    page = ops.get("/ops").text

    # then
    live = re.findall(r'data-job="([0-9a-f-]{36})" data-live', page)
    assert sorted(live) == sorted([alive, stuck])
    assert finished not in live
    stuck_rows = re.findall(r'data-job="([0-9a-f-]{36})" data-live class="is-stuck"', page)
    assert stuck_rows == [stuck]
