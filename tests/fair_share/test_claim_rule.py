"""The fair-share rule of `claim`, on SQLite and Postgres: at most `district_max_running`
jobs of one district run at once; a job over it waits, queued, counts no attempt, and its
message is sent again a few seconds later."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import fair_share
from jobs.lifecycle import JobContext, claim
from jobs.reaper import resend_lost_messages
from schemas.jobs import JobStatus
from storage import job_records
from storage.db import unit_of_work
from storage.models import utcnow
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.fair_share.helpers import SentLater
from tests.ops.helpers import events_of, job_now, queued_export, running_export

LIMIT = 2
WAITING = "2 jobs of its district are running (at most 2 at once)."


@pytest.fixture
def sent() -> SentLater:
    return SentLater()


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path, sent: SentLater) -> JobContext:
    store = FolderStore(tmp_path / "objects")
    return JobContext(sessions=sessions, store=store, district_max_running=LIMIT, send=sent)


@pytest.fixture
def busy(sessions: sessionmaker[Session]) -> SmallDistrict:
    """A district with two exports running on live workers."""
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session, name="Busy Unified")
    for _ in range(LIMIT):
        running_export(sessions, roster, silent_for_s=1)
    return roster


@pytest.fixture
def quiet(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session, name="Quiet Valley")


def test_a_third_job_of_a_district_waits_queued_while_two_of_its_jobs_run(
    ctx: JobContext, sessions: sessionmaker[Session], busy: SmallDistrict, sent: SentLater
) -> None:
    # given a third export of the busy district
    third = queued_export(sessions, busy)

    # when a worker takes its message
    claimed = claim(ctx, third)

    # then it does not run, counts no attempt, and its message is sent again later
    job = job_now(sessions, third)
    assert claimed is None
    assert (job.status, job.attempts, job.started_at) == ("queued", 0, None)
    assert events_of(sessions, third) == [
        ("created", None, None),
        ("queued", None, None),
        ("deferred", None, WAITING),
    ]
    assert [(kind, job_id) for kind, job_id, _ in sent.calls] == [("export", third)]
    assert 1500 <= sent.calls[0][2] <= 4500


def test_a_job_of_another_district_runs_while_one_district_has_two_jobs_running(
    ctx: JobContext,
    sessions: sessionmaker[Session],
    busy: SmallDistrict,
    quiet: SmallDistrict,
    sent: SentLater,
) -> None:
    # given an export of a district that runs nothing
    other = queued_export(sessions, quiet)

    # when a worker takes its message
    claimed = claim(ctx, other)

    # then it runs at once
    assert claimed is not None
    assert (job_now(sessions, other).status, job_now(sessions, other).attempts) == ("running", 1)
    assert sent.calls == []


def test_a_running_job_whose_heartbeat_went_stale_holds_no_slot(
    ctx: JobContext, sessions: sessionmaker[Session], quiet: SmallDistrict, sent: SentLater
) -> None:
    # given a district with one live running job and one whose worker went silent
    running_export(sessions, quiet, silent_for_s=1)
    running_export(sessions, quiet, silent_for_s=ctx.stale_after_s + 30)
    waiting = queued_export(sessions, quiet)

    # when a worker takes a third job's message
    claimed = claim(ctx, waiting)

    # then the silent job's slot is free for it
    assert claimed is not None
    assert job_now(sessions, waiting).status == "running"
    assert sent.calls == []


def test_a_job_that_waits_through_several_deliveries_is_noted_once_in_its_timeline(
    ctx: JobContext, sessions: sessionmaker[Session], busy: SmallDistrict, sent: SentLater
) -> None:
    # given a third export of the busy district
    third = queued_export(sessions, busy)

    # when its message comes back three times while the district stays busy
    for _ in range(3):
        claim(ctx, third)

    # then each delivery sent it again, and its timeline notes the wait once
    assert len(sent.calls) == 3
    assert [event for event, _, _ in events_of(sessions, third)].count("deferred") == 1
    assert job_now(sessions, third).attempts == 0


def test_a_waiting_job_starts_when_one_of_its_districts_jobs_finishes(
    ctx: JobContext, sessions: sessionmaker[Session], busy: SmallDistrict, sent: SentLater
) -> None:
    # given a third export that waited once
    third = queued_export(sessions, busy)
    claim(ctx, third)

    # when one of the running exports finishes and the message comes back
    finish_one_running(sessions, busy.district.id)
    claimed = claim(ctx, third)

    # then it runs, on its first attempt
    assert claimed is not None
    assert [(event, attempt) for event, attempt, _ in events_of(sessions, third)] == [
        ("created", None),
        ("queued", None),
        ("deferred", None),
        ("started", 1),
    ]
    assert len(sent.calls) == 1


def test_a_job_redelivered_after_its_worker_died_waits_queued_when_its_district_is_full(
    ctx: JobContext, sessions: sessionmaker[Session], busy: SmallDistrict
) -> None:
    # given a job whose worker went silent, in a district whose two slots are taken
    lost = running_export(sessions, busy, silent_for_s=ctx.stale_after_s + 30)

    # when its message is delivered again
    claimed = claim(ctx, lost)

    # then it waits like any queued job, its attempts unchanged
    job = job_now(sessions, lost)
    assert claimed is None
    assert (job.status, job.attempts) == ("queued", 1)


def test_two_workers_claiming_at_once_cannot_both_take_a_districts_last_slot(
    ctx: JobContext, sessions: sessionmaker[Session], quiet: SmallDistrict, sent: SentLater
) -> None:
    # given a district with one job running and two queued
    running_export(sessions, quiet, silent_for_s=1)
    first, second = queued_export(sessions, quiet), queued_export(sessions, quiet)
    inside, release = threading.Event(), threading.Event()

    def first_worker() -> None:
        """Takes the last slot and keeps its claim's transaction open until released."""
        with unit_of_work(sessions) as session:
            job = job_records.get_for_update(session, first)
            assert job is not None
            assert fair_share.deferral(session, job, limit=LIMIT, stale_after_s=60) is None
            job.status, job.heartbeat_at = JobStatus.RUNNING.value, utcnow()
            session.flush()
            inside.set()
            release.wait(10)

    # when a second worker claims the other job while the first is inside its claim
    holder = threading.Thread(target=first_worker)
    holder.start()
    assert inside.wait(10)
    results: list[object] = []
    claimer = threading.Thread(target=lambda: results.append(claim(ctx, second)))
    claimer.start()
    time.sleep(0.5)  # lets the second claim reach the district's lock before the first commits
    release.set()
    holder.join(10)
    claimer.join(30)

    # then the second claim waited for the first, counted its job, and deferred
    assert results == [None]
    assert job_now(sessions, second).status == "queued"
    assert [job_id for _, job_id, _ in sent.calls] == [second]


