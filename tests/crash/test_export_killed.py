"""An export whose `rosterjobs worker` is SIGKILLed in the middle is requeued by a second
worker's reaper and written again from the start, on folder storage and on S3 (moto's
server over HTTP). Nobody can see a partial file: a thread of the test looks at the final
key continuously, while the first worker writes and after it is killed, and finds nothing
until the second run's object, complete. That file is byte-identical to an uninterrupted
export of the same district (an export is deterministic), and what the killed writer left
behind is counted: on a folder one temp file beside the key, on S3 one incomplete multipart
upload holding the parts it had sent (see the RUNBOOK's lifecycle rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.export import export_key
from jobs.lifecycle import JobContext
from schemas.jobs import JobStatus
from storage.db import make_engine, session_factory
from storage.models import Job
from storage.seed import SeedSummary, seed_district
from tests.crash.helpers import (
    RECOVERED,
    events,
    export_uninterrupted,
    kill,
    recovery,
    started_at,
    two_workers,
    worker_env,
    worker_running,
)
from tests.crash.stores import FolderTarget, KeyWatch, S3Target, Target
from tests.databases import migrated_database
from tests.processes import cli_json, wait_for
from tests.s3 import S3_REGION

STUDENTS = 3000


@pytest.fixture(params=["folder", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Where the export goes: a folder, or a bucket of moto's server (its fixtures are only
    started for this case)."""
    if request.param == "folder":
        return FolderTarget(tmp_path / "objects")
    env = {
        "AWS_ENDPOINT_URL": request.getfixturevalue("s3_server"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": S3_REGION,
    }
    client, bucket = request.getfixturevalue("s3_client"), request.getfixturevalue("s3_bucket")
    return S3Target(client, bucket, "district-files", env)


@pytest.fixture(scope="module")
def million_students() -> Iterator[tuple[str, SeedSummary]]:
    """A 1,000,000-student district in a database of its own, seeded once for the module."""
    with migrated_database("million") as url:
        engine = make_engine(url)
        district = seed_district(engine, name="Million Oaks", students=1_000_000)
        engine.dispose()
        yield url, district


@dataclass(frozen=True)
class Crash:
    job_id: str
    key: str
    killed_at: dt.datetime
    processed: int
    """Rows the first worker had written when it was killed."""
    watch: KeyWatch


def test_an_export_killed_midway_appears_only_complete_and_as_an_uninterrupted_one_would(
    postgres_url: str, target: Target, tmp_path: Path, redis_namespace: str
) -> None:
    # given a district of a few thousand students, exported 4 rows a batch
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    district = seed_district(engine, name="Killdeer Falls", students=STUDENTS)
    env = worker_env(postgres_url, target.storage_url, redis_namespace, batch_rows=4, **target.env)

    # when its export's worker is killed a quarter of the way, and a second worker finishes
    crash = export_killed(env, sessions, district, tmp_path, target, after=STUDENTS // 4)
    reference = export_key(export_uninterrupted(context(sessions, target, 1000), district))

    # then
    print(recovery(sessions, crash.job_id, crash.killed_at).line(
        "export", STUDENTS, crash.processed
    ))  # fmt: skip
    assert_export_recovered(sessions, crash, target, STUDENTS)
    assert target.read(crash.key) == target.read(reference)
    assert target.leftovers(reference) == []
    engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_1000000_student_export_killed_midway_appears_only_complete_and_identical(
    million_students: tuple[str, SeedSummary], target: Target, tmp_path: Path,
    redis_namespace: str,
) -> None:  # fmt: skip
    # given a million students, exported 1,000 rows a batch
    url, district = million_students
    engine = make_engine(url)
    sessions = session_factory(engine)
    env = worker_env(url, target.storage_url, redis_namespace, batch_rows=1000, **target.env)

    # when
    crash = export_killed(env, sessions, district, tmp_path, target, after=400_000, timeout=900)
    reference = export_key(export_uninterrupted(context(sessions, target, 1000), district))

    # then
    print(recovery(sessions, crash.job_id, crash.killed_at).line(
        "export", 1_000_000, crash.processed
    ))  # fmt: skip
    print(f"left by the killed writer: {target.leftovers(crash.key)}")
    assert_export_recovered(sessions, crash, target, 1_000_000)
    assert target.read(crash.key) == target.read(reference)
    assert target.leftovers(reference) == []
    engine.dispose()


# --- when --------------------------------------------------------------------------------


def export_killed(
    env: dict[str, str],
    sessions: sessionmaker[Session],
    district: SeedSummary,
    tmp_path: Path,
    target: Target,
    *,
    after: int,
    timeout: float = 120,
) -> Crash:
    """Export on two workers, the final key watched from the moment the job exists; the
    one running the job is SIGKILLed once `after` rows are written, the other finishes."""
    with two_workers(env, tmp_path, sessions) as workers:
        job_id = cli_json(env, "export", *_who(district), cwd=tmp_path)["id"]
        key = export_key(_job(sessions, job_id))
        with KeyWatch(target, key) as watch:
            running = worker_running(sessions, job_id, workers)
            wait_for(sessions, job_id, lambda job: job.processed >= after, timeout=timeout)
            killed_at = kill(running)
            processed = _job(sessions, job_id).processed
            wait_for(sessions, job_id, lambda job: bool(job.finished_at), timeout=timeout)
            watch.wait_seen(timeout=30)
    return Crash(job_id, key, killed_at, processed, watch)


def context(sessions: sessionmaker[Session], target: Target, batch_rows: int) -> JobContext:
    return JobContext(sessions=sessions, store=target.store(), batch_rows=batch_rows)


def _who(district: SeedSummary) -> tuple[str, ...]:
    return (
        "--district", str(district.district_id), "--as", district.district_admin,
        "--entity", "students", "--all-columns",
    )  # fmt: skip


def _job(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


# --- then --------------------------------------------------------------------------------


def assert_export_recovered(
    sessions: sessionmaker[Session], crash: Crash, target: Target, students: int
) -> None:
    """Killed midway, requeued once, written again; the key stayed empty until the second
    run had written its object, which was complete when first seen."""
    done = _job(sessions, crash.job_id)
    restarted = started_at(sessions, crash.job_id, attempt=2)
    watch = crash.watch
    assert 0 < crash.processed < students
    assert events(sessions, crash.job_id) == RECOVERED
    assert (done.status, done.attempts) == (JobStatus.COMPLETED.value, 2)
    assert done.counts == {"rows": students}
    assert watch.first is not None
    assert watch.first.at > restarted, "an object was at the final key before the second run"
    assert watch.first.content == target.read(crash.key)
    assert len(watch.first.content.splitlines()) == students + 1
    assert watch.looks_between(watch.looks[0], crash.killed_at) > 0
    assert watch.looks_between(crash.killed_at, restarted) > 0
    leftovers = target.leftovers(crash.key)
    if isinstance(target, S3Target):
        # the killed writer's multipart upload waits for the bucket's lifecycle rule
        assert len(leftovers) == 1 and leftovers[0].size < len(watch.first.content)
    else:
        assert leftovers == [], "the second run's write did not remove the killed one's temp file"
