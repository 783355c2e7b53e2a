"""Every job message a process sends goes through its job context's one sender
(`JobContext.send`), whatever sends it: a submit from the CLI, the API, the reaper a worker's
heartbeat runs; and the sender the worker builds from its broker puts each kind's message on
the actor and queue `jobs.messages` names, the only place they are written."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from fastapi import HTTPException

from api.queueing import send_export, send_import
from jobs.lifecycle import JobContext
from jobs.messages import ROUTES
from storage.db import unit_of_work
from storage.models import Job, utcnow
from tests.factories import SmallDistrict
from tests.ops.helpers import eventually, job_now, queued_export, running_export
from worker.heartbeat import HeartbeatTimings, WorkerHeartbeat
from worker.runtime import Runtime, job_sender
from worker.settings import Settings
from worker.submit import IMPORT_ACTOR, enqueue, enqueue_job

REDIS_SETTINGS = Settings(secret_key="x" * 20, broker_url="redis://127.0.0.1:6379/0")
"""A broker is configured, so a submit starts no embedded worker thread."""


@dataclass
class Recorded:
    """A job context's sender that records what it was asked to send: (kind, job id, delay)."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)
    refuse: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, kind: str, job_id: str, delay_ms: int = 0) -> None:
        if self.refuse:
            raise ConnectionError("Redis did not answer")
        with self.lock:
            self.calls.append((kind, job_id, delay_ms))


@pytest.fixture
def sent() -> Recorded:
    return Recorded()


@pytest.fixture
def recording(ctx: JobContext, sent: Recorded) -> JobContext:
    return replace(ctx, send=sent)


def runtime_of(jobs: JobContext) -> Runtime:
    return Runtime(settings=REDIS_SETTINGS, broker=None, engine=None, jobs=jobs)  # type: ignore[arg-type]


def test_a_submitted_job_is_sent_through_the_job_contexts_sender(
    recording: JobContext, sent: Recorded, roster: SmallDistrict
) -> None:
    # given a queued export
    job_id = queued_export(recording.sessions, roster)
    runtime = runtime_of(recording)

    # when it is sent by its kind, then by the older way that names its actor
    enqueue_job(runtime, "export", job_id)
    enqueue(runtime, IMPORT_ACTOR, job_id)

    # then both went through the context's sender, by kind
    assert sent.calls == [("export", job_id, 0), ("import", job_id, 0)]


def test_the_api_sends_a_job_through_the_job_contexts_sender(
    recording: JobContext, sent: Recorded, roster: SmallDistrict
) -> None:
    # given two queued jobs
    first, second = (
        queued_export(recording.sessions, roster),
        queued_export(recording.sessions, roster),
    )

    # when the API sends one as an export, the other as an import
    send_export(runtime_of(recording), first)
    send_import(runtime_of(recording), second)

    # then
    assert sent.calls == [("export", first, 0), ("import", second, 0)]


def test_the_api_answers_503_and_fails_the_export_when_the_sender_is_refused(
    recording: JobContext, sent: Recorded, roster: SmallDistrict
) -> None:
    # given a queued export, and a broker that does not answer
    job_id = queued_export(recording.sessions, roster)
    sent.refuse = True

    # when the API sends it
    with pytest.raises(HTTPException) as refused:
        send_export(runtime_of(recording), job_id)

    # then the caller is told to try again, and the job is not left queued for nothing
    assert refused.value.status_code == 503
    assert job_now(recording.sessions, job_id).status == "failed"


@pytest.fixture
def reaping_worker(recording: JobContext) -> Iterator[dramatiq.Worker]:
    """A worker of a broker of its own whose heartbeat reaps every 50 ms, stale after 30 s."""
    timings = HeartbeatTimings(
        heartbeat_s=0.05, reap_s=0.05, stale_after_s=30, resend_queued_after_s=60
    )
    broker = StubBroker(middleware=[WorkerHeartbeat(timings, job_context=lambda: recording)])
    broker.declare_queue("exports")
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


def test_the_reaper_a_workers_heartbeat_runs_sends_through_the_job_contexts_sender(
    recording: JobContext,
    sent: Recorded,
    roster: SmallDistrict,
    reaping_worker: dramatiq.Worker,
) -> None:
    # given an export whose worker went silent a minute ago, and one queued whose message
    # was lost two minutes ago
    stuck = running_export(recording.sessions, roster, silent_for_s=60)
    lost = queued_export(recording.sessions, roster)
    with unit_of_work(recording.sessions) as session:
        job = session.get(Job, lost)
        assert job is not None
        job.queued_at = utcnow() - dt.timedelta(minutes=2)

    # when the worker's heartbeat reaps
    eventually(lambda: len(sent.calls) >= 2)

    # then both messages went through the context's sender, by kind
    assert sorted(sent.calls) == sorted([("export", stuck, 0), ("export", lost, 0)])


def test_the_workers_sender_puts_each_kinds_message_on_the_actor_and_queue_named_once() -> None:
    # given a broker with an actor declared for each route
    broker = StubBroker(middleware=[])
    for route in ROUTES.values():
        dramatiq.actor(
            _never_run, broker=broker, actor_name=route.actor_name, queue_name=route.queue
        )
    send = job_sender(broker)

    # when a message of each kind is sent now
    for kind in ROUTES:
        send(kind, f"{kind}-1")

    # then each waits on its kind's queue, for its kind's actor (a revert shares the
    # imports' queue)
    for kind, route in ROUTES.items():
        waiting = [dramatiq.Message.decode(m) for m in broker.queues[route.queue].queue]
        (message,) = [m for m in waiting if m.actor_name == route.actor_name]
        assert message.args == (f"{kind}-1",)
        assert "eta" not in message.options


def _never_run(*args: Any) -> None:
    raise AssertionError("the tests only send messages")
