"""Postgres faults under a `rosterjobs worker` process: its backends killed in the middle of an
import's batch (`pg_terminate_backend`, only those of this test session's own database), and
the database out of its reach for longer than every retry (through a `FaultProxy`).

A killed batch rolls back; the job goes back to `queued` and is retried with backoff; the
engine's pre-ping gives the next transaction a fresh connection; the retry resumes after the
last committed batch. The outcome is the one an uninterrupted run reports.

When the database itself is gone, the worker cannot even write that the job failed: the
job's record stays `running` while its heartbeat ages, and the broker's retries run out.
Once the database is back, the reaper of any worker finds the silent job and requeues it
(or fails it, when its attempts are used up): it never stays `running`.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import JobContext, mark_queued, run_job
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from storage.db import unit_of_work
from storage.job_events import timeline
from storage.models import ImportChange, ImportRowResult, Job, Student
from storage.objects import FolderStore
from storage.seed import SeedSummary, seed_district
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.services import QUICK_RETRIES, finished
from tests.importing import read_csv
from tests.processes import REDIS_URL, cli_json, service_env, wait_for, worker_process

STUDENTS = 1500
BATCH_ROWS = "50"
"""The worker commits 30 batches of 50 rows."""
REFUSED_EVERY = 10
"""Every tenth row gets grade 13, which the import refuses."""
EXPECTED_COUNTS = {
    "created": 0,
    "updated": STUDENTS - STUDENTS // REFUSED_EVERY,
    "unchanged": 0,
    "failed": STUDENTS // REFUSED_EVERY,
}

BATCH_IN_FLIGHT = text(
    """
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND state IN ('active', 'idle in transaction') AND backend_xid IS NOT NULL
      AND (query ILIKE '%students%' OR query ILIKE '%import_%')
    """
)
TERMINATE_OTHERS = text(
    """
    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
    """
)


def in_process(sessions: sessionmaker[Session], objects: Path) -> JobContext:
    """Jobs run in this process, on the same database and object folder as the worker."""
    return JobContext(sessions=sessions, store=FolderStore(objects))


def edited_export(ctx: JobContext, district: SeedSummary, cwd: Path) -> Path:
    """The district's students as exported, every last name changed, every tenth grade
    made impossible."""
    request = ExportRequest(
        district=str(district.district_id), username=district.district_admin, entity="students"
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    exported = read_csv(ctx.store, result_key_of(ctx, job_id))
    for number, row in enumerate(exported):
        row["Last Name"] = f"{row['Last Name']}-Hale"
        if number % REFUSED_EVERY == 0:
            row["Grade"] = "13"
    edited = cwd / "edited.csv"
    with edited.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(exported[0]))
        writer.writeheader()
        writer.writerows(exported)
    return edited


def rehearsal(ctx: JobContext, district: SeedSummary, path: Path) -> Job:
    """The file imported as a dry run, uninterrupted: what the interrupted run must report."""
    request = ImportRequest(
        district=str(district.district_id),
        username=district.district_admin,
        entity="students",
        dry_run=True,
    )
    with unit_of_work(ctx.sessions) as session:
        job = submit_import(session, request)
        job_id, key = job.id, job.input_key or ""
    ctx.store.put_file(key, path)
    with unit_of_work(ctx.sessions) as session:
        queued = session.get(Job, job_id)
        assert queued is not None
        mark_queued(session, queued)
    run_job(ctx, job_id, run_import)
    with ctx.sessions() as session:
        done = session.get(Job, job_id)
        assert done is not None
        return done


def result_key_of(ctx: JobContext, job_id: str) -> str | None:
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.result_key


def import_file(env: dict[str, str], district: SeedSummary, path: Path) -> str:
    who = ("--district", str(district.district_id), "--as", district.district_admin)
    job = cli_json(env, "import", str(path), *who, "--entity", "students", cwd=path.parent)
    return str(job["id"])


def kill_backends_mid_batch(engine: Engine, timeout: float = 60) -> int:
    """Once a backend is in the middle of a batch's writes, terminate every other backend of
    this database; answers how many."""
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while not connection.execute(BATCH_IN_FLIGHT).first():
            assert time.monotonic() < deadline, "no batch was seen in flight"
            connection.rollback()
            time.sleep(0.005)
        return int(connection.execute(TERMINATE_OTHERS).scalar_one())


def report(objects: Path, key: str | None) -> list[tuple[str, str, str]]:
    """The result file's `Row`, `Result` and `Errors` columns."""
    assert key is not None
    rows = csv.DictReader(io.StringIO((objects / key).read_text("utf-8-sig"), newline=""))
    return [(row["Row"], row["Result"], row["Errors"]) for row in rows]


def suffixes(sessions: sessionmaker[Session], district_id: int) -> Counter[int]:
    """How many students' last names carry no, one or two `-Hale` suffixes."""
    with sessions() as session:
        names = session.scalars(select(Student.last_name).where(Student.district_id == district_id))
        return Counter(name.count("-Hale") for name in names)


