"""`GET /ops/queues` (with requeueing a dead letter) and `GET /ops/workers`, on the
in-process broker and its worker thread."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from dramatiq.broker import MessageProxy
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from jobs.requests import ExportRequest, submit_export
from storage.db import unit_of_work
from storage.models import Job, utcnow
from tests.factories import SmallDistrict
from tests.ops_pages.helpers import csrf_of, job, text_of


def dead_lettered_export(
    sessions: sessionmaker[Session], roster: SmallDistrict, broker: Any
) -> tuple[str, str]:
    """A queued export whose message ran out of retries: (job id, message id)."""
    with unit_of_work(sessions) as session:
        job_id = submit_export(
            session,
            ExportRequest(
                district=str(roster.district.id),
                username=roster.district_admin.username,
                entity="classes",
            ),
        ).id
    message = broker.get_actor("export_roster").message(job_id)
    broker.dead_letters_by_queue["exports"].append(MessageProxy(message))
    return job_id, message.message_id


def test_the_queues_page_lists_each_queue_and_the_dead_letters_with_their_job(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, api_broker: Any
) -> None:
    # given
    job_id, message_id = dead_lettered_export(sessions, roster, api_broker)
    try:
        # when
        page = ops.get("/ops/queues").text
    finally:
        api_broker.dead_letters_by_queue["exports"].clear()

    # then
    text = text_of(page)
    assert "exports 0 0 1" in text and "imports 0 0 0" in text
    assert f'href="/ops/jobs/{job_id}"' in page
    assert f"/ops/queues/exports/dead-letters/{message_id}/requeue" in page


def test_requeueing_a_dead_letter_sends_it_again_and_its_job_runs(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, api_broker: Any
) -> None:
    # given
    job_id, message_id = dead_lettered_export(sessions, roster, api_broker)
    csrf = csrf_of(ops.get("/ops/queues").text)

    # when
    response = ops.post(
        f"/ops/queues/exports/dead-letters/{message_id}/requeue", data={"csrf": csrf}
    )
    again = ops.post(f"/ops/queues/exports/dead-letters/{message_id}/requeue", data={"csrf": csrf})

    # then
    assert "The message is back on its queue." in response.text
    assert "No dead letters." in response.text
    assert "no longer there" in again.text
    deadline = time.monotonic() + 30
    while (status := _status(sessions, job_id)) != "completed":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def _status(sessions: sessionmaker[Session], job_id: str) -> str:
    with sessions() as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found.status


def test_requeueing_without_the_csrf_token_is_refused(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict, api_broker: Any
) -> None:
    # given
    _, message_id = dead_lettered_export(sessions, roster, api_broker)
    try:
        # when
        response = ops.post(f"/ops/queues/exports/dead-letters/{message_id}/requeue", data={})
        left = len(api_broker.dead_letters_by_queue["exports"])
    finally:
        api_broker.dead_letters_by_queue["exports"].clear()

    # then
    assert response.status_code == 403
    assert left == 1


def test_the_workers_page_lists_only_stuck_jobs_with_how_long_they_have_been_silent(
    ops: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    with unit_of_work(sessions) as session:
        silent = utcnow() - dt.timedelta(minutes=30)
        stuck = job(session, roster.district.id, status="running", heartbeat_at=silent).id
        job(session, roster.district.id, status="running", heartbeat_at=utcnow())

    # when
    page = ops.get("/ops/workers").text

    # then
    stuck_section = page.split("Stuck jobs")[1]
    assert f'href="/ops/jobs/{stuck}"' in stuck_section
    assert stuck_section.count('href="/ops/jobs/') == 1
    assert "30 min" in text_of(stuck_section)
