"""End to end: a `rosterjobs worker` process on Redis is SIGKILLed in the middle of a long
export; the reaper of a second worker requeues the job, which then completes there.

The timings are shortened through the environment (beat and reap every 0.5 s, a job silent
for 3 s is stuck), and the export is made long with 6,000 students written 10 rows a batch.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, session_factory
from storage.job_events import timeline
from storage.models import Job, WorkerProcess, utcnow
from storage.seed import seed_district
from tests.processes import REDIS_URL, cli_json, service_env, wait_for, worker_process

STUDENTS = 6000
QUICK_REAPER = {
    "ROSTERJOBS_BATCH_ROWS": "10",
    "ROSTERJOBS_EXPORT_PROGRESS_SECONDS": "0",
    "ROSTERJOBS_HEARTBEAT_SECONDS": "0.5",
    "ROSTERJOBS_REAP_SECONDS": "0.5",
    "ROSTERJOBS_STALE_AFTER_SECONDS": "3",
}


def workers_that_ran(sessions: sessionmaker[Session], job_id: str) -> list[str]:
    with sessions() as session:
        rows = session.scalars(select(WorkerProcess))
        return [row.id for row in rows if job_id in row.current_job_ids]


def test_a_worker_killed_mid_export_is_reaped_and_the_export_completes_on_another_worker(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given a long export running on a first worker
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    district = seed_district(engine, name="Killdeer County", students=STUDENTS)
    env = service_env(
        postgres_url,
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
        **QUICK_REAPER,
    )
    with worker_process(env, tmp_path) as first:
        job_id = cli_json(
            env,
            "export",
            "--district",
            str(district.district_id),
            "--as",
            district.district_admin,
            "--entity",
            "students",
            cwd=tmp_path,
        )["id"]
        wait_for(sessions, job_id, lambda job: job.status == "running" and job.processed > 0)
        lost = wait_for_worker(sessions, job_id)

        # when the first worker is killed outright, and a second one starts
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = utcnow()
        first.wait()
    interrupted = wait_for(sessions, job_id, lambda job: True)
    with worker_process(env, tmp_path):
        done = wait_for(sessions, job_id, lambda job: job.status == "completed")

    # then
    with sessions() as session:
        events = timeline(session, job_id)
    requeued = [event for event in events if event.event == "requeued"]
    assert interrupted.processed < STUDENTS
    assert [(e.event, e.attempt) for e in events] == [
        ("created", None),
        ("queued", None),
        ("started", 1),
        ("requeued", 1),
        ("started", 2),
        ("finished", 2),
    ]
    assert requeued[0].detail == f"Its worker {lost} stopped responding."
    assert (done.attempts, done.processed, done.error) == (2, STUDENTS, None)
    assert len(exported_rows(tmp_path / "objects", done)) == STUDENTS
    requeue_delay = (requeued[0].at - killed_at).total_seconds()
    print(f"requeued {requeue_delay:.1f} s after the SIGKILL")
    assert requeue_delay > 0
    engine.dispose()


def wait_for_worker(sessions: sessionmaker[Session], job_id: str) -> str:
    """The id of the worker whose heartbeat reports running the job."""
    deadline = time.monotonic() + 30
    while not (found := workers_that_ran(sessions, job_id)):
        assert time.monotonic() < deadline, "no worker reported the job"
        time.sleep(0.05)
    return found[0]


def exported_rows(objects: Path, job: Job) -> list[dict[str, str]]:
    assert job.result_key is not None
    path = objects / job.result_key
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
