"""`GET /ops/jobs/{id}` and its actions: the timeline, the first refused rows, download
links; cancel a job that has not finished, retry one that failed."""

from __future__ import annotations

import dataclasses
import html
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from api.routes.ops_job import NOT_SENT
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from schemas.jobs import JobStatus
from storage import job_events
from storage.db import unit_of_work
from storage.job_events import JobEventName
from storage.models import Job
from storage.objects import ObjectStore
from tests.api.helpers import auth, edited_file, wait_until_finished
from tests.factories import SmallDistrict
from tests.ops_pages.helpers import OPS_TOKEN, csrf_of, job, sign_in, text_of
from worker.runtime import Runtime


def reload(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def wait_until_finished_again(
    sessions: sessionmaker[Session], job_id: str, timeout: float = 30
) -> Job:
    deadline = time.monotonic() + timeout
    while not JobStatus((found := reload(sessions, job_id)).status).finished:
        assert time.monotonic() < deadline, f"still {found.status}"
        time.sleep(0.05)
    return found


def test_the_page_of_an_import_shows_its_refused_rows_counts_and_fresh_download_links(
    ops: TestClient, roster: SmallDistrict
) -> None:
    # given an import through the portal's API, with one row refused
    headers = auth(roster.district_admin)
    created = ops.post(
        "/v1/imports", json={"entity": "students", "filename": "e.csv"}, headers=headers
    ).json()
    ops.put(created["upload"]["url"], content=edited_file(roster))
    wait_until_finished(ops, created["id"], headers)

    # when
    page = ops.get(f"/ops/jobs/{created['id']}").text

    # then
    text = text_of(page)
    assert "completed with errors" in text
    assert "Refused rows (the first 1 of 1)" in text
    assert "3 Grade:" in text  # spreadsheet row 3, the Grade cell
    assert "Counts created 0 updated 1 unchanged 0 failed 1" in text
    assert 'href="http://testserver/v1/files/imports/' in page
    assert ops.get(_link(page, "Errors file")).status_code == 200


def _link(page: str, label: str) -> str:
    found = re.search(rf'href="([^"]+)"[^>]*>{label}</a>', page)
    assert found, f"no link {label!r}"
    return html.unescape(found.group(1))


def test_the_timeline_lists_the_jobs_events_in_order(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        failed = job(session, roster.district.id, status="failed", error="Bad file.").id
        for event, attempt, detail in (
            (JobEventName.CREATED, None, None),
            (JobEventName.QUEUED, None, None),
            (JobEventName.STARTED, 1, None),
            (JobEventName.RETRY_SCHEDULED, 1, "The database did not answer."),
            (JobEventName.STARTED, 2, None),
            (JobEventName.FINISHED, 2, "failed"),
        ):
            job_events.record(session, failed, event, attempt=attempt, detail=detail)

    # when
    text = text_of(ops.get(f"/ops/jobs/{failed}").text)

    # then
    timeline = text.split("Timeline")[1].split("Counts")[0]
    assert [
        word
        for word in timeline.split()
        if word in {"created", "queued", "started", "retry", "finished"}
    ] == ["created", "queued", "started", "retry", "started", "finished"]
    assert "attempt 1 The database did not answer." in timeline
    assert "Error Bad file." in text


def test_cancelling_a_queued_job_means_it_never_runs(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        queued = job(session, roster.district.id, status="queued").id
    csrf = csrf_of(ops.get(f"/ops/jobs/{queued}").text)

    # when
    response = ops.post(f"/ops/jobs/{queued}/cancel", data={"csrf": csrf})

    # then
    assert response.status_code == 200 and response.url.path == f"/ops/jobs/{queued}"
    assert "Cancel requested" in response.text
    cancelled = reload(sessions, queued)
    assert cancelled.status == "cancelled" and cancelled.cancel_requested


def test_cancelling_a_running_job_asks_its_worker_to_stop(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        running = job(session, roster.district.id, status="running").id
    csrf = csrf_of(ops.get(f"/ops/jobs/{running}").text)

    # when
    ops.post(f"/ops/jobs/{running}/cancel", data={"csrf": csrf})

    # then
    found = reload(sessions, running)
    assert found.status == "running" and found.cancel_requested


def test_a_finished_job_offers_no_cancel_and_refuses_one(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        done = job(session, roster.district.id, status="completed").id
    page = ops.get(f"/ops/jobs/{done}").text
    csrf = csrf_of(ops.get("/ops").text)

    # when
    response = ops.post(f"/ops/jobs/{done}/cancel", data={"csrf": csrf})

    # then
    assert "Cancel job" not in page and "Retry job" not in page
    assert "had already finished" in response.text
    assert reload(sessions, done).status == "completed"


def test_retrying_a_failed_export_queues_it_again_and_sends_it_to_the_export_worker(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given an export that failed after five attempts
    with unit_of_work(sessions) as session:
        export = submit_export(
            session,
            ExportRequest(
                district=str(roster.district.id),
                username=roster.district_admin.username,
                entity="students",
            ),
        )
        export.status, export.attempts, export.error = "failed", 5, "Stopped after 5 attempts."
        job_id = export.id
    csrf = csrf_of(ops.get(f"/ops/jobs/{job_id}").text)

    # when
    response = ops.post(f"/ops/jobs/{job_id}/retry", data={"csrf": csrf})
    finished = wait_until_finished_again(sessions, job_id)

    # then
    assert "queued again" in response.text
    assert finished.status == "completed", finished.error
    assert finished.attempts == 1 and finished.error is None
    assert finished.counts == {"rows": len(roster.students)}
    with sessions() as session:
        events = [entry.event for entry in job_events.timeline(session, job_id)]
    assert "requeued" in events


def test_retrying_a_failed_import_keeps_its_checkpoint_and_sends_it_to_the_import_worker(
    ops: TestClient,
    sessions: sessionmaker[Session],
    roster: SmallDistrict,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    # given an import of two rows that failed after committing the first (row 2)
    with unit_of_work(sessions) as session:
        an_import = submit_import(
            session,
            ImportRequest(
                district=str(roster.district.id),
                username=roster.district_admin.username,
                entity="students",
                filename="students.csv",
            ),
        )
        an_import.status, an_import.attempts, an_import.checkpoint = "failed", 5, 2
        failed, key = an_import.id, an_import.input_key or ""
    upload = tmp_path / "students.csv"
    upload.write_bytes(edited_file(roster))
    store.put_file(key, upload)
    csrf = csrf_of(ops.get(f"/ops/jobs/{failed}").text)

    # when
    ops.post(f"/ops/jobs/{failed}/retry", data={"csrf": csrf})
    finished = wait_until_finished_again(sessions, failed)

    # then the import actor ran it once, after the checkpoint: row 2 was not applied again
    assert finished.attempts == 1 and finished.error is None
    assert finished.status == "completed_with_errors"
    assert finished.counts == {"created": 0, "updated": 0, "unchanged": 0, "failed": 1}


@pytest.mark.parametrize("status", ["queued", "running", "completed", "cancelled"])
def test_only_a_failed_job_can_be_retried(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, status: str
) -> None:
    # given
    with unit_of_work(sessions) as session:
        other = job(session, roster.district.id, status=status, attempts=3).id
    csrf = csrf_of(ops.get("/ops").text)

    # when
    response = ops.post(f"/ops/jobs/{other}/retry", data={"csrf": csrf})

    # then
    assert "Only a failed job can be retried" in response.text
    found = reload(sessions, other)
    assert (found.status, found.attempts) == (status, 3)


@pytest.mark.parametrize("action", ["cancel", "retry"])
def test_an_action_without_the_pages_csrf_token_is_refused_and_changes_nothing(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, action: str
) -> None:
    # given
    with unit_of_work(sessions) as session:
        target = job(
            session, roster.district.id, status="failed" if action == "retry" else "queued"
        )
        before = target.status

    # when
    missing = ops.post(f"/ops/jobs/{target.id}/{action}", data={})
    forged = ops.post(f"/ops/jobs/{target.id}/{action}", data={"csrf": "0" * 64})

    # then
    assert (missing.status_code, forged.status_code) == (403, 403)
    assert reload(sessions, target.id).status == before


def test_a_bearer_caller_acts_without_a_csrf_token(
    client: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        queued = job(session, roster.district.id, status="queued").id

    # when
    response = client.post(
        f"/ops/jobs/{queued}/cancel",
        headers={"Authorization": f"Bearer {OPS_TOKEN}"},
        follow_redirects=False,
    )

    # then
    assert response.status_code == 303
    assert reload(sessions, queued).status == "cancelled"


def test_an_unknown_job_is_a_404(ops: TestClient) -> None:
    # when
    answers = [
        ops.get("/ops/jobs/00000000-0000-4000-8000-000000000000").status_code,
        ops.get("/ops/jobs/not-a-job").status_code,
    ]

    # then
    assert answers == [404, 404]


def test_a_retry_whose_message_cannot_be_sent_leaves_the_job_failed_and_says_so(
    runtime: Runtime, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a broker that does not answer
    class BrokerDown:
        def get_actor(self, name: str) -> Any:
            raise ConnectionError("broker down")

    settings = dataclasses.replace(runtime.settings, broker_url="redis://127.0.0.1:1/0")
    unreachable = dataclasses.replace(runtime, settings=settings, broker=BrokerDown())
    with unit_of_work(sessions) as session:
        failed = job(session, roster.district.id, status="failed", error="Bad luck.").id
    with TestClient(create_app(unreachable)) as client:
        sign_in(client)
        csrf = csrf_of(client.get(f"/ops/jobs/{failed}").text)

        # when
        response = client.post(f"/ops/jobs/{failed}/retry", data={"csrf": csrf})

    # then
    assert "The job queue did not answer, so the job is still failed." in response.text
    found = reload(sessions, failed)
    assert found.status == "failed" and found.error == NOT_SENT
