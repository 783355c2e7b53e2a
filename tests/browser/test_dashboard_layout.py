"""The dashboard's layout in headless Chromium, against `rosterjobs api` on Postgres: the
jobs table fits its box on a desktop screen and scrolls inside it on a phone, and a job that
does not exist is a page of the dashboard, not a JSON body.

The jobs are planted in the database as a worker leaves them, with the longest values an
operator meets (an import's four counts, a long district name and username, a stuck job),
so no worker runs here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from storage.db import make_engine, session_factory, unit_of_work
from storage.models import utcnow
from tests.browser.conftest import OPS_TOKEN, Stack
from tests.ops_pages.helpers import job
from tests.processes import REDIS_URL, Portal, api_process, run_cli, service_env

DISTRICT = "Lakeside Unified School District of the North Shore"
REQUESTER = "dana.administrator-of-schools@lakeside-unified-north-shore.example.org"
IMPORT_COUNTS = {"created": 1_204, "updated": 12_345, "unchanged": 30_000, "failed": 17}
MISSING = "/ops/jobs/00000000-0000-4000-8000-000000000000"


@pytest.fixture
def quiet_stack(postgres_url: str, redis_namespace: str, tmp_path: Path) -> Iterator[Stack]:
    """`rosterjobs api` alone, on a small district with a long name: the pages read the
    jobs' records, so no worker is needed."""
    env = service_env(
        postgres_url,
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
        ROSTERJOBS_OPS_TOKEN=OPS_TOKEN,
    )
    seeded = run_cli(env, "seed", "--district", DISTRICT, "--students", "5", "--json", cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    summary = json.loads(seeded.stdout)
    plant_wide_jobs(postgres_url, summary["district_id"])
    with api_process(env, tmp_path, ready="/ops/login") as base:
        portal = Portal(base, token="")
        yield Stack(base, portal, summary["district_admin"], postgres_url, redis_namespace)


def plant_wide_jobs(database_url: str, district_id: int) -> None:
    """One job of each status, each with the widest cells its status can have."""
    engine = make_engine(database_url)
    now = utcnow()
    with unit_of_work(session_factory(engine)) as session:
        for status in ("completed_with_errors", "completed", "failed", "cancelled", "queued"):
            job(
                session,
                district_id,
                status=status,
                kind="import",
                entity="educators",
                dry_run=True,
                requested_by=REQUESTER,
                counts=IMPORT_COUNTS,
                total=43_566,
                processed=43_566,
                attempts=12,
                created_at=now - dt.timedelta(hours=3),
                finished_at=now - dt.timedelta(minutes=50),
            )
        job(
            session,
            district_id,
            status="running",
            requested_by=REQUESTER,
            counts={"rows": 1_234_567},
            total=2_000_000,
            processed=1_234_567,
            heartbeat_at=now - dt.timedelta(hours=1),
        )
    engine.dispose()


def signed_in_page(browser: Browser, stack: Stack, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(stack.base + "/ops")
    page.fill("#token", OPS_TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(stack.base + "/ops")
    return page


@pytest.mark.parametrize("width", [1280, 1920])
def test_on_a_desktop_screen_the_jobs_table_fits_its_box_duration_column_included(
    quiet_stack: Stack, browser: Browser, tmp_path: Path, width: int
) -> None:
    # given jobs with the widest cells, and an operator signed in at this width
    page = signed_in_page(browser, quiet_stack, width)

    # when
    page.goto(quiet_stack.base + "/ops")
    page.screenshot(path=str(tmp_path / f"jobs-{width}.png"), full_page=True)

    # then the table is no wider than its box, and the Duration header shows in full
    box = page.locator(".table-wrap")
    table = box.locator("table.jobs")
    expect(table.locator("tbody tr")).to_have_count(6)
    assert table.evaluate("t => t.scrollWidth") <= box.evaluate("b => b.clientWidth")
    assert box.evaluate("b => b.scrollWidth <= b.clientWidth")
    duration = table.get_by_role("columnheader", name="Duration")
    expect(duration).to_be_visible()
    right_edge = duration.evaluate("th => th.getBoundingClientRect().right")
    assert right_edge <= box.evaluate("b => b.getBoundingClientRect().right")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_on_a_phone_the_jobs_table_scrolls_in_its_box_and_the_page_does_not(
    quiet_stack: Stack, browser: Browser
) -> None:
    # given
    page = signed_in_page(browser, quiet_stack, 375)

    # when
    page.goto(quiet_stack.base + "/ops")

    # then
    box = page.locator(".table-wrap")
    assert box.evaluate("b => getComputedStyle(b).overflowX") == "auto"
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_job_that_does_not_exist_is_a_dashboard_page_with_a_way_back(
    quiet_stack: Stack, browser: Browser
) -> None:
    # given
    page = signed_in_page(browser, quiet_stack, 1280)

    # when
    response = page.goto(quiet_stack.base + MISSING)

    # then
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("This job does not exist.")
    expect(page.get_by_role("link", name="Jobs", exact=True)).to_be_visible()

    # when the operator follows the link back
    page.get_by_role("link", name="Back to the jobs").click()

    # then
    expect(page).to_have_url(quiet_stack.base + "/ops")
