"""Helpers of the operations tests: jobs in a chosen state, read back in a fresh session;
broker messages; waiting for a condition."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from dramatiq import Message
from sqlalchemy.orm import Session, sessionmaker

from jobs.requests import ExportRequest, submit_export
from storage.db import unit_of_work
from storage.job_events import timeline
from storage.models import Job, utcnow
from tests.factories import SmallDistrict


def queued_export(sessions: sessionmaker[Session], roster: SmallDistrict) -> str:
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="students",
    )
    with unit_of_work(sessions) as session:
        return submit_export(session, request).id


def running_export(
    sessions: sessionmaker[Session],
    roster: SmallDistrict,
    *,
    silent_for_s: float,
    attempts: int = 1,
) -> str:
    """An export a worker claimed `attempts` times, last heard of `silent_for_s` ago."""
    job_id = queued_export(sessions, roster)
    with unit_of_work(sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status = "running"
        job.attempts = attempts
        job.started_at = utcnow() - dt.timedelta(seconds=silent_for_s + 5)
        job.heartbeat_at = utcnow() - dt.timedelta(seconds=silent_for_s)
    return job_id


def job_now(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def events_of(
    sessions: sessionmaker[Session], job_id: str
) -> list[tuple[str, int | None, str | None]]:
    with sessions() as session:
        return [(e.event, e.attempt, e.detail) for e in timeline(session, job_id)]


def message(job_id: str, *, sent_s_ago: float = 0) -> Message[None]:
    """An `export_roster` message for `job_id`, first sent `sent_s_ago` seconds ago."""
    return Message(
        queue_name="exports",
        actor_name="export_roster",
        args=(job_id,),
        kwargs={},
        options={},
        message_timestamp=int((time.time() - sent_s_ago) * 1000),
    )


def eventually(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
