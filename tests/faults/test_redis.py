"""Redis restarted in the middle of a job, with a `rosterjobs worker` process on it.

The job that is running needs no Redis until it is done, so it completes; the worker's
consumers reconnect by themselves. What a restart can lose is the messages waiting in
Redis: the runbook's Redis (append-only file) keeps them; a Redis without persistence
forgets them, and the reaper sends the message of a job `queued` too long again.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.job_events import timeline
from storage.models import ClassGroup, Job, utcnow
from storage.seed import SeedSummary, seed_district
from tests.faults.services import QUICK_RETRIES, PrivateRedis, finished, running_with_progress
from tests.processes import cli_json, service_env, wait_for, worker_process

STUDENTS = 2000
SLOW_EXPORT = {"ROSTERJOBS_BATCH_ROWS": "1", "ROSTERJOBS_EXPORT_PROGRESS_SECONDS": "0"}
"""2,000 students with their progress stored after every row: an export that runs for
seconds even on Postgres's COPY path."""


def export(env: dict[str, str], district: SeedSummary, cwd: Path, entity: str) -> str:
    who = ("--district", str(district.district_id), "--as", district.district_admin)
    return str(cli_json(env, "export", *who, "--entity", entity, cwd=cwd)["id"])


def running_jobs(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(Job.status == "running")) or 0


def events(sessions: sessionmaker[Session], job_id: str) -> list[tuple[str, dt.datetime]]:
    with sessions() as session:
        return [(event.event, event.at) for event in timeline(session, job_id)]


@dataclass(frozen=True)
class Restart:
    """What happened around a Redis restart: the long students export running at the crash
    (as it was then, and at its end), the classes export waiting behind it, the one asked
    for after, the waiting one's timeline, and when Redis crashed."""

    stranded: Job
    running: Job
    waiting: Job
    after: Job
    waiting_events: list[tuple[str, dt.datetime]]
    classes: int
    crashed_at: dt.datetime

    def outcomes(self) -> list[tuple[str, dict[str, int]]]:
        return [(job.status, job.counts) for job in (self.running, self.waiting, self.after)]

    def completed(self) -> list[tuple[str, dict[str, int]]]:
        """What `outcomes` reads when every export ran to its end."""
        every_class = ("completed", {"rows": self.classes})
        return [("completed", {"rows": STUDENTS}), every_class, every_class]


def restart_mid_export(
    redis: PrivateRedis, pg_engine: Engine, tmp_path: Path, **settings: str
) -> Restart:
    sessions = sessionmaker(pg_engine, expire_on_commit=False)
    district = seed_district(pg_engine, name="Redwood Falls", students=STUDENTS)
    env = service_env(
        pg_engine.url.render_as_string(hide_password=False),
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=redis.url,
        **QUICK_RETRIES | SLOW_EXPORT | settings,
    )
    with worker_process(env, tmp_path):
        running = export(env, district, tmp_path, "students")
        waiting = export(env, district, tmp_path, "classes")
        wait_for(sessions, running, running_with_progress)
        time.sleep(1.1)  # the append-only file is written every second

        crashed_at = utcnow()
        redis.crash()
        stranded = wait_for(sessions, running, lambda job: True)
        redis.start()
        after = export(env, district, tmp_path, "classes")
        ends = [wait_for(sessions, job_id, finished) for job_id in (running, waiting, after)]
    classes = classes_of(sessions, district)
    timeline_ = events(sessions, waiting)
    return Restart(stranded, ends[0], ends[1], ends[2], timeline_, classes, crashed_at)


def classes_of(sessions: sessionmaker[Session], district: SeedSummary) -> int:
    with sessions() as session:
        statement = select(func.count()).where(ClassGroup.district_id == district.district_id)
        return session.scalar(statement) or 0


def test_an_export_running_when_the_runbooks_redis_crashes_completes_and_no_message_is_lost(
    persistent_redis: PrivateRedis, pg_engine: Engine, tmp_path: Path
) -> None:
    # given the Redis of the runbook (appendonly yes), a long export running on a worker
    # and one waiting behind it
    # when Redis is killed and started again, and another export is asked for
    restart = restart_mid_export(persistent_redis, pg_engine, tmp_path)

    # then the three complete, the waiting one from its own message
    assert restart.stranded.status == "running"
    assert restart.outcomes() == restart.completed()
    assert restart.running.attempts == 1
    assert "requeued" not in [event for event, _ in restart.waiting_events]
    assert running_jobs(sessionmaker(pg_engine)) == 0


@pytest.mark.slow
def test_a_job_whose_message_a_redis_without_persistence_forgot_is_sent_again_and_completes(
    forgetful_redis: PrivateRedis, pg_engine: Engine, tmp_path: Path
) -> None:
    # given a Redis that keeps nothing, a long export running and one waiting behind it
    # when Redis is killed and started again (empty), and another export is asked for
    restart = restart_mid_export(
        forgetful_redis, pg_engine, tmp_path, ROSTERJOBS_RESEND_QUEUED_AFTER_SECONDS="4"
    )

    # then the three complete: the waiting one because the reaper sent its message again
    assert restart.stranded.status == "running"
    assert restart.outcomes() == restart.completed()
    resent = [at for event, at in restart.waiting_events if event == "requeued"]
    assert resent and resent[-1] > restart.crashed_at
    assert restart.waiting_events[-1][0] == "finished"
    assert running_jobs(sessionmaker(pg_engine)) == 0
