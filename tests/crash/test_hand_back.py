"""What a job does when its worker is stopping (`jobs.lifecycle.WorkerStop`), in process,
on SQLite and Postgres: it goes back to the queue at its next batch with its attempt given
back and its message sent again; if the broker does not take the message, the reaper sends
it. The worker processes themselves are in `test_sigterm.py`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.lifecycle import HANDED_BACK, JobContext, WorkerStop, run_job
from jobs.reaper import reap_stuck_jobs
from storage.db import unit_of_work
from storage.objects import CSV_CONTENT_TYPE, FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.ops.helpers import events_of, job_now, queued_export


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


class Outbox:
    """A broker stand-in that records what is sent, or refuses it."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse = refuse

    def send(self, kind_or_actor: str, job_id: str, delay_ms: int = 0) -> None:
        if self.refuse:
            raise ConnectionError("Redis is away")
        self.sent.append((kind_or_actor, job_id))


def stopping(sessions: sessionmaker[Session], tmp_path: Path, outbox: Outbox) -> JobContext:
    """The job context of a worker that was just asked to stop."""
    stop = WorkerStop()
    stop.requested.set()
    store = FolderStore(tmp_path / "objects")
    return JobContext(sessions=sessions, store=store, batch_rows=2, stop=stop, send=outbox.send)


def settled(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    """The job context of a worker that is not stopping."""
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def test_a_job_whose_worker_is_stopping_is_queued_again_with_its_attempt_and_its_message(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given an export delivered to a worker that is stopping
    job_id = queued_export(sessions, roster)
    outbox = Outbox()

    # when it runs there, then on a worker that is not stopping
    run_job(stopping(sessions, tmp_path, outbox), job_id, run_export)
    handed_back = job_now(sessions, job_id)
    left_behind = list((tmp_path / "objects").rglob("*.csv*"))
    run_job(settled(sessions, tmp_path), job_id, run_export)

    # then it was handed back untouched, and ran to its end at the next delivery
    assert (handed_back.status, handed_back.attempts, handed_back.error) == ("queued", 0, None)
    assert outbox.sent == [("export", job_id)]
    assert left_behind == []
    assert events_of(sessions, job_id)[2:] == [
        ("started", 1, None),
        ("requeued", 1, HANDED_BACK),
        ("started", 1, None),
        ("finished", 1, "completed"),
    ]
    done = job_now(sessions, job_id)
    assert (done.status, done.attempts) == ("completed", 1)


def test_a_handed_back_job_whose_message_the_broker_refused_is_sent_again_by_the_reaper(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given an export handed back by a stopping worker while the broker was away
    job_id = queued_export(sessions, roster)
    run_job(stopping(sessions, tmp_path, Outbox(refuse=True)), job_id, run_export)
    stuck = job_now(sessions, job_id)

    # when a reaper runs
    outbox = Outbox()
    reaped = reap_stuck_jobs(sessions, max_attempts=5, send=outbox.send)

    # then the job, left running without a heartbeat, was queued again and sent
    assert (stuck.status, stuck.heartbeat_at) == ("running", None)
    assert reaped == [job_id]
    assert outbox.sent == [("export_roster", job_id)]
    assert job_now(sessions, job_id).status == "queued"


class StopOnPublish(FolderStore):
    """A folder store whose worker is asked to stop the moment an object is complete."""

    def __init__(self, root: Path, stop: WorkerStop) -> None:
        super().__init__(root)
        self.stop = stop

    @contextmanager
    def open_write(self, key: str, *, content_type: str = CSV_CONTENT_TYPE) -> Iterator[BinaryIO]:
        with super().open_write(key, content_type=content_type) as raw:
            yield raw
        self.stop.requested.set()


def test_a_stop_that_comes_once_the_export_is_written_keeps_the_finished_export(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given an export whose worker is asked to stop just as its file is complete
    job_id = queued_export(sessions, roster)
    outbox = Outbox()
    stop = WorkerStop()
    store = StopOnPublish(tmp_path / "objects", stop)

    # when it runs
    ctx = JobContext(sessions=sessions, store=store, batch_rows=2, stop=stop, send=outbox.send)
    run_job(ctx, job_id, run_export)

    # then the finished export is kept, not thrown away and sent to run again
    done = job_now(sessions, job_id)
    assert (done.status, done.attempts, done.processed) == ("completed", 1, done.total)
    assert outbox.sent == []
    assert done.result_key is not None and store.exists(done.result_key)
