"""An import whose `rosterjobs worker` is SIGKILLed in the middle of a batch, some batches
after the start, is requeued by a second worker's reaper and resumes after its last
committed batch. Everything a user can see must then be what an uninterrupted run of the
same file gives on a twin of the roster (a second database seeded the same way): the
students, their schools and classes, the counts, the result and errors files, the audit
trail, one result per row, no new student twice.

The import file is the district's own export, edited (`tests.crash.import_file`). Timings are
shortened through the environment and batches kept small, so the job has many checkpoints.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from schemas.jobs import JobStatus
from storage.db import make_engine, session_factory
from storage.models import Job
from storage.objects import FolderStore
from storage.seed import SeedSummary, seed_district
from tests.crash import stored
from tests.crash.helpers import (
    RECOVERED,
    events,
    export_uninterrupted,
    import_uninterrupted,
    kill,
    recovery,
    two_workers,
    worker_env,
    worker_running,
)
from tests.crash.import_file import ImportFile, edited_export
from tests.processes import cli_json, wait_for

BATCH_IN_FLIGHT = text(
    "SELECT count(*) FROM pg_locks"
    " WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND relation = 'students'::regclass"
)
"""Another session has written students and not committed yet: a batch is in flight."""


@dataclass(frozen=True)
class Roster:
    """One copy of the district: its database, its object folder, its processes' settings."""

    engine: Engine
    sessions: sessionmaker[Session]
    env: dict[str, str]
    objects: Path
    district: SeedSummary
    seeded_up_to: int
    """The last Database ID the seeding gave; the import's new students come after it."""
    batch_rows: int

    def who(self) -> tuple[str, ...]:
        return ("--district", str(self.district.district_id), "--as", self.district.district_admin)

    def job(self, job_id: str) -> Job:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def object_bytes(self, key: str | None) -> bytes | None:
        return None if key is None else (self.objects / key).read_bytes()

    def context(self) -> JobContext:
        """What a worker of this roster's settings runs jobs with."""
        store = FolderStore(self.objects)
        return JobContext(sessions=self.sessions, store=store, batch_rows=self.batch_rows)

    def students(self) -> Any:
        district_id = self.district.district_id
        return stored.students(self.engine, district_id, seeded_up_to=self.seeded_up_to)


@dataclass(frozen=True)
class Crash:
    job_id: str
    killed_at: dt.datetime
    checkpoint: int
    """The last row committed when the worker was killed."""


