"""Jobs that end are told to a real receiver on loopback, which verifies each request with
the `standardwebhooks` package: once each, with the job object in `data`; retried with the
same `webhook-id` until a 2xx; given up after the timeout when the receiver never answers;
stopped by a 410. On SQLite and on Postgres."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from jobs.views import job_object
from storage import webhook_deliveries
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import FolderStore
from tests import factories
from tests.api.helpers import edited_file
from tests.factories import SmallDistrict
from tests.webhooks.helpers import (
    attempts,
    corpus,
    deliveries,
    export,
    import_file,
    sending,
    target,
    wait_for_delivery,
)
from tests.webhooks.receiver import HANG, body_of, receiving


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    """A worker's job context whose sessions write the outbox (a webhook is configured)."""
    webhook_deliveries.enable_outbox(sessions)
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"))


def test_an_export_an_import_with_errors_and_a_failed_import_each_arrive_once_with_the_job(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    with receiving() as receiver, sending(ctx, target(receiver.url)):
        # given three jobs that end: completed, completed with errors, failed
        exported = export(ctx, roster)
        with_errors = import_file(ctx, roster, edited_file(roster))
        refused = import_file(ctx, roster, corpus("students_missing_required_columns.csv"))

        # when the worker's sender has sent what was due
        events = receiver.wait_for_events(3)
        for job_id in (exported, with_errors, refused):
            wait_for_delivery(ctx.sessions, job_id, "delivered")

    # then each job's event arrived once, verified, with the job object as the API shows it
    assert len(receiver.requests) == 3
    by_job = {body_of(event)["data"]["id"]: event for event in events}
    assert list(by_job) == [exported, with_errors, refused]
    with ctx.sessions() as session:
        for job_id, status in (
            (exported, "completed"),
            (with_errors, "completed_with_errors"),
            (refused, "failed"),
        ):
            job = session.get(Job, job_id)
            assert job is not None and job.status == status
            event = body_of(by_job[job_id])
            assert event["type"] == "job.finished"
            assert event["data"] == job_object(job, ctx.store, link_ttl=ctx.link_ttl)
            (delivery,) = deliveries(ctx.sessions, job_id)
            assert by_job[job_id].webhook_id == delivery.id
            sent_at = dt.datetime.fromisoformat(event["timestamp"])
            created = delivery.created_at  # SQLite gives it back without its zone
            assert sent_at == (created if created.tzinfo else created.replace(tzinfo=dt.UTC))
    assert body_of(by_job[exported])["data"]["result_url"]
    assert body_of(by_job[with_errors])["data"]["counts"]["failed"] == 1
    assert "Grade" in body_of(by_job[refused])["data"]["error"]


def test_a_receiver_answering_500_twice_then_200_gets_three_attempts_of_one_event(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a receiver that fails twice
    with receiving([500, 500]) as receiver, sending(ctx, target(receiver.url)):
        # when a job ends
        job_id = export(ctx, roster)
        receiver.wait_for_events(1)
        delivery = wait_for_delivery(ctx.sessions, job_id, "delivered")

    # then three requests of the same event, one event received, every attempt recorded
    assert [request.answered for request in receiver.requests] == [500, 500, 200]
    assert {request.webhook_id for request in receiver.requests} == {delivery.id}
    assert receiver.event_ids() == [delivery.id]
    recorded = attempts(ctx.sessions, delivery.id)
    assert [(a.status_code, a.error) for a in recorded] == [(500, None), (500, None), (200, None)]
    assert delivery.attempts == 3


def test_a_redirect_is_not_followed_but_answered_like_any_other_non_2xx(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a receiver that first answers 307 to /elsewhere
    with receiving([307]) as receiver, sending(ctx, target(receiver.url)):
        job_id = export(ctx, roster)
        delivery = wait_for_delivery(ctx.sessions, job_id, "delivered")

    # then nothing went to /elsewhere: the event was tried again at its own URL
    assert [(r.path, r.answered) for r in receiver.requests] == [
        ("/hooks/rosterjobs", 307),
        ("/hooks/rosterjobs", 200),
    ]
    assert [a.status_code for a in attempts(ctx.sessions, delivery.id)] == [307, 200]


def test_a_receiver_that_never_answers_is_given_up_after_the_timeout_each_time(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a receiver that takes the request and never answers
    with (
        receiving([HANG, HANG, HANG]) as receiver,
        sending(ctx, target(receiver.url, timeout_s=0.5)),
    ):
        # when a job ends
        job_id = export(ctx, roster)
        delivery = wait_for_delivery(ctx.sessions, job_id, "failed")

    # then each of the three attempts was cut off at the timeout, and the delivery failed
    recorded = attempts(ctx.sessions, delivery.id)
    assert [(a.status_code, a.error) for a in recorded] == [(None, "no answer within 0.5 s")] * 3
    assert all(a.duration_ms >= 500 for a in recorded)
    assert len(receiver.requests) == 3 and receiver.events == []


def test_a_receiver_that_hangs_holds_up_neither_the_next_job_nor_its_worker_for_long(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a receiver that leaves the first notification hanging, a 30 s timeout
    with receiving([HANG]) as receiver, sending(ctx, target(receiver.url, timeout_s=30)):
        first = export(ctx, roster)
        receiver.wait_for_requests(1)

        # when the next job runs while that request hangs
        second = export(ctx, roster)

        # then it ran to its end, its own notification waiting behind the hanging one
        with ctx.sessions() as session:
            ended = [session.get(Job, job_id) for job_id in (first, second)]
            assert [job.status if job else None for job in ended] == ["completed", "completed"]
        assert [d.attempts for d in deliveries(ctx.sessions, first)] == [0]
        assert len(receiver.requests) == 1

        # and once the hanging request is let go, both are delivered
        receiver.release()
        receiver.wait_for_events(2)
    assert sorted(body_of(event)["data"]["id"] for event in receiver.events) == sorted(
        [first, second]
    )
    assert [
        (a.status_code, a.error is not None)
        for a in attempts(ctx.sessions, deliveries(ctx.sessions, first)[0].id)
    ] == [(None, True), (200, False)]


def test_a_410_gone_stops_the_retries_of_that_event(ctx: JobContext, roster: SmallDistrict) -> None:
    with receiving([410]) as receiver, sending(ctx, target(receiver.url)):
        job_id = export(ctx, roster)
        delivery = wait_for_delivery(ctx.sessions, job_id, "gone")
    assert [(a.status_code, a.error) for a in attempts(ctx.sessions, delivery.id)] == [(410, None)]
    assert delivery.ended_at is not None


def test_without_a_webhook_a_finished_job_leaves_nothing_to_send(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given a worker without ROSTERJOBS_WEBHOOK_URL (its sessions have no outbox)
    ctx = JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"))

    # when a job ends
    job_id = export(ctx, roster)

    # then
    assert deliveries(sessions, job_id) == []
