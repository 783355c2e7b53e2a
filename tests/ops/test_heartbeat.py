"""The worker heartbeat middleware on the in-process broker: a worker registers when it
boots, keeps the jobs it runs alive while they report nothing, and is marked stopped."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext, Outcome, run_job
from schemas.jobs import JobStatus
from storage.models import Job, WorkerProcess
from storage.objects import FolderStore
from storage.workers import recent_workers
from tests.factories import SmallDistrict
from tests.ops.helpers import eventually, job_now, queued_export
from worker.heartbeat import HeartbeatTimings, WorkerHeartbeat
from worker.runtime import job_context
from worker.settings import Settings, SettingsError

QUICK = HeartbeatTimings(heartbeat_s=0.05, reap_s=3600, stale_after_s=120)


class QuietJob:
    """A pipeline that reports no progress until released, like an import's survey pass."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, _ctx: JobContext, _job: Job) -> Outcome:
        assert self.release.wait(30)
        return Outcome(JobStatus.COMPLETED)


@pytest.fixture
def quiet_job() -> QuietJob:
    return QuietJob()


@pytest.fixture
def worker(ctx: JobContext, quiet_job: QuietJob) -> Iterator[dramatiq.Worker]:
    """A broker of its own whose `export_roster` runs the quiet pipeline, and its worker."""
    broker = StubBroker(middleware=[WorkerHeartbeat(QUICK, job_context=lambda: ctx)])
    broker.emit_after("process_boot")

    def export_roster(job_id: str) -> None:
        run_job(ctx, job_id, quiet_job)

    dramatiq.actor(export_roster, broker=broker, queue_name="exports")
    running = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    running.start()
    yield running
    quiet_job.release.set()
    running.stop()


def registered(ctx: JobContext, worker: dramatiq.Worker) -> WorkerProcess:
    """The row of this worker, found by the id its heartbeat middleware gave it."""
    mine = _rows_of(ctx, worker)
    assert len(mine) == 1
    return mine[0]


def running(ctx: JobContext, worker: dramatiq.Worker, job_ids: list[str]) -> bool:
    """Whether the worker's row says it runs `job_ids` (False while its first beat is due)."""
    mine = _rows_of(ctx, worker)
    return len(mine) == 1 and mine[0].current_job_ids == job_ids


def _rows_of(ctx: JobContext, worker: dramatiq.Worker) -> list[WorkerProcess]:
    (heartbeat,) = [m for m in worker.broker.middleware if isinstance(m, WorkerHeartbeat)]
    with ctx.sessions() as session:
        return [w for w in recent_workers(session) if w.id == heartbeat.worker_id]


def test_a_booted_worker_registers_and_keeps_a_quiet_job_alive(
    ctx: JobContext, roster: SmallDistrict, worker: dramatiq.Worker, quiet_job: QuietJob
) -> None:
    # given a job that will run for a while without reporting progress
    job_id = queued_export(ctx.sessions, roster)

    # when a worker runs it
    worker.broker.get_actor("export_roster").send(job_id)
    eventually(lambda: job_now(ctx.sessions, job_id).status == "running")
    claimed_beat = job_now(ctx.sessions, job_id).heartbeat_at
    assert claimed_beat is not None

    # then the heartbeat moves on although the job says nothing
    eventually(lambda: (job_now(ctx.sessions, job_id).heartbeat_at or claimed_beat) > claimed_beat)
    eventually(lambda: running(ctx, worker, [job_id]))
    row = registered(ctx, worker)
    assert (row.queues, row.pid, row.stopped_at) == ("exports", os.getpid(), None)
    assert row.id.startswith(f"{row.host}:{os.getpid()}:")


def test_a_worker_that_stops_is_marked_stopped_running_nothing(
    ctx: JobContext, roster: SmallDistrict, worker: dramatiq.Worker, quiet_job: QuietJob
) -> None:
    # given a worker that ran a job to its end
    job_id = queued_export(ctx.sessions, roster)
    worker.broker.get_actor("export_roster").send(job_id)
    eventually(lambda: running(ctx, worker, [job_id]))
    quiet_job.release.set()
    worker.broker.join("exports")

    # when
    worker.stop()

    # then
    stopped = registered(ctx, worker)
    assert stopped.stopped_at is not None
    assert stopped.current_job_ids == []
    assert job_now(ctx.sessions, job_id).status == "completed"


def test_the_heartbeat_timings_can_be_shortened_from_the_environment() -> None:
    # when
    settings = Settings.from_env(
        {
            "ROSTERJOBS_HEARTBEAT_SECONDS": "0.5",
            "ROSTERJOBS_REAP_SECONDS": "2",
            "ROSTERJOBS_STALE_AFTER_SECONDS": "5",
            "ROSTERJOBS_SECRET_KEY": "k",
        }
    )
    defaults = Settings.from_env({"ROSTERJOBS_SECRET_KEY": "k"})

    # then
    assert (settings.heartbeat_seconds, settings.reap_seconds) == (0.5, 2)
    assert settings.stale_after_seconds == 5
    assert (defaults.heartbeat_seconds, defaults.reap_seconds) == (10, 20)
    assert defaults.stale_after_seconds == 60


def test_a_heartbeat_timing_that_is_not_a_positive_number_is_refused_by_name() -> None:
    # when / then
    with pytest.raises(SettingsError, match="ROSTERJOBS_REAP_SECONDS must be a number"):
        Settings.from_env({"ROSTERJOBS_REAP_SECONDS": "soon", "ROSTERJOBS_SECRET_KEY": "k"})
    with pytest.raises(SettingsError, match="ROSTERJOBS_STALE_AFTER_SECONDS must be greater"):
        Settings.from_env({"ROSTERJOBS_STALE_AFTER_SECONDS": "0", "ROSTERJOBS_SECRET_KEY": "k"})


def test_how_often_an_export_stores_progress_is_a_setting_that_may_be_zero(
    tmp_path: Path,
) -> None:
    secret = {"ROSTERJOBS_SECRET_KEY": "k"}
    default = Settings.from_env(secret, cwd=tmp_path)
    every_batch = Settings.from_env(
        secret | {"ROSTERJOBS_EXPORT_PROGRESS_SECONDS": "0"}, cwd=tmp_path
    )
    assert (default.export_progress_seconds, every_batch.export_progress_seconds) == (1.0, 0.0)
    ctx = job_context(every_batch, sessionmaker[Session](), FolderStore(tmp_path / "objects"))
    assert ctx.export_progress_s == 0.0
    for value in ("-1", "soon", "nan"):
        with pytest.raises(SettingsError, match="ROSTERJOBS_EXPORT_PROGRESS_SECONDS must be"):
            Settings.from_env(secret | {"ROSTERJOBS_EXPORT_PROGRESS_SECONDS": value})
