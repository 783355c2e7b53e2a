"""Load: small jobs from 20 districts through one `rosterjobs worker` command of two
worker processes (two threads each), on the shared Redis (the test's own namespace) and
Postgres: exports of each entity, and every tenth job a dry-run import of five new
students. Every job completes, none is lost, none runs twice; the run prints its jobs per
second and its enqueue-to-start latency (p50, p99) from the job records.

The jobs are sent in one burst, as fast as the submit path goes, after the workers have
booted: throughput is first enqueue to last finish, latency each job's `queued_at` to its
`started_at` (time spent waiting behind the burst, and for its district's fair share).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from storage.db import make_engine, session_factory
from tests.load.traffic import (
    ENTITIES,
    NEW_STUDENTS,
    new_students_file,
    percentile,
    portal,
    runs,
    seed_districts,
    wait_for_workers,
    wait_until_finished,
    worker_env,
)
from tests.processes import worker_process

DISTRICTS = 20
STUDENTS = 20
IMPORT_EVERY = 10


@pytest.mark.parametrize(
    "jobs",
    [
        pytest.param(100, id="100-jobs"),
        pytest.param(1000, id="1000-jobs", marks=[pytest.mark.slow, pytest.mark.timeout(1200)]),
    ],
)
def test_small_jobs_from_twenty_districts_through_two_workers_all_complete_exactly_once(
    jobs: int, postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given 20 small districts and two booted worker processes
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    districts = seed_districts(postgres_url, DISTRICTS, students=STUDENTS)
    objects = tmp_path / "objects"
    env = worker_env(postgres_url, redis_namespace, objects)
    with (
        portal(postgres_url, redis_namespace, objects) as sender,
        worker_process(env, tmp_path, processes=2, threads=2),
    ):
        wait_for_workers(sessions, 2)

        # when the districts' admins send `jobs` jobs, round the districts and entities
        files = [new_students_file(sessions, district, tmp_path) for district in districts]
        began = time.monotonic()
        job_ids = [
            sender.dry_run_import(districts[n % DISTRICTS], files[n % DISTRICTS])
            if n % IMPORT_EVERY == IMPORT_EVERY - 1
            else sender.export(districts[n % DISTRICTS], ENTITIES[n % len(ENTITIES)])
            for n in range(jobs)
        ]
        enqueue_s = time.monotonic() - began
        wait_until_finished(sessions, job_ids, timeout=jobs * 1.0 + 60)

    # then every job has its record, completed, started exactly once on its first attempt
    records = runs(sessions, job_ids)
    assert len(records) == jobs
    assert [run for run in records if run.status != "completed"] == []
    assert [run for run in records if (run.started_events, run.attempts) != (1, 1)] == []
    imports = [run for run in records if run.kind == "import"]
    assert len(imports) == jobs // IMPORT_EVERY
    assert {run.counts.get("created") for run in imports} == {NEW_STUDENTS}
    durations = [(run.finished_at - run.started_at).total_seconds() for run in records]
    span_s = (
        max(run.finished_at for run in records) - min(run.queued_at for run in records)
    ).total_seconds()
    waits = [run.wait_s for run in records]
    print(
        f"{jobs} jobs in {span_s:.1f} s: {jobs / span_s:.1f} jobs/s; enqueue to start "
        f"p50 {percentile(waits, 0.50):.2f} s, p99 {percentile(waits, 0.99):.2f} s; "
        f"enqueued at {jobs / enqueue_s:.0f} jobs/s; a job ran {statistics.mean(durations):.2f} s "
        f"on average; "
        f"{sum(1 for run in records if run.deferred_events)} waited for their district's share"
    )
    engine.dispose()
