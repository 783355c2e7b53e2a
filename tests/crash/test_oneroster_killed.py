"""A OneRoster import whose `rosterjobs worker` is SIGKILLed in the middle of a batch of its
students is requeued by a second worker's reaper and resumes after its last committed
batch: the job, its reports and the roster are then what an uninterrupted import of the
same set gives on a twin database seeded the same way."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from jobs.oneroster_report import number
from schemas.jobs import JobStatus
from storage.db import make_engine, session_factory, unit_of_work
from storage.objects import FolderStore
from tests import factories
from tests.crash.helpers import RECOVERED, events, kill, two_workers, worker_env, worker_running
from tests.crash.test_import_killed import wait_for_batch_in_flight
from tests.factories import SmallDistrict
from tests.oneroster.importing import finished_set, import_set
from tests.oneroster.test_import import csv_rows, sis_set
from tests.processes import cli_json, wait_for

STUDENTS = 600
BATCH_ROWS = 20


def big_set() -> bytes:
    """A school, ten classes with a teacher each, `STUDENTS` students enrolled in them."""
    users = "sourcedId,status,orgSourcedIds,role,username,givenName,familyName,identifier,"
    users += "email,grades\n"
    classes = "sourcedId,status,title,schoolSourcedId,classCode\n"
    enrollments = "sourcedId,status,classSourcedId,schoolSourcedId,userSourcedId,role\n"
    for k in range(10):
        classes += f"K{k},active,Class {k},S1,C-{k}\n"
        users += f"T{k},active,S1,teacher,t{k},Tea,Cher{k},,t{k}@school.example.org,\n"
        enrollments += f"ET{k},active,K{k},S1,T{k},teacher\n"
    for n in range(STUDENTS):
        users += f"U{n},active,S1,student,pupil{n},Pupil,Number{n},{700000 + n},,0{n % 9 + 1}\n"
        enrollments += f"E{n},active,K{n % 10},S1,U{n},student\n"
    files = {
        "orgs.csv": "sourcedId,status,name,type,parentSourcedId\nS1,active,Hilltop,school,\n",
        "classes.csv": classes,
        "users.csv": users,
        "enrollments.csv": enrollments,
    }
    return sis_set(files)


def roster_in(url: str) -> tuple[sessionmaker[Session], SmallDistrict]:
    sessions = session_factory(make_engine(url))
    with unit_of_work(sessions) as session:
        return sessions, factories.small_district(session)


def test_a_oneroster_import_killed_mid_batch_ends_as_if_it_had_never_stopped(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given the same roster in two databases, and a set of some 1,300 rows
    sessions, roster = roster_in(postgres_url)
    twin_sessions, twin = roster_in(twin_postgres_url)
    path = tmp_path / "roster.zip"
    path.write_bytes(big_set())
    objects = tmp_path / "objects"
    env = worker_env(postgres_url, str(objects), redis_namespace, batch_rows=BATCH_ROWS)
    who = ("--district", str(roster.district.id), "--as", roster.district_admin.username)

    # when the worker is killed while it writes a batch of the students, past the first
    # hundred, and a second worker finishes the job
    with two_workers(env, tmp_path, sessions) as workers:
        job_id = cli_json(env, "import", str(path), *who, "--format", "oneroster", cwd=tmp_path)[
            "id"
        ]
        running = worker_running(sessions, job_id, workers)
        wait_for(sessions, job_id, lambda job: job.checkpoint >= number(5, 100), timeout=120)
        watcher = make_engine(postgres_url)
        wait_for_batch_in_flight(watcher)
        watcher.dispose()
        kill(running)
        stopped = wait_for(sessions, job_id, lambda job: True)
        assert stopped.status == JobStatus.RUNNING.value
        wait_for(sessions, job_id, lambda job: bool(job.finished_at), timeout=120)

    # and the twin imports the same set without interruption
    twin_ctx = JobContext(
        sessions=twin_sessions, store=FolderStore(tmp_path / "twin"), batch_rows=BATCH_ROWS
    )
    reference = import_set(
        twin_ctx, twin.district.id, twin.district_admin.username, path.read_bytes()
    )

    # then
    ctx = JobContext(sessions=sessions, store=FolderStore(objects), batch_rows=BATCH_ROWS)
    resumed = finished_set(ctx, job_id)
    assert events(sessions, job_id) == RECOVERED
    assert resumed.job.status == reference.job.status == JobStatus.COMPLETED.value
    assert (resumed.job.attempts, resumed.job.processed) == (2, reference.job.processed)
    assert resumed.job.counts == reference.job.counts
    assert resumed.job.counts_by_file == reference.job.counts_by_file
    assert resumed.results == reference.results
    for entity in ("students", "classes", "educators"):
        assert csv_rows(ctx, roster, entity) == csv_rows(twin_ctx, twin, entity), entity