def test_an_import_killed_mid_batch_ends_as_if_it_had_never_stopped(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given two identical rosters, and a few thousand edited rows of their export
    urls = (postgres_url, twin_postgres_url)
    killed, twin = twin_rosters(urls, tmp_path, redis_namespace, students=2000, batch_rows=50)
    path, edits = import_file(killed, tmp_path, creates=8, password_changes=4)

    # when the worker is killed in a batch past the first third and a second one finishes,
    # and the twin imports the same file without interruption
    crash = import_killed(killed, tmp_path, path, after_row=edits.rows // 3)
    reference = import_uninterrupted(twin.context(), twin.district, path).id

    # then
    print(recovery(killed.sessions, crash.job_id, crash.killed_at).line(
        "import", edits.rows, crash.checkpoint - 1
    ))  # fmt: skip
    assert_recovered(killed, crash, edits)
    assert_same_outcome(killed, crash.job_id, twin, reference, edits)
    killed.engine.dispose()
    twin.engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_200000_row_import_killed_mid_batch_ends_as_if_it_had_never_stopped(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given two identical 200,000-student rosters, and their export edited
    urls = (postgres_url, twin_postgres_url)
    killed, twin = twin_rosters(urls, tmp_path, redis_namespace, students=200_000, batch_rows=1000)
    path, edits = import_file(killed, tmp_path, creates=40, password_changes=20)

    # when
    crash = import_killed(killed, tmp_path, path, after_row=edits.rows // 3, timeout=900)
    reference = import_uninterrupted(twin.context(), twin.district, path).id

    # then
    print(recovery(killed.sessions, crash.job_id, crash.killed_at).line(
        "import", edits.rows, crash.checkpoint - 1
    ))  # fmt: skip
    assert_recovered(killed, crash, edits)
    assert_same_outcome(killed, crash.job_id, twin, reference, edits)
    killed.engine.dispose()
    twin.engine.dispose()


# --- given -------------------------------------------------------------------------------


def twin_rosters(
    urls: tuple[str, str], tmp_path: Path, namespace: str, *, students: int, batch_rows: int
) -> tuple[Roster, Roster]:
    """The same district seeded in both databases, checked identical before anything runs."""
    first, second = (
        _seeded(url, tmp_path / f"objects-{n}", namespace, students, batch_rows)
        for n, url in enumerate(urls)
    )
    assert first.district == second.district
    assert first.seeded_up_to == second.seeded_up_to
    assert stored.differences(first.students(), second.students()) == []
    district_id = first.district.district_id
    assert stored.differences(
        stored.memberships(first.engine, district_id),
        stored.memberships(second.engine, district_id),
    ) == []  # fmt: skip
    return first, second


def _seeded(url: str, objects: Path, namespace: str, students: int, batch_rows: int) -> Roster:
    engine = make_engine(url)
    district = seed_district(engine, name="Twin Pines Unified", students=students)
    env = worker_env(url, str(objects), namespace, batch_rows=batch_rows)
    last_id = stored.last_student_id(engine)
    return Roster(engine, session_factory(engine), env, objects, district, last_id, batch_rows)


def import_file(
    copy: Roster, tmp_path: Path, *, creates: int, password_changes: int
) -> tuple[Path, ImportFile]:
    """The district's all-columns export, edited, written to a file."""
    data = copy.object_bytes(export_uninterrupted(copy.context(), copy.district).result_key)
    assert data is not None
    edits = edited_export(data, creates=creates, password_changes=password_changes)
    path = tmp_path / "students-edited.csv"
    path.write_bytes(edits.data)
    return path, edits


# --- when --------------------------------------------------------------------------------


def import_killed(
    copy: Roster, tmp_path: Path, path: Path, *, after_row: int, timeout: float = 120
) -> Crash:
    """Import on two workers; the one running the job is SIGKILLed mid-batch once
    `after_row` is committed, and the other one finishes the job."""
    with two_workers(copy.env, tmp_path, copy.sessions) as workers:
        job_id = cli_json(
            copy.env, "import", str(path), *copy.who(), "--entity", "students", cwd=tmp_path
        )["id"]
        running = worker_running(copy.sessions, job_id, workers)
        wait_for(copy.sessions, job_id, lambda job: job.checkpoint >= after_row, timeout=timeout)
        wait_for_batch_in_flight(copy.engine)
        killed_at = kill(running)
        stopped = copy.job(job_id)
        assert stopped.status == JobStatus.RUNNING.value
        wait_for(copy.sessions, job_id, lambda job: bool(job.finished_at), timeout=timeout)
    return Crash(job_id, killed_at, stopped.checkpoint)


def wait_for_batch_in_flight(engine: Engine, timeout: float = 30) -> None:
    """Return as soon as the worker is between a batch's first write and its commit."""
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while not connection.execute(BATCH_IN_FLIGHT).scalar():
            connection.rollback()
            assert time.monotonic() < deadline, "no batch was seen writing"
            time.sleep(0.002)


# --- then --------------------------------------------------------------------------------


def assert_recovered(copy: Roster, crash: Crash, edits: ImportFile) -> None:
    """Killed past the first third and before the end, requeued once, resumed, every row
    processed once."""
    done = copy.job(crash.job_id)
    assert 1 < crash.checkpoint < edits.rows + 1
    assert events(copy.sessions, crash.job_id) == RECOVERED
    assert done.status == JobStatus.COMPLETED_WITH_ERRORS.value, done.error
    assert (done.attempts, done.total, done.processed) == (2, edits.rows, edits.rows)
    assert done.counts == edits.expected


def assert_same_outcome(
    killed: Roster, killed_job: str, twin: Roster, twin_job: str, edits: ImportFile
) -> None:
    """What users and auditors see is the same as after the uninterrupted run."""
    ours, theirs = killed.job(killed_job), twin.job(twin_job)
    district_id = killed.district.district_id
    assert ours.counts == theirs.counts
    assert killed.object_bytes(ours.result_key) == twin.object_bytes(theirs.result_key)
    assert killed.object_bytes(ours.error_report_key) == twin.object_bytes(theirs.error_report_key)
    assert stored.differences(killed.students(), twin.students()) == []
    assert stored.differences(
        stored.memberships(killed.engine, district_id),
        stored.memberships(twin.engine, district_id),
    ) == []  # fmt: skip
    assert stored.differences(
        stored.changes(killed.engine, killed_job), stored.changes(twin.engine, twin_job)
    ) == []  # fmt: skip
    assert stored.repeated_changes(killed.engine, killed_job) == []
    assert stored.differences(
        stored.row_results(killed.engine, killed_job), stored.row_results(twin.engine, twin_job)
    ) == []  # fmt: skip
    assert sum(1 for _ in stored.row_results(killed.engine, killed_job)) == edits.rows
    holders = stored.students_named(killed.engine, district_id, edits.passwords)
    assert set(holders.values()) == {1}
    assert stored.wrong_passwords(killed.engine, district_id, edits.passwords) == []