def changes_per_row(sessions: sessionmaker[Session], job_id: str) -> dict[int, int]:
    """How many rows were applied once, twice… (from the audit of changed values)."""
    with sessions() as session:
        per_row = (
            select(ImportChange.record_id, func.count().label("n"))
            .where(ImportChange.job_id == job_id)
            .group_by(ImportChange.record_id)
            .subquery()
        )
        grouped = select(per_row.c.n, func.count()).group_by(per_row.c.n)
        return {int(times): int(rows) for times, rows in session.execute(grouped)}


def row_results(sessions: sessionmaker[Session], job_id: str) -> int:
    with sessions() as session:
        statement = select(func.count()).where(ImportRowResult.job_id == job_id)
        return session.scalar(statement) or 0


def test_backends_killed_mid_batch_roll_the_batch_back_and_the_retry_resumes_to_the_same_outcome(
    pg_engine: Engine, pg_sessions: sessionmaker[Session], tmp_path: Path, redis_namespace: str
) -> None:
    # given an edited file of 1,500 students, and its outcome from an uninterrupted dry run
    url = pg_engine.url.render_as_string(hide_password=False)
    district = seed_district(pg_engine, name="Quarry Hill", students=STUDENTS)
    here = in_process(pg_sessions, tmp_path / "objects")
    edited = edited_export(here, district, tmp_path)
    uninterrupted = rehearsal(here, district, edited)
    env = service_env(url, str(tmp_path / "objects"), **QUICK_RETRIES)
    env |= {"ROSTERJOBS_BATCH_ROWS": BATCH_ROWS}
    env |= {"ROSTERJOBS_BROKER_URL": REDIS_URL, "ROSTERJOBS_QUEUE_NAMESPACE": redis_namespace}

    with worker_process(env, tmp_path) as worker:
        # when the worker's backends are terminated while it writes a batch
        job_id = import_file(env, district, edited)
        killed = kill_backends_mid_batch(pg_engine)
        job = wait_for(pg_sessions, job_id, finished)
        assert worker.poll() is None, "the worker process itself kept running"

    # then the job was retried once and reports what the uninterrupted run reported
    with pg_sessions() as session:
        events = [(e.event, e.attempt, e.detail or "") for e in timeline(session, job_id)]
    retries = [detail for event, _, detail in events if event == "retry_scheduled"]
    assert killed >= 1
    assert job.status == "completed_with_errors", job.error
    assert job.counts == uninterrupted.counts == EXPECTED_COUNTS
    assert len(retries) == 1 and retries[0].startswith("The database did not answer")
    assert job.attempts == 2
    assert report(tmp_path / "objects", job.result_key) == report(
        tmp_path / "objects", uninterrupted.result_key
    )
    # and no row was applied twice
    assert row_results(pg_sessions, job_id) == STUDENTS
    assert changes_per_row(pg_sessions, job_id) == {1: STUDENTS - STUDENTS // REFUSED_EVERY}
    assert suffixes(pg_sessions, district.district_id) == {
        0: STUDENTS // REFUSED_EVERY,
        1: STUDENTS - STUDENTS // REFUSED_EVERY,
    }


@pytest.mark.slow
def test_a_database_gone_past_every_retry_leaves_a_job_that_completes_once_it_is_back(
    pg_engine: Engine, pg_sessions: sessionmaker[Session], tmp_path: Path, redis_namespace: str
) -> None:
    # given a worker that reaches the database through a proxy, importing an edited file
    url = pg_engine.url
    district = seed_district(pg_engine, name="Flint Ridge", students=STUDENTS)
    edited = edited_export(in_process(pg_sessions, tmp_path / "objects"), district, tmp_path)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = service_env(proxied, str(tmp_path / "objects"), **QUICK_RETRIES)
    env |= {"ROSTERJOBS_BATCH_ROWS": BATCH_ROWS, "ROSTERJOBS_BROKER_URL": REDIS_URL}
    env |= {"ROSTERJOBS_QUEUE_NAMESPACE": redis_namespace}
    dead_letters = redis.Redis.from_url(REDIS_URL)
    try:
        with worker_process(env, tmp_path):
            job_id = import_file(env, district, edited)
            wait_for(pg_sessions, job_id, lambda job: job.checkpoint > 0)

            # when the database stops answering until the broker has given up the message
            proxy.fail_all(Fault.DROP)
            deadline = time.monotonic() + 120
            while not dead_letters.zcard(f"{redis_namespace}:imports.XQ"):
                assert time.monotonic() < deadline, "the broker never gave the message up"
                time.sleep(0.2)
            stranded = wait_for(pg_sessions, job_id, lambda job: True)

            # and then comes back
            proxy.heal()
            job = wait_for(pg_sessions, job_id, finished)
    finally:
        proxy.close()

    # then the job, left running while the database was away, was requeued and completed
    with pg_sessions() as session:
        events = [(e.event, e.attempt) for e in timeline(session, job_id)]
    assert stranded.status == "running"
    assert job.status == "completed_with_errors", job.error
    assert job.counts == EXPECTED_COUNTS
    assert ("requeued", 1) in events and events[-1] == ("finished", 2)
    assert changes_per_row(pg_sessions, job_id) == {1: STUDENTS - STUDENTS // REFUSED_EVERY}
