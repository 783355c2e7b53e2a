"""The retry rule, in process on SQLite and Postgres, with the broker's Retries middleware as
a worker configures it (`worker.runtime.middleware`): the job's `attempts` is the one retry
counter. A transient fault is delivered again, after a backoff, until the attempts run out,
however many there are, and not once more; a programming error fails the job at once under
an error id, which its one log line repeats with the traceback, and is never retried."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext, Outcome, Pipeline, run_job
from jobs.messages import EXPORT
from schemas.jobs import JobStatus
from storage.models import Job
from storage.objects import FolderStore
from tests.factories import SmallDistrict
from tests.ops.helpers import events_of, job_now, queued_export
from worker.logs import JSON_TRACEBACKS
from worker.runtime import job_sender, middleware

INTERNAL_ERROR = re.compile(
    r"An internal error stopped the job \(error id (?P<id>[0-9a-f]+)\); "
    r"operations can find it in the logs\."
)
QUICK_BACKOFF_MS = (10, 40)
MORE_ATTEMPTS_THAN_DRAMATIQ_RETRIES = 22
"""dramatiq's Retries on its own gives a message up after 20 retries: 21 deliveries."""


def database_outage(_ctx: JobContext, _job: Job) -> Outcome:
    raise OperationalError("SELECT 1", {}, ConnectionResetError("server closed the connection"))


def broken_pipeline(_ctx: JobContext, job: Job) -> Outcome:
    """Reads a count the job does not have yet: a KeyError."""
    return Outcome(JobStatus.COMPLETED, {"created": job.counts["created"]})


@dataclass
class Deliveries:
    """The job ids the export actor was delivered, in order."""

    job_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, job_id: str) -> None:
        with self.lock:
            self.job_ids.append(job_id)


@dataclass
class Scene:
    broker: StubBroker
    deliveries: Deliveries

    def run_to_the_end(self, job_id: str) -> None:
        """Send the job's message and wait until nothing is left to deliver."""
        job_sender(self.broker)(EXPORT.kind, job_id)
        self.broker.join(EXPORT.queue, timeout=60_000)


def workers_retries() -> Retries:
    (retries,) = [m for m in middleware(backoff_ms=QUICK_BACKOFF_MS) if isinstance(m, Retries)]
    return retries


@contextmanager
def worker_running(ctx: JobContext, pipeline: Pipeline) -> Iterator[Scene]:
    """A broker of its own whose export actor counts its deliveries and runs `pipeline`,
    with a worker thread."""
    broker = StubBroker(middleware=[workers_retries()])
    deliveries = Deliveries()

    def export_roster(job_id: str) -> None:
        deliveries.add(job_id)
        run_job(ctx, job_id, pipeline)

    dramatiq.actor(
        export_roster, broker=broker, actor_name=EXPORT.actor_name, queue_name=EXPORT.queue
    )
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        yield Scene(broker, deliveries)
    finally:
        worker.stop()


def context(sessions: sessionmaker[Session], tmp_path: Path, max_attempts: int) -> JobContext:
    store = FolderStore(tmp_path / "objects")
    return JobContext(sessions=sessions, store=store, max_attempts=max_attempts)


def test_a_transient_fault_is_retried_until_the_jobs_attempts_run_out_and_not_once_more(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given a job allowed more attempts than dramatiq's own retries, and a database that
    # never answers it
    attempts = MORE_ATTEMPTS_THAN_DRAMATIQ_RETRIES
    ctx = context(sessions, tmp_path, attempts)
    job_id = queued_export(sessions, roster)

    # when its message is sent to a worker
    with worker_running(ctx, database_outage) as running:
        running.run_to_the_end(job_id)
        deliveries, dead = running.deliveries.job_ids, running.broker.dead_letters

    # then it was delivered once per attempt, and failed on the last one, naming the database
    job = job_now(sessions, job_id)
    assert deliveries == [job_id] * attempts
    assert (job.status, job.attempts) == ("failed", attempts)
    assert (job.error or "").startswith(
        f"Stopped after {attempts} attempts that did not finish. "
        "Last error: The database did not answer: OperationalError"
    )
    assert dead == []
    retried = [
        attempt for event, attempt, _ in events_of(sessions, job_id) if event == "retry_scheduled"
    ]
    assert retried == list(range(1, attempts))


def test_a_programming_error_is_delivered_once_and_fails_the_job_without_a_retry(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given a job whose pipeline has a defect, and attempts to spare
    ctx = context(sessions, tmp_path, max_attempts=5)
    job_id = queued_export(sessions, roster)

    # when its message is sent to a worker
    with worker_running(ctx, broken_pipeline) as running:
        running.run_to_the_end(job_id)
        deliveries, dead = running.deliveries.job_ids, running.broker.dead_letters

    # then it ran once and failed, with nothing left to retry or dead-letter
    job = job_now(sessions, job_id)
    assert deliveries == [job_id]
    assert (job.status, job.attempts) == ("failed", 1)
    assert INTERNAL_ERROR.fullmatch(job.error or "")
    assert dead == []
    assert "retry_scheduled" not in [event for event, _, _ in events_of(sessions, job_id)]


def test_a_programming_error_names_an_error_id_that_its_log_line_repeats_with_the_traceback(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given a job whose pipeline calls something the wrong way
    ctx = context(sessions, tmp_path, max_attempts=5)
    job_id = queued_export(sessions, roster)

    def wrong_call(_ctx: JobContext, _job: Job) -> Outcome:
        return Outcome(JobStatus.COMPLETED, {}, None, None, {}, "one too many")

    # when it runs
    with structlog.testing.capture_logs() as logs:
        run_job(ctx, job_id, wrong_call)

    # then the job failed at its first attempt, its error naming an id and no detail
    job = job_now(sessions, job_id)
    named = INTERNAL_ERROR.fullmatch(job.error or "")
    assert (job.status, job.attempts) == ("failed", 1)
    assert named is not None
    assert events_of(sessions, job_id)[-1] == ("finished", 1, f"failed: {job.error}")
    # and one error line under that id holds the TypeError's traceback
    (line,) = [entry for entry in logs if entry["event"] == "job.internal_error"]
    assert (line["log_level"], line["error_id"], line["error"]) == (
        "error",
        named["id"],
        "TypeError",
    )
    (rendered,) = JSON_TRACEBACKS(None, "error", dict(line))["exception"]
    assert rendered["exc_type"] == "TypeError"
    assert "wrong_call" in [frame["name"] for frame in rendered["frames"]]
    assert [entry for entry in logs if entry["event"] == "job.retry_scheduled"] == []


def test_two_internal_errors_get_two_error_ids(
    sessions: sessionmaker[Session], roster: SmallDistrict, tmp_path: Path
) -> None:
    # given two jobs that meet the same defect
    ctx = context(sessions, tmp_path, max_attempts=5)
    first, second = queued_export(sessions, roster), queued_export(sessions, roster)

    # when both run
    run_job(ctx, first, broken_pipeline)
    run_job(ctx, second, broken_pipeline)

    # then each names its own log line
    errors = [job_now(sessions, job_id).error or "" for job_id in (first, second)]
    ids = [INTERNAL_ERROR.fullmatch(error) for error in errors]
    assert None not in ids
    assert errors[0] != errors[1]
