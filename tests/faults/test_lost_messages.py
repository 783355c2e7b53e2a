"""The reaper sends again the message of a job left `queued` far too long (its message was
lost with the broker's data): once per period whatever the number of reapers, never for a
job that waits for its retry, and again at the next run if the broker did not take it.

In this process, on SQLite and Postgres; `test_redis` shows it with a real Redis restart.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy.orm import Session, sessionmaker

from jobs.reaper import resend_lost_messages
from storage.db import unit_of_work
from storage.models import Job, utcnow
from tests.factories import SmallDistrict
from tests.ops.helpers import events_of, job_now, queued_export

RESEND_AFTER_S = 600


class Broker:
    """The broker as the reaper sees it: `send(actor_name, job_id)`, recorded, or refused
    while `down`."""

    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down = down
        self._lock = threading.Lock()

    def __call__(self, actor_name: str, job_id: str) -> None:
        if self.down:
            raise ConnectionError("Redis did not answer")
        with self._lock:
            self.sent.append((actor_name, job_id))


def queued_for(
    sessions: sessionmaker[Session],
    roster: SmallDistrict,
    seconds: float,
    *,
    ran_s_ago: float | None = None,
) -> str:
    """An export queued `seconds` ago; `ran_s_ago`: it last ran (and beat) that long ago,
    as a job waiting for its retry has."""
    job_id = queued_export(sessions, roster)
    with unit_of_work(sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.queued_at = utcnow() - dt.timedelta(seconds=seconds)
        if ran_s_ago is not None:
            job.attempts = 1
            job.heartbeat_at = utcnow() - dt.timedelta(seconds=ran_s_ago)
    return job_id


def test_a_job_queued_far_too_long_is_sent_again_once_by_two_reapers_at_once(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a job queued for twenty minutes, one queued a minute ago, and one that ran and
    # failed a minute ago and waits for its retry
    lost = queued_for(sessions, roster, 1200)
    recent = queued_for(sessions, roster, 60)
    retrying = queued_for(sessions, roster, 1200, ran_s_ago=60)
    broker = Broker()
    start = threading.Barrier(2)
    resent: list[list[str]] = []

    def reaper() -> None:
        start.wait()
        resent.append(resend_lost_messages(sessions, resend_after_s=RESEND_AFTER_S, send=broker))

    # when two reapers run at the same moment
    threads = [threading.Thread(target=reaper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then only the lost one's message is sent, once, and its timeline says why
    assert sorted(resent) == [[], [lost]]
    assert broker.sent == [("export_roster", lost)]
    assert events_of(sessions, lost)[-1] == (
        "requeued",
        None,
        f"Queued for over {RESEND_AFTER_S} s without running; its message was sent again.",
    )
    assert [job_now(sessions, job).status for job in (lost, recent, retrying)] == ["queued"] * 3
    assert "requeued" not in [event for event, _, _ in events_of(sessions, retrying)]


def test_a_resent_job_is_not_sent_again_before_another_period_has_passed(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a lost job whose message was just sent again
    lost = queued_for(sessions, roster, 1200)
    broker = Broker()
    resend_lost_messages(sessions, resend_after_s=RESEND_AFTER_S, send=broker)

    # when the next reaper runs
    again = resend_lost_messages(sessions, resend_after_s=RESEND_AFTER_S, send=broker)

    # then
    assert again == []
    assert broker.sent == [("export_roster", lost)]


def test_a_message_the_broker_refused_is_sent_at_the_next_run(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a lost job, and a broker that does not answer the first time
    lost = queued_for(sessions, roster, 1200)
    broker = Broker(down=True)
    first = resend_lost_messages(sessions, resend_after_s=RESEND_AFTER_S, send=broker)

    # when the broker is back at the next run
    broker.down = False
    second = resend_lost_messages(sessions, resend_after_s=RESEND_AFTER_S, send=broker)

    # then
    assert (first, second) == ([], [lost])
    assert broker.sent == [("export_roster", lost)]