def test_a_context_without_a_district_limit_runs_every_job(
    sessions: sessionmaker[Session], busy: SmallDistrict, tmp_path: Path
) -> None:
    # given a context built without the setting (as scripts and pipeline tests do)
    plain = JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"))
    third = queued_export(sessions, busy)

    # when
    claimed = claim(plain, third)

    # then
    assert claimed is not None


def finish_one_running(sessions: sessionmaker[Session], district_id: int) -> None:
    with unit_of_work(sessions) as session:
        running = job_records.list_jobs(session, district_id=district_id, status="running")
        running[0].status = JobStatus.COMPLETED.value
        running[0].finished_at = utcnow()


def test_a_job_waiting_for_its_share_longer_than_the_resend_period_is_not_sent_twice(
    ctx: JobContext, sessions: sessionmaker[Session], busy: SmallDistrict, sent: SentLater
) -> None:
    # given a third export of the busy district, queued long ago, whose message a worker
    # has just taken and deferred
    third = queued_export(sessions, busy)
    with unit_of_work(sessions) as session:
        job = job_records.get(session, third)
        assert job is not None
        job.queued_at = utcnow() - dt.timedelta(hours=1)
    claim(ctx, third)

    # when the reaper looks for queued jobs whose message was lost
    resent: list[tuple[str, str]] = []
    found = resend_lost_messages(
        sessions, resend_after_s=900, send=lambda actor, job_id: resent.append((actor, job_id))
    )

    # then the waiting job is left to its own circulating message
    assert job_now(sessions, third).status == "queued"
    assert (found, resent) == ([], [])
    assert len(sent.calls) == 1
