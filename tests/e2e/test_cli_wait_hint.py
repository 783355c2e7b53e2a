"""`--wait` on the Redis broker explains a wait that nothing will end: no worker consumes the
job's queue in the namespace the job was sent to."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from jobs.lifecycle import JobContext, request_cancel
from jobs.requests import ExportRequest, submit_export
from storage import job_records
from storage.db import make_engine, session_factory, unit_of_work
from storage.objects import FolderStore
from tests import factories
from tests.processes import REDIS_URL, service_env, worker_process
from worker.progress import QueueWatch, redis_queue_watch, wait_for_job
from worker.runtime import job_context
from worker.settings import Settings


class Said(io.StringIO):
    """A stream that tells when a whole line has been written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.line_written = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in text:
            self.line_written.set()
        return written


@pytest.fixture
def jobs(postgres_url: str, tmp_path: Path) -> Iterator[JobContext]:
    engine = make_engine(postgres_url)
    yield job_context(Settings(), session_factory(engine), FolderStore(tmp_path / "objects"))
    engine.dispose()


@pytest.fixture
def other_namespace(redis_namespace: str) -> Iterator[str]:
    """A second namespace of this test's own, removed afterwards."""
    namespace = f"{redis_namespace}-other-{uuid.uuid4().hex[:4]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)


def queued_export(jobs: JobContext, namespace: str) -> tuple[str, QueueWatch]:
    """An export recorded and sent to the exports queue in `namespace`, as the CLI sends it:
    its id, and the CLI's watch over that queue."""
    with unit_of_work(jobs.sessions) as session:
        roster = factories.small_district(session)
        request = ExportRequest(
            district=roster.district.name,
            username=roster.district_admin.username,
            entity="students",
        )
        job_id = submit_export(session, request).id
    broker: Any = RedisBroker(url=REDIS_URL, namespace=namespace)  # type: ignore[no-untyped-call]
    broker.enqueue(Message("exports", "export_roster", (job_id,), {}, {}))
    return job_id, redis_queue_watch(jobs.sessions, broker, "exports", live_within_s=30)


def wait_until_explained(jobs: JobContext, job_id: str, watch: QueueWatch) -> str:
    """Wait on the job as `--wait` does (the hint due after 0.2 s), until the hint is written;
    then cancel the job, which ends the wait. Answers what was written."""
    said = Said()
    waiting = threading.Thread(
        target=wait_for_job,
        args=(jobs, job_id),
        kwargs={"watch": watch, "hint_after_s": 0.2, "hints": said, "poll_seconds": 0.05},
    )
    waiting.start()
    try:
        assert said.line_written.wait(timeout=60), "no hint was written"
    finally:
        with unit_of_work(jobs.sessions) as session:
            job = job_records.get(session, job_id)
            assert job is not None
            request_cancel(session, job)
        waiting.join(timeout=30)
    return said.getvalue()


def hint_for(namespace: str) -> str:
    return (
        f"No worker is serving queue 'exports' in namespace {namespace!r} — start one with "
        "`rosterjobs worker` using the same ROSTERJOBS_QUEUE_NAMESPACE and "
        "ROSTERJOBS_BROKER_URL.\n"
    )


def test_a_wait_on_a_namespace_without_workers_is_explained_in_one_line(
    jobs: JobContext, redis_namespace: str
) -> None:
    # given
    job_id, watch = queued_export(jobs, redis_namespace)

    # when
    said = wait_until_explained(jobs, job_id, watch)

    # then
    assert said == hint_for(redis_namespace)


def test_a_worker_on_another_namespace_does_not_keep_the_wait_from_being_explained(
    postgres_url: str,
    tmp_path: Path,
    jobs: JobContext,
    redis_namespace: str,
    other_namespace: str,
) -> None:
    # given a worker on one namespace, registered on the shared database
    env = service_env(
        postgres_url,
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
    )
    with worker_process(env, tmp_path):
        served = redis_queue_watch(
            jobs.sessions,
            RedisBroker(url=REDIS_URL, namespace=redis_namespace),  # type: ignore[no-untyped-call]
            "exports",
            live_within_s=30,
        ).served
        deadline = time.monotonic() + 60
        while not served():
            assert time.monotonic() < deadline, "the worker never showed up as serving"
            time.sleep(0.1)

        # when an export waits on another namespace
        job_id, watch = queued_export(jobs, other_namespace)
        said = wait_until_explained(jobs, job_id, watch)

    # then
    assert said == hint_for(other_namespace)
