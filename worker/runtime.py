"""Process start-up: settings → logging → broker → database → storage → actors.

The broker is set before `worker.actors` is imported, because dramatiq binds an actor to
the global broker when it is declared. `setup` is what `dramatiq worker.runtime:setup
worker.actors` calls in each worker process; the CLI calls `start` in its own process.

Without `ROSTERJOBS_BROKER_URL` the broker is dramatiq's in-process `StubBroker` and jobs
run in a worker thread of the process that submitted them (`ensure_embedded_worker`).
"""

from __future__ import annotations

import atexit
import importlib
from dataclasses import dataclass
from typing import Any

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jobs.csv_in import ImportLimits
from jobs.lifecycle import JobContext
from storage.db import make_engine, session_factory
from storage.objects import ObjectStore, open_store
from worker import context
from worker.heartbeat import HeartbeatTimings, WorkerHeartbeat
from worker.logs import configure_logging
from worker.settings import Settings

log = structlog.get_logger("rosterjobs.worker")

JOB_TIME_LIMIT_MS = 4 * 60 * 60 * 1000
HEARTBEAT_TIMEOUT_MS = 30_000
# dramatiq requeues a dead worker's messages only during "maintenance", which runs on a
# random share of broker calls (default 0.1 %: over ten minutes at idle). 10 % keeps
# recovery within about a minute at the cost of one extra Redis scan per ten calls.
MAINTENANCE_CHANCE = 100_000
DEAD_MESSAGE_TTL_MS = 7 * 24 * 60 * 60 * 1000


class LogContext(Middleware):
    """Each message starts with a clean log context bound to its message id."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(message_id=message.message_id)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    after_skip_message = after_process_message


def middleware(timings: HeartbeatTimings | None = None) -> list[Any]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=JOB_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=20, min_backoff=2_000, max_backoff=300_000),
        CurrentMessage(),
        LogContext(),
        WorkerHeartbeat(timings),
    ]


def build_broker(settings: Settings, timings: HeartbeatTimings | None = None) -> Any:
    if settings.broker_url:
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.broker_url,
            namespace=settings.queue_namespace,
            heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=MAINTENANCE_CHANCE,
            dead_message_ttl=DEAD_MESSAGE_TTL_MS,
            middleware=middleware(timings),
        )
    return StubBroker(middleware=middleware(timings))


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    broker: Any
    engine: Engine
    jobs: JobContext


def job_context(
    settings: Settings, sessions: sessionmaker[Session], store: ObjectStore
) -> JobContext:
    """What the pipelines get from `settings`: sessions, storage, limits and timings."""
    return JobContext(
        sessions=sessions,
        store=store,
        link_ttl=settings.link_ttl,
        max_attempts=settings.max_attempts,
        batch_rows=settings.batch_rows,
        import_limits=ImportLimits(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            max_columns=settings.import_max_columns,
            max_cell_chars=settings.import_max_cell_chars,
        ),
        stale_after_s=settings.stale_after_seconds,
    )


def start(settings: Settings, *, json_logs: bool | None = None, boot: bool = True) -> Runtime:
    """Configure this process once: logging, broker, database, storage, then the actors.

    `boot=False` under the `dramatiq` command, which emits `process_boot` itself (twice
    would start the time-limit middleware's thread twice)."""
    configure_logging(json=json_logs)
    timings = HeartbeatTimings(
        heartbeat_s=settings.heartbeat_seconds,
        reap_s=settings.reap_seconds,
        stale_after_s=settings.stale_after_seconds,
    )
    broker = build_broker(settings, timings)
    dramatiq.set_broker(broker)
    engine = make_engine(settings.database_url)
    jobs = job_context(
        settings,
        session_factory(engine),
        open_store(settings.storage_url, base_dir=settings.base_dir),
    )
    context.install(jobs)
    importlib.import_module("worker.actors")
    if boot:
        broker.emit_after("process_boot")
    return Runtime(settings, broker, engine, jobs)


def setup() -> None:
    """Entry point of each `dramatiq` worker process."""
    start(Settings.from_env(), boot=False)


def ensure_embedded_worker(runtime: Runtime) -> None:
    """Start, once per process, a dramatiq worker thread for the in-process broker.

    It lives as long as the process: a dramatiq `Worker` adds middleware to its broker,
    so one is started per broker rather than one per job.
    """
    if id(runtime.broker) in _EMBEDDED:
        return
    worker = dramatiq.Worker(runtime.broker, worker_threads=1, worker_timeout=100)
    worker.start()
    _EMBEDDED[id(runtime.broker)] = worker
    atexit.register(worker.stop)


_EMBEDDED: dict[int, dramatiq.Worker] = {}
