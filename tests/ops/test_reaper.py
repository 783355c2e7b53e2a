"""The reaper: running jobs whose worker went silent are requeued and sent again, or failed
when their attempts are used up; concurrent reapers take a job once.

The jobs here are silent for 60 s and reaped at 30 s, below the 120 s the embedded worker
of the test process reaps at, so its periodic reaper never touches them.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy.orm import Session, sessionmaker

from jobs.reaper import reap_stuck_jobs, stuck_jobs
from storage import workers
from storage.db import unit_of_work
from storage.models import utcnow
from tests.factories import SmallDistrict
from tests.ops.helpers import events_of, job_now, running_export

STALE_S = 30
SILENT_S = 60


class Sent:
    """The broker as the reaper sees it: `send(actor_name, job_id)`, recorded."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, actor_name: str, job_id: str) -> None:
        with self._lock:
            self.messages.append((actor_name, job_id))


def lost_worker(sessions: sessionmaker[Session], job_id: str) -> str:
    """A worker process that was running `job_id` when it last beat, a minute ago."""
    worker_id = "node-7:4242:deadbeef"
    then = utcnow() - dt.timedelta(seconds=SILENT_S)
    with unit_of_work(sessions) as session:
        workers.register(session, worker_id, host="node-7", pid=4242, queues=["exports"], now=then)
    with unit_of_work(sessions) as session:
        workers.beat(session, worker_id, job_ids=[job_id], now=then)
    return worker_id


def test_a_running_job_whose_heartbeat_went_stale_is_requeued_and_sent_again(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a job whose worker went silent a minute ago, and one still heard from
    stale = running_export(sessions, roster, silent_for_s=SILENT_S)
    worker_id = lost_worker(sessions, stale)
    alive = running_export(sessions, roster, silent_for_s=2)
    sent = Sent()

    # when
    reaped = reap_stuck_jobs(sessions, stale_after_s=STALE_S, max_attempts=5, send=sent)

    # then
    assert reaped == [stale]
    assert sent.messages == [("export_roster", stale)]
    job = job_now(sessions, stale)
    assert (job.status, job.attempts) == ("queued", 1)
    assert events_of(sessions, stale)[-1] == (
        "requeued",
        1,
        f"Its worker {worker_id} stopped responding.",
    )
    assert job_now(sessions, alive).status == "running"


def test_a_stuck_job_whose_attempts_are_used_up_is_failed_naming_its_lost_worker(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a job on its fifth and last attempt when its worker went silent
    job_id = running_export(sessions, roster, silent_for_s=SILENT_S, attempts=5)
    worker_id = lost_worker(sessions, job_id)
    sent = Sent()

    # when
    reaped = reap_stuck_jobs(sessions, stale_after_s=STALE_S, max_attempts=5, send=sent)

    # then
    assert reaped == [job_id]
    assert sent.messages == []
    job = job_now(sessions, job_id)
    assert job.status == "failed"
    assert job.error == f"Stopped after 5 attempts: Its worker {worker_id} stopped responding."
    assert job.finished_at is not None
    assert events_of(sessions, job_id)[-1] == ("finished", 5, f"failed: {job.error}")


def test_two_reapers_at_once_requeue_a_stuck_job_once(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a stuck job, and two worker processes about to reap at the same moment
    job_id = running_export(sessions, roster, silent_for_s=SILENT_S)
    sent = Sent()
    start = threading.Barrier(2)
    reaped: list[list[str]] = []

    def reaper() -> None:
        start.wait()
        reaped.append(reap_stuck_jobs(sessions, stale_after_s=STALE_S, max_attempts=5, send=sent))

    # when
    threads = [threading.Thread(target=reaper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then
    assert sorted(reaped) == [[], [job_id]]
    assert sent.messages == [("export_roster", job_id)]
    assert [event for event, _, _ in events_of(sessions, job_id)].count("requeued") == 1


def test_a_job_whose_message_cannot_be_sent_stays_stuck_for_the_next_reaper(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a stuck job, and a broker that does not answer
    job_id = running_export(sessions, roster, silent_for_s=SILENT_S)

    def broker_down(actor_name: str, job_id: str) -> None:
        raise ConnectionError("Redis did not answer")

    # when
    reaped = reap_stuck_jobs(sessions, stale_after_s=STALE_S, max_attempts=5, send=broker_down)

    # then
    assert reaped == []
    with sessions() as session:
        assert [job.id for job in stuck_jobs(session, STALE_S)] == [job_id]


def test_stuck_jobs_lists_only_running_jobs_silent_longer_than_the_threshold(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given
    stale = running_export(sessions, roster, silent_for_s=SILENT_S)
    running_export(sessions, roster, silent_for_s=2)

    # when
    with sessions() as session:
        found = [job.id for job in stuck_jobs(session, STALE_S)]

    # then
    assert found == [stale]
