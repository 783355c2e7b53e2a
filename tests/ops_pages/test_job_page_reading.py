"""What an operator reads on `GET /ops/jobs/{id}`: a finished job without a heartbeat age,
the options as labelled values with the district's name, and a missing job answered as the
caller asked (an HTML page in the dashboard's layout, or JSON)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from jobs.requests import ExportRequest, ImportRequest
from storage.db import unit_of_work
from storage.models import utcnow
from tests.factories import SmallDistrict
from tests.ops_pages.helpers import job, text_of

MISSING = "/ops/jobs/00000000-0000-4000-8000-000000000000"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def options_panel(page: str) -> dict[str, str]:
    """The Options panel's labels and values, as text."""
    found = re.search(r"<h2>Options</h2>\s*<dl[^>]*>(.*?)</dl>", page, re.S)
    assert found, "the page has no Options panel with labelled values"
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", found.group(1), re.S)
    return {text_of(label): text_of(value) for label, value in pairs}


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_a_finished_job_shows_no_heartbeat_age(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, status: str
) -> None:
    # given a job whose worker beat a few seconds before it finished
    with unit_of_work(sessions) as session:
        created = utcnow() - dt.timedelta(minutes=1)
        done = job(
            session,
            roster.district.id,
            status=status,
            created_at=created,
            heartbeat_at=created + dt.timedelta(seconds=4),
        ).id

    # when
    text = text_of(ops.get(f"/ops/jobs/{done}").text)

    # then
    assert "Last heartbeat" not in text
    assert " ago" not in text


def test_a_running_job_still_shows_how_long_ago_its_worker_beat(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        beat = utcnow() - dt.timedelta(seconds=21)
        running = job(session, roster.district.id, status="running", heartbeat_at=beat).id

    # when
    text = text_of(ops.get(f"/ops/jobs/{running}").text)

    # then
    assert re.search(r"Last heartbeat 2\d s ago", text)


@pytest.mark.parametrize("typed", ["id", "name"])
def test_an_exports_options_are_labelled_values_with_the_districts_name(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, typed: str
) -> None:
    # given an export requested with the district typed as its id, or as its name
    district = roster.district
    request = ExportRequest(
        district=str(district.id) if typed == "id" else district.name,
        username=roster.district_admin.username,
        entity="students",
        columns=("Birth Date", "Gender"),
        grade="5",
        school="North Elementary",
    )
    with unit_of_work(sessions) as session:
        export = job(session, district.id, options=request.options()).id

    # when
    page = ops.get(f"/ops/jobs/{export}").text

    # then
    options = options_panel(page)
    assert options["Entity"] == "students"
    assert options["District"] == district.name
    assert options["Filters"] == "Grade 5 · School North Elementary"
    assert options["Columns"] == "the required ones and Birth Date, Gender"
    assert not any(mark in value for value in options.values() for mark in '"[]{}')


def test_an_export_of_every_row_and_column_says_so_in_words(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="classes",
        columns=None,
    )
    with unit_of_work(sessions) as session:
        export = job(session, roster.district.id, entity="classes", options=request.options()).id

    # when
    options = options_panel(ops.get(f"/ops/jobs/{export}").text)

    # then
    assert options["Filters"] == "none: every row the requester may see"
    assert options["Columns"] == "every column"


def test_an_imports_options_show_the_dry_run_and_the_file_name(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    request = ImportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="educators",
        dry_run=True,
        filename="staff 2026.csv",
    )
    with unit_of_work(sessions) as session:
        dry_run = job(
            session,
            roster.district.id,
            kind="import",
            entity="educators",
            dry_run=True,
            options=request.options(),
        ).id

    # when
    options = options_panel(ops.get(f"/ops/jobs/{dry_run}").text)

    # then
    assert options == {
        "Entity": "educators",
        "District": roster.district.name,
        "Dry run": "yes: validated and reported, nothing changed",
        "File": "staff 2026.csv",
    }


def test_a_missing_job_asked_for_as_json_is_a_json_404(ops: TestClient) -> None:
    # when
    response = ops.get(MISSING, headers={"Accept": "application/json"})

    # then
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "This job does not exist."}


def test_a_missing_job_asked_for_by_a_browser_is_a_page_in_the_dashboards_layout(
    ops: TestClient,
) -> None:
    # when
    response = ops.get(MISSING, headers={"Accept": BROWSER_ACCEPT})

    # then
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    text = text_of(response.text)
    assert "This job does not exist." in text
    assert 'href="/ops/static/ops.css"' in response.text
    assert re.search(r'<a href="/ops"[^>]*>Back to the jobs</a>', response.text)
    assert "Sign out" in text  # the signed-in operator keeps the navigation


def test_a_bad_filter_in_a_browser_is_a_page_that_says_what_is_wrong(ops: TestClient) -> None:
    # when
    response = ops.get("/ops?status=lost", headers={"Accept": BROWSER_ACCEPT})

    # then
    assert response.status_code == 400
    assert "Unknown status: 'lost'." in text_of(response.text)


def test_a_browser_without_credentials_is_still_sent_to_the_login_form(
    client: TestClient,
) -> None:
    # when
    response = client.get(MISSING, headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False)

    # then
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ops/login?next=")


def test_the_portals_api_still_answers_json_to_a_browser(ops: TestClient) -> None:
    # when
    response = ops.get(
        "/v1/jobs/00000000-0000-4000-8000-000000000000", headers={"Accept": BROWSER_ACCEPT}
    )

    # then
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
