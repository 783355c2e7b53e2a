"""What the crash tests share: workers with quick reaper timings, waiting on a job, the
SIGKILL itself, and how long the recovery took, read from the job's own timeline."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import JobContext, mark_queued, run_job
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from storage.db import unit_of_work
from storage.job_events import timeline
from storage.models import Job, WorkerProcess, utcnow
from storage.seed import SeedSummary
from tests.processes import REDIS_URL, service_env, worker_process

QUICK_REAPER = {
    "ROSTERJOBS_HEARTBEAT_SECONDS": "0.5",
    "ROSTERJOBS_REAP_SECONDS": "0.5",
    "ROSTERJOBS_STALE_AFTER_SECONDS": "3",
}
"""Beat and reap every 0.5 s, and a job silent for 3 s is stuck (defaults: 10, 20, 60 s)."""

RECOVERED = [
    ("created", None),
    ("queued", None),
    ("started", 1),
    ("requeued", 1),
    ("started", 2),
    ("finished", 2),
]
"""The timeline of a job whose first worker was killed and whose second one finished it."""


def worker_env(
    database_url: str, storage_url: str, namespace: str, *, batch_rows: int, **extra: str
) -> dict[str, str]:
    """Settings of `rosterjobs` processes on the Redis broker, with the quick reaper."""
    return service_env(
        database_url,
        storage_url,
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=namespace,
        ROSTERJOBS_BATCH_ROWS=str(batch_rows),
        ROSTERJOBS_EXPORT_PROGRESS_SECONDS="0",
        **QUICK_REAPER,
        **extra,
    )


def embedded(env: dict[str, str]) -> dict[str, str]:
    """The same settings without the broker: a CLI command then runs its job itself, to
    its end."""
    return {key: value for key, value in env.items() if key != "ROSTERJOBS_BROKER_URL"}


def export_uninterrupted(ctx: JobContext, district: SeedSummary) -> Job:
    """An all-columns students export run here, to its end, as a worker runs it: the run a
    crashed one is compared with."""
    request = ExportRequest(
        district=str(district.district_id),
        username=district.district_admin,
        entity="students",
        columns=None,
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    return stored_job(ctx.sessions, job_id)


def import_uninterrupted(ctx: JobContext, district: SeedSummary, path: Path) -> Job:
    """The students file at `path` imported here, to its end, as a worker imports it."""
    request = ImportRequest(
        district=str(district.district_id),
        username=district.district_admin,
        entity="students",
        filename=path.name,
    )
    with unit_of_work(ctx.sessions) as session:
        job = submit_import(session, request)
        job_id, key = job.id, job.input_key or ""
    ctx.store.put_file(key, path)
    with unit_of_work(ctx.sessions) as session:
        mark_queued(session, job_in(session, job_id))
    run_job(ctx, job_id, run_import)
    return stored_job(ctx.sessions, job_id)


def stored_job(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        return job_in(session, job_id)


def job_in(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    assert job is not None
    return job


@contextmanager
def two_workers(
    env: dict[str, str], cwd: Path, sessions: sessionmaker[Session]
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """Two `rosterjobs worker` process groups, both up and beating: one will run the job
    and be killed, the other is already there, as in a fleet, to reap and finish it."""
    with worker_process(env, cwd) as first, worker_process(env, cwd) as second:
        deadline = time.monotonic() + 60
        while len(_beating(sessions, [first, second])) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.02)
        yield first, second


def worker_running(
    sessions: sessionmaker[Session], job_id: str, workers: Sequence[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """The one of `workers` whose heartbeat reports running the job (the heartbeat names
    dramatiq's child process; its process group is the `rosterjobs worker` we started)."""
    deadline = time.monotonic() + 60
    while not (found := _beating(sessions, workers, job_id)):
        assert time.monotonic() < deadline, "no worker reported running the job"
        time.sleep(0.02)
    return found[0]


def _beating(
    sessions: sessionmaker[Session],
    workers: Sequence[subprocess.Popen[bytes]],
    job_id: str | None = None,
) -> list[subprocess.Popen[bytes]]:
    """Those of `workers` registered in `workers` (and running `job_id`, if given)."""
    with sessions() as session:
        rows = session.scalars(select(WorkerProcess).where(WorkerProcess.stopped_at.is_(None)))
        pids = {row.pid for row in rows if job_id is None or job_id in row.current_job_ids}
    groups = {_group(pid) for pid in pids}
    return [worker for worker in workers if worker.pid in groups]


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def kill(worker: subprocess.Popen[bytes]) -> dt.datetime:
    """SIGKILL the whole worker process group (dramatiq's parent and its children): no
    handler runs, nothing is cleaned up. Answers when it happened."""
    os.killpg(worker.pid, signal.SIGKILL)
    killed_at = utcnow()
    worker.wait()
    return killed_at


@dataclass(frozen=True)
class Recovery:
    """How long a killed job took to come back, from its timeline."""

    requeued_after_s: float
    completed_after_s: float

    def line(self, scenario: str, rows: int, done_at_kill: int) -> str:
        return (
            f"{scenario}: {rows} rows, {done_at_kill} done when killed; requeued "
            f"{self.requeued_after_s:.1f} s and completed {self.completed_after_s:.1f} s "
            "after the SIGKILL"
        )


def events(sessions: sessionmaker[Session], job_id: str) -> list[tuple[str, int | None]]:
    with sessions() as session:
        return [(event.event, event.attempt) for event in timeline(session, job_id)]


def recovery(sessions: sessionmaker[Session], job_id: str, killed_at: dt.datetime) -> Recovery:
    with sessions() as session:
        found = {(event.event, event.attempt): event.at for event in timeline(session, job_id)}
    return Recovery(
        requeued_after_s=_seconds(found[("requeued", 1)] - killed_at),
        completed_after_s=_seconds(found[("finished", 2)] - killed_at),
    )


def started_at(sessions: sessionmaker[Session], job_id: str, attempt: int) -> dt.datetime:
    with sessions() as session:
        return next(
            _utc(event.at)
            for event in timeline(session, job_id)
            if (event.event, event.attempt) == ("started", attempt)
        )


def _seconds(delta: dt.timedelta) -> float:
    return delta.total_seconds()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
