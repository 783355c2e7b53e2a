"""The operations dashboard in headless Chromium, against `rosterjobs api` and a
`rosterjobs worker` on Postgres and Redis: what an operator does with it, start to end.

The screenshot is saved in the test's tmp dir; with `ROSTERJOBS_UPDATE_SCREENSHOT=1` also as
`docs/dashboard.png`, the one the README shows.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from dramatiq import Message
from playwright.sync_api import Browser, Page, expect

from jobs.requests import ExportRequest, submit_export
from storage.db import make_engine, session_factory, unit_of_work
from tests.browser.conftest import OPS_TOKEN, Stack
from tests.processes import REDIS_URL, fetch

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
MISSING_COLUMNS = b"Database ID,First Name\r\n1,Ann\r\n"
UNKNOWN_STUDENT = (
    b"Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
    b"Organizations\r\n999999999,Ann,Lee,annlee,,X-1,5,Nowhere\r\n"
)


def wait_for_status(stack: Stack, job_id: str, wanted: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while (job := stack.portal.call("GET", f"/v1/jobs/{job_id}"))["status"] not in wanted:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def finished_import(stack: Stack, data: bytes) -> Any:
    created = stack.portal.call(
        "POST", "/v1/imports", {"entity": "students", "filename": "roster.csv"}
    )
    fetch(created["upload"]["url"], method="PUT", data=data)
    return wait_for_status(stack, created["id"], {"failed", "completed_with_errors"})


def dead_lettered_export(stack: Stack) -> tuple[str, str]:
    """A queued export whose message ran out of retries: it sits in Redis's dead letters
    (`<namespace>:exports.XQ`), as dramatiq leaves it. Answers (job id, message id)."""
    engine = make_engine(stack.database_url)
    with unit_of_work(session_factory(engine)) as session:
        request = ExportRequest(district="Lakeside", username=stack.admin, entity="classes")
        job_id = submit_export(session, request).id
    engine.dispose()
    message_id = str(uuid.uuid4())
    message = Message(
        queue_name="exports", actor_name="export_roster", args=(job_id,), kwargs={}, options={}
    )
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{stack.namespace}:exports.XQ"
    client.hset(f"{key}.msgs", message_id, message.encode())
    client.zadd(key, {message_id: time.time() * 1000})
    client.close()
    return job_id, message_id


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(stack.base + "/ops")
    expect(page).to_have_url(stack.base + "/ops/login?next=%2Fops")
    page.fill("#token", OPS_TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(stack.base + "/ops")


def save_screenshot(page: Page, tmp_path: Path) -> Path:
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("ROSTERJOBS_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    return shot


def test_an_operator_watches_progress_opens_a_failure_cancels_and_requeues(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    # given imports that failed or refused a row, a finished export, a dead-lettered
    # export, a long export running, and behind it (the worker has one thread) an export
    # cancelled by the portal and one still queued
    failed = finished_import(stack, MISSING_COLUMNS)
    finished_import(stack, UNKNOWN_STUDENT)
    classes = stack.portal.call("POST", "/v1/exports", {"entity": "classes"})
    wait_for_status(stack, classes["id"], {"completed"})
    dead_job, dead_message = dead_lettered_export(stack)
    long_export = stack.portal.call("POST", "/v1/exports", {"entity": "students", "columns": None})
    wait_for_status(stack, long_export["id"], {"running"})
    dropped = stack.portal.call("POST", "/v1/exports", {"entity": "classes"})
    stack.portal.call("POST", f"/v1/jobs/{dropped['id']}/cancel")
    waiting = stack.portal.call("POST", "/v1/exports", {"entity": "educators"})
    page = browser.new_page(viewport={"width": 1280, "height": 720})

    # when the operator signs in through the form
    sign_in(page, stack)

    # then the running export's progress bar moves, without a reload
    bar = page.locator(f'tr[data-job="{long_export["id"]}"] progress')
    first = float(bar.get_attribute("value") or 0)
    assert first < float(bar.get_attribute("max") or 0)
    page.evaluate("window.sameDocument = true")
    page.wait_for_function(
        "([id, first]) => document.querySelector(`tr[data-job='${id}'] progress`).value > first",
        arg=[long_export["id"], first],
        timeout=20_000,
    )
    assert page.evaluate("window.sameDocument") is True
    expect(page.locator(f'tr[data-job="{waiting["id"]}"] [data-status]')).to_have_text("queued")
    assert save_screenshot(page, tmp_path).stat().st_size > 20_000

    # when they open the failed import from the table, they see its error
    page.click(f'a[href="/ops/jobs/{failed["id"]}"]')
    expect(page.locator(".job-error")).to_contain_text(failed["error"])
    expect(page.get_by_role("button", name="Retry job")).to_be_visible()

    # when they cancel the queued export
    page.goto(f"{stack.base}/ops/jobs/{waiting['id']}")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_role("status")).to_contain_text("Cancel requested")
    expect(page.locator("[data-status]").first).to_have_text("cancelled")

    # when they requeue the dead letter
    page.goto(f"{stack.base}/ops/queues")
    letter = page.locator(f'tr[data-message="{dead_message}"]')
    expect(letter.locator(f'a[href="/ops/jobs/{dead_job}"]')).to_be_visible()
    letter.get_by_role("button", name="Requeue").click()
    expect(page.get_by_role("status")).to_have_text("The message is back on its queue.")
    expect(page.locator(f'tr[data-message="{dead_message}"]')).to_have_count(0)

    # then the worker shows on the workers page, and every job ends as it should
    page.goto(f"{stack.base}/ops/workers")
    expect(page.locator("table").first).to_contain_text("exports, imports")
    assert wait_for_status(stack, long_export["id"], {"completed"})["counts"] == {"rows": 30_000}
    assert wait_for_status(stack, dead_job, {"completed", "failed"})["status"] == "completed"
    assert stack.portal.call("GET", f"/v1/jobs/{waiting['id']}")["status"] == "cancelled"

    # and on a phone-sized window the table scrolls in its box, the page does not
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{stack.base}/ops")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator(".table-wrap").evaluate("box => box.scrollWidth > box.clientWidth")
