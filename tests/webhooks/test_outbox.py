"""The outbox: a delivery is written with every final state, in the same transaction, by
whatever writes that state; and senders take a due delivery one at a time, under a lease
that another sender inherits when it ends. On SQLite and on Postgres."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import request_cancel
from jobs.reaper import reap_stuck_jobs
from storage import job_records, webhook_deliveries
from storage.db import unit_of_work
from storage.models import utcnow
from tests.factories import SmallDistrict
from tests.ops.conftest import roster
from tests.ops.helpers import job_now, queued_export, running_export
from tests.webhooks.helpers import deliveries

__all__ = ["roster"]


@pytest.fixture
def outbox(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    webhook_deliveries.enable_outbox(sessions)
    return sessions


def test_a_job_the_reaper_fails_is_announced_and_one_it_requeues_is_not(
    outbox: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given two stuck jobs, one on its last attempt
    last = running_export(outbox, roster, silent_for_s=60, attempts=5)
    again = running_export(outbox, roster, silent_for_s=60, attempts=1)

    # when the reaper runs
    reap_stuck_jobs(outbox, stale_after_s=30, max_attempts=5, send=lambda actor, job_id: None)

    # then
    assert job_now(outbox, last).status == "failed"
    assert [(d.event_type, d.status) for d in deliveries(outbox, last)] == [
        ("job.finished", "pending")
    ]
    assert deliveries(outbox, again) == []


def test_a_cancel_that_is_rolled_back_leaves_no_notification_behind(
    outbox: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a queued job
    job_id = queued_export(outbox, roster)

    # when its cancel's transaction fails after the state was written
    with pytest.raises(RuntimeError), unit_of_work(outbox) as session:
        found = job_records.get_for_update(session, job_id)
        assert found is not None and request_cancel(session, found)
        raise RuntimeError("the database went away before the commit")

    # then neither the state nor the notification is there; a cancel that commits has both
    assert (job_now(outbox, job_id).status, deliveries(outbox, job_id)) == ("queued", [])
    with unit_of_work(outbox) as session:
        found = job_records.get_for_update(session, job_id)
        assert found is not None and request_cancel(session, found)
    assert job_now(outbox, job_id).status == "cancelled"
    assert len(deliveries(outbox, job_id)) == 1


def test_senders_claiming_at_once_take_a_delivery_once_until_its_lease_ends(
    outbox: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given one notification due
    job_id = queued_export(outbox, roster)
    with unit_of_work(outbox) as session:
        found = job_records.get_for_update(session, job_id)
        assert found is not None and request_cancel(session, found)
    (delivery,) = deliveries(outbox, job_id)

    # when eight senders claim it at the same moment
    claimed: list[str | None] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        with unit_of_work(outbox) as session:
            claimed.append(webhook_deliveries.claim_due(session, lease_s=60))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one of them has it; the others find nothing until the lease has run out
    assert sorted(claimed, key=lambda found: found or "") == [None] * 7 + [delivery.id]
    later = utcnow() + dt.timedelta(seconds=61)
    with unit_of_work(outbox) as session:
        assert webhook_deliveries.claim_due(session, lease_s=60) is None
        assert webhook_deliveries.claim_due(session, lease_s=60, now=later) == delivery.id
