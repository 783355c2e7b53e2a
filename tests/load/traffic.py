"""Traffic for the load and fair-share runs: jobs submitted the way the CLI and the API
submit them, and what the job records say about how they ran.

`Portal` enqueues through `worker.submit` (`export_job` and `import_job` record the job
through `jobs.requests`, an import's file uploaded to storage; `enqueue` sends its message)
on a Redis broker of the test's namespace, from the test process. Spawning
`rosterjobs export` once per job would cost a process start each (about a second of CPU),
so 1,000 jobs would measure the CLI's start-up rather than the workers; the HTTP API would
add a server process sharing the same two cores with the workers. The broker here only
sends: its actors are declared on it alone (not on dramatiq's global broker), and never
run in the test process.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.requests import ExportRequest, ImportRequest
from schemas.jobs import JobStatus
from storage.db import make_engine, session_factory
from storage.models import Job, JobEvent, School, WorkerProcess
from storage.objects import FolderStore
from storage.seed import SeedSummary, seed_district
from tests.processes import REDIS_URL, service_env
from worker.runtime import Runtime, job_context
from worker.settings import Settings
from worker.submit import EXPORT_ACTOR, IMPORT_ACTOR, enqueue, export_job, import_job

ENTITIES = ("students", "educators", "classes")

NEW_STUDENTS = 5
HEADER = (
    "Database ID",
    "First Name",
    "Last Name",
    "Username",
    "Password",
    "External Assigned ID",
    "Grade",
    "Organizations",
)


@dataclass(frozen=True)
class Portal:
    """Submits jobs as the district admins of seeded districts would."""

    runtime: Runtime

    def export(self, district: SeedSummary, entity: str = "students") -> str:
        request = ExportRequest(
            district=str(district.district_id), username=district.district_admin, entity=entity
        )
        job_id = export_job(self.runtime, request)
        enqueue(self.runtime, EXPORT_ACTOR, job_id)
        return job_id

    def dry_run_import(self, district: SeedSummary, path: Path) -> str:
        request = ImportRequest(
            district=str(district.district_id),
            username=district.district_admin,
            entity="students",
            dry_run=True,
            filename=path.name,
        )
        job_id = import_job(self.runtime, request, path)
        enqueue(self.runtime, IMPORT_ACTOR, job_id)
        return job_id


def new_students_file(sessions: sessionmaker[Session], district: SeedSummary, folder: Path) -> Path:
    """A students file of `NEW_STUDENTS` new students at the district's first school."""
    with sessions() as session:
        school = session.scalars(
            select(School.name).where(School.district_id == district.district_id).limit(1)
        ).one()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    for n in range(NEW_STUDENTS):
        username = f"newcomer{n}.d{district.district_id}"
        external_id = f"NEW-{district.district_id}-{n}"
        writer.writerow(
            ("", "Newcomer", f"Number{n}", username, f"tulip{n}99", external_id, "3", school)
        )
    path = folder / f"new-students-{district.district_id}.csv"
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


@contextmanager
def portal(database_url: str, namespace: str, objects: Path) -> Iterator[Portal]:
    settings = Settings(
        database_url=database_url,
        broker_url=REDIS_URL,
        storage_url=str(objects),
        secret_key="test-secret-key-not-for-production",
        base_dir=objects.parent,
        queue_namespace=namespace,
    )
    broker = RedisBroker(url=REDIS_URL, namespace=namespace, middleware=[])  # type: ignore[no-untyped-call]
    for actor_name, queue in ((EXPORT_ACTOR, "exports"), (IMPORT_ACTOR, "imports")):
        dramatiq.actor(_runs_in_workers, broker=broker, actor_name=actor_name, queue_name=queue)
    engine = make_engine(database_url)
    jobs = job_context(settings, session_factory(engine), FolderStore(objects))
    try:
        yield Portal(Runtime(settings, broker, engine, jobs))
    finally:
        broker.close()
        engine.dispose()


def _runs_in_workers(job_id: str) -> None:
    raise AssertionError("jobs run in the rosterjobs worker processes, not in the test")


def worker_env(database_url: str, namespace: str, objects: Path, **extra: str) -> dict[str, str]:
    return service_env(
        database_url,
        str(objects),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=namespace,
        **extra,
    )


def wait_for_workers(sessions: sessionmaker[Session], count: int, *, timeout: float = 60) -> None:
    """Until `count` worker processes have registered (booted and ready to fetch)."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as session:
            live = session.scalars(
                select(WorkerProcess.id).where(WorkerProcess.stopped_at.is_(None))
            ).all()
        if len(live) >= count:
            return
        assert time.monotonic() < deadline, f"{len(live)} of {count} workers registered"
        time.sleep(0.2)


def seed_districts(database_url: str, count: int, *, students: int) -> list[SeedSummary]:
    engine = make_engine(database_url)
    try:
        return [
            seed_district(engine, name=f"Load District {n:02}", students=students, random_seed=n)
            for n in range(1, count + 1)
        ]
    finally:
        engine.dispose()


# --- what the job records say ---------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One job as its record tells it (times in UTC)."""

    id: str
    kind: str
    district_id: int
    status: str
    error: str | None
    counts: dict[str, int]
    attempts: int
    queued_at: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime
    started_events: int
    deferred_events: int

    @property
    def wait_s(self) -> float:
        """Enqueue to start: what the person who pressed Export waited for the job to begin."""
        return (self.started_at - self.queued_at).total_seconds()


def wait_until_finished(
    sessions: sessionmaker[Session], job_ids: Sequence[str], *, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    finished = [status.value for status in JobStatus if status.finished]
    while True:
        with sessions() as session:
            done = session.scalars(
                select(Job.id).where(Job.id.in_(list(job_ids)), Job.status.in_(finished))
            ).all()
        if len(done) == len(job_ids):
            return
        assert time.monotonic() < deadline, f"{len(job_ids) - len(done)} jobs still unfinished"
        time.sleep(0.5)


def runs(sessions: sessionmaker[Session], job_ids: Sequence[str]) -> list[Run]:
    """Every job of `job_ids` that has a record, with its started and deferred events."""
    with sessions() as session:
        jobs = session.scalars(select(Job).where(Job.id.in_(list(job_ids)))).all()
        events = session.execute(
            select(JobEvent.job_id, JobEvent.event).where(JobEvent.job_id.in_(list(job_ids)))
        ).all()
    return [_run(job, [event for job_id, event in events if job_id == job.id]) for job in jobs]


def _run(job: Job, events: list[str]) -> Run:
    assert job.queued_at and job.started_at and job.finished_at, job.status
    return Run(
        id=job.id,
        kind=job.kind,
        district_id=job.district_id,
        status=job.status,
        error=job.error,
        counts=dict(job.counts),
        attempts=job.attempts,
        queued_at=_utc(job.queued_at),
        started_at=_utc(job.started_at),
        finished_at=_utc(job.finished_at),
        started_events=events.count("started"),
        deferred_events=events.count("deferred"),
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def most_running_at_once(district_runs: Sequence[Run]) -> int:
    """The largest number of these jobs running at one moment (a job's end comes before
    another's start at the same instant: the slot was free)."""
    edges: list[tuple[dt.datetime, int]] = []
    for run in district_runs:
        edges += [(run.started_at, 1), (run.finished_at, -1)]
    most = running = 0
    for _, step in sorted(edges):
        running += step
        most = max(most, running)
    return most


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least `share` of them reach."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * share)) - 1]
