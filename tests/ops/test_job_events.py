"""Each job's timeline, written by the lifecycle as the job moves, on SQLite and Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import PermanentJobError, TransientJobError
from jobs.export import run_export
from jobs.lifecycle import JobContext, Outcome, create_job, request_cancel, run_job, transition
from schemas.jobs import JobKind, JobStatus
from schemas.scope import Role, Scope
from storage.db import unit_of_work
from storage.models import Job, JobEvent
from tests.factories import SmallDistrict
from tests.ops.helpers import events_of, job_now, queued_export, running_export


def test_a_completed_export_reads_created_queued_started_finished(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    job_id = queued_export(ctx.sessions, roster)

    # when
    run_job(ctx, job_id, run_export)

    # then
    assert events_of(ctx.sessions, job_id) == [
        ("created", None, None),
        ("queued", None, None),
        ("started", 1, None),
        ("finished", 1, "completed"),
    ]


def test_a_retried_job_shows_each_attempt_and_the_error_that_made_it_retry(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a first delivery that meets a database outage
    job_id = queued_export(ctx.sessions, roster)

    def outage(_ctx: JobContext, _job: Job) -> Outcome:
        raise TransientJobError("The database did not answer")

    with pytest.raises(TransientJobError):
        run_job(ctx, job_id, outage)

    # when the broker delivers it again
    run_job(ctx, job_id, run_export)

    # then
    assert events_of(ctx.sessions, job_id)[2:] == [
        ("started", 1, None),
        ("retry_scheduled", 1, "The database did not answer"),
        ("started", 2, None),
        ("finished", 2, "completed"),
    ]


def test_a_permanent_failure_ends_the_timeline_with_the_jobs_error(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    job_id = queued_export(ctx.sessions, roster)

    def refused(_ctx: JobContext, _job: Job) -> Outcome:
        raise PermanentJobError("The file has no header row.")

    # when
    run_job(ctx, job_id, refused)

    # then
    assert events_of(ctx.sessions, job_id)[-1] == (
        "finished",
        1,
        "failed: The file has no header row.",
    )
    assert job_now(ctx.sessions, job_id).error == "The file has no header row."


def test_cancelling_a_queued_job_records_the_request_and_its_end(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    job_id = queued_export(ctx.sessions, roster)

    # when
    with unit_of_work(ctx.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        request_cancel(session, job)

    # then
    assert events_of(ctx.sessions, job_id)[2:] == [
        ("cancel_requested", None, None),
        ("finished", None, "cancelled: Cancelled before it started."),
    ]


def test_an_import_leaving_awaiting_upload_is_queued_once_however_often_it_is_started(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given an import waiting for its file
    scope = Scope(
        district_id=roster.district.id,
        educator_id=roster.district_admin.id,
        username=roster.district_admin.username,
        role=Role.DISTRICT_ADMIN,
        school_ids=frozenset(),
    )
    with unit_of_work(sessions) as session:
        job_id = create_job(
            session,
            kind=JobKind.IMPORT,
            entity="students",
            scope=scope,
            options={},
            status=JobStatus.AWAITING_UPLOAD,
        ).id

    # when the upload event and a start call both try to queue it
    moved = []
    for _ in range(2):
        with unit_of_work(sessions) as session:
            moved.append(transition(session, job_id, JobStatus.AWAITING_UPLOAD, JobStatus.QUEUED))

    # then
    assert moved == [True, False]
    assert [event for event, _, _ in events_of(sessions, job_id)] == ["created", "queued"]


def test_a_redelivery_of_a_job_running_on_a_live_worker_is_skipped(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a job a live worker is running (its heartbeat is a second old)
    job_id = running_export(ctx.sessions, roster, silent_for_s=1)

    def must_not_run(_ctx: JobContext, _job: Job) -> Outcome:
        raise AssertionError("ran twice at once")

    # when the same message is delivered again
    run_job(ctx, job_id, must_not_run)

    # then
    job = job_now(ctx.sessions, job_id)
    assert (job.status, job.attempts) == ("running", 1)
    assert "started" not in [event for event, _, _ in events_of(ctx.sessions, job_id)]


def test_a_jobs_events_go_when_the_job_is_deleted(ctx: JobContext, roster: SmallDistrict) -> None:
    # given
    job_id = queued_export(ctx.sessions, roster)
    run_job(ctx, job_id, run_export)

    # when
    with unit_of_work(ctx.sessions) as session:
        session.execute(delete(Job).where(Job.id == job_id))

    # then
    with ctx.sessions() as session:
        left = session.scalar(select(func.count()).where(JobEvent.job_id == job_id))
    assert left == 0
