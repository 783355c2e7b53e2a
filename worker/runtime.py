"""Process start-up: settings → logging → broker → database → storage → actors.

The broker is set before `worker.actors` is imported, because dramatiq binds an actor to
the global broker when it is declared. `setup` is what `dramatiq worker.runtime:setup
worker.actors` calls in each worker process; the CLI calls `start` in its own process.

Without `ROSTERJOBS_BROKER_URL` the broker is dramatiq's in-process `StubBroker` and jobs
run in a worker thread of the process that submitted them (`ensure_embedded_worker`).

On Redis, a worker process asked to stop (SIGTERM, what Kubernetes sends; dramatiq's
`Worker.stop`) has its running jobs stop at their next batch and go back to the queue
(`StopJobsAtShutdown`), so it exits in seconds, not at the end of its longest job. The
embedded worker lets its jobs finish: their messages would not outlive the process.

Every job message of the process is sent by the one sender `job_sender` builds here from the
broker, carried by the job context (`JobContext.send`). Retries are the job lifecycle's: the
job's `attempts` is the one counter, and dramatiq's Retries middleware only spaces out the
deliveries the lifecycle asked for (`job_retries`).
"""

from __future__ import annotations

import atexit
import importlib
import threading
from dataclasses import dataclass, replace
from typing import Any

import dramatiq
import redis
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
from jobs.errors import TransientJobError
from jobs.faults import is_transient
from jobs.lifecycle import JobContext, WorkerStop
from jobs.messages import JobSender, no_broker, route
from storage.db import make_engine, session_factory
from storage.objects import ObjectStore, open_store
from storage.webhook_deliveries import enable_outbox
from worker import context
from worker.heartbeat import HeartbeatTimings, WorkerHeartbeat
from worker.logs import configure_logging
from worker.settings import Settings
from worker.webhooks import WebhookSending

log = structlog.get_logger("rosterjobs.worker")

JOB_TIME_LIMIT_MS = 4 * 60 * 60 * 1000
# A dead worker's unacked messages go back to the queue only during dramatiq's
# "maintenance", once the worker's broker heartbeat is older than the heartbeat timeout.
#
# The timeout is the larger of 30 s and the job-stale time plus one job heartbeat plus
# HEARTBEAT_MARGIN_S (ROSTERJOBS_STALE_AFTER_SECONDS + ROSTERJOBS_HEARTBEAT_SECONDS + 5 s:
# 75 s by default). A redelivered message is run only once its job looks dead
# (`jobs.lifecycle.claim` skips a job whose heartbeat is fresher than the stale time, as a
# duplicate), so a redelivery that came sooner would be dropped, and the job left to the
# reaper alone. The margin covers the broker's own beat (about a second apart) and clocks
# that differ a little between hosts. Long timeouts are also the safe side of dramatiq#692:
# a section holding the GIL longer than the timeout would have its message run twice, and
# our C calls (CSV parsing, password hashing, COPY) hold it for one row, one password or
# one buffer at a time, far below 30 s.
#
# Maintenance runs on a random share of broker calls: dramatiq's 0.1 % means over ten
# minutes at idle (a consumer polls each queue about once a second); 10 % brings it to
# seconds, for one extra sorted-set read per ten calls (its KEYS scan runs only while a
# dead worker is found). Measured on Redis with the reaper off (tests/crash/
# test_redelivery.py): a SIGKILLed worker's job runs again 75-85 s after the kill.
HEARTBEAT_TIMEOUT_MS = 30_000
HEARTBEAT_MARGIN_S = 5
MAINTENANCE_CHANCE = 100_000
DEAD_MESSAGE_TTL_MS = 7 * 24 * 60 * 60 * 1000
# dramatiq sends no blocking commands, so a Redis that stops answering mid-call (a network
# partition) raises within seconds instead of hanging a consumer or an enqueue for ever.
REDIS_TIMEOUTS = {"socket_timeout": 10, "socket_connect_timeout": 5, "health_check_interval": 30}


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


class StopJobsAtShutdown(Middleware):
    """Tells this process's running jobs that the worker is stopping.

    dramatiq's `Worker.stop` (on SIGTERM) stops fetching, then waits for running messages
    to end. Setting the flag `jobs.lifecycle.report_progress` checks between batches makes
    them end at their next batch, handed back to the queue, rather than run to their end.
    A flag, not dramatiq's asynchronous `Shutdown` exception, so no job is interrupted in
    the middle of a transaction or an upload.
    """

    def __init__(self, requested: threading.Event) -> None:
        self.requested = requested

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        log.info("worker.stopping")
        self.requested.set()


def middleware(
    timings: HeartbeatTimings | None = None,
    backoff_ms: tuple[int, int] = (2_000, 300_000),
    max_attempts: int = 5,
) -> list[Any]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=JOB_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        job_retries(backoff_ms, max_attempts),
        CurrentMessage(),
        LogContext(),
        WorkerHeartbeat(timings),
    ]


def job_retries(backoff_ms: tuple[int, int], max_attempts: int) -> Retries:
    """dramatiq's Retries as the job lifecycle wants it: the lifecycle decides whether a job
    is retried, bounded by the job's `attempts`; Retries only spaces the deliveries out
    (exponential backoff between `backoff_ms`).

    `jobs.lifecycle.run_job` raises TransientJobError only while the job has attempts left
    (on the last one it fails the job and returns), so that is retried whatever the count
    in the message says. A transient fault that escapes the lifecycle is one it could not
    even record (the database down while the job was claimed, or its fault written): no
    attempt was counted, so the message's own count stands in, with the same limit,
    `max_attempts`; then the message is a dead letter, and the job row, still `queued` or
    `running`, is the reaper's. Anything else (a time limit) is not retried."""

    def retry_when(retries: int, exception: BaseException) -> bool:
        if isinstance(exception, TransientJobError):
            return True
        return is_transient(exception) and retries < max_attempts

    return Retries(retry_when=retry_when, min_backoff=backoff_ms[0], max_backoff=backoff_ms[1])


def broker_heartbeat_timeout_ms(settings: Settings) -> int:
    """How long a silent worker's messages wait before the broker gives them to another
    worker: until its jobs look dead to `claim` (see the comment on HEARTBEAT_TIMEOUT_MS)."""
    job_stale_s = settings.stale_after_seconds + settings.heartbeat_seconds + HEARTBEAT_MARGIN_S
    return max(HEARTBEAT_TIMEOUT_MS, int(job_stale_s * 1000))


def build_broker(settings: Settings, timings: HeartbeatTimings | None = None) -> Any:
    backoff_ms = (settings.retry_min_backoff_ms, settings.retry_max_backoff_ms)
    if settings.broker_url:
        return RedisBroker(  # type: ignore[no-untyped-call]
            client=redis.Redis.from_url(settings.broker_url, **REDIS_TIMEOUTS),
            namespace=settings.queue_namespace,
            heartbeat_timeout=broker_heartbeat_timeout_ms(settings),
            maintenance_chance=MAINTENANCE_CHANCE,
            dead_message_ttl=DEAD_MESSAGE_TTL_MS,
            middleware=middleware(timings, backoff_ms, settings.max_attempts),
        )
    return StubBroker(middleware=middleware(timings, backoff_ms, settings.max_attempts))


@dataclass(frozen=True)
class BrokerSender:
    """The process's one `send(kind, job_id, delay_ms=0)`: the job's message for its kind's
    actor (`jobs.messages`) on `broker`, now or after `delay_ms` as a new message (not a
    dramatiq retry: how a job its district's fair share deferred comes back)."""

    broker: Any

    def __call__(self, kind: str, job_id: str, delay_ms: int = 0) -> None:
        actor = self.broker.get_actor(route(kind).actor_name)
        actor.send_with_options(args=(job_id,), delay=delay_ms or None)


def job_sender(broker: Any) -> JobSender:
    """The sender of a process whose broker is `broker` (`BrokerSender`)."""
    return BrokerSender(broker)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    broker: Any
    engine: Engine
    jobs: JobContext

    def __post_init__(self) -> None:
        """The runtime's jobs send on its `broker`: a context built without a sender (by a
        script, a test), or with another broker's, is given this one's. A sender of another
        kind (a test's recording one) is left as it is."""
        send = self.jobs.send
        if send is no_broker or (isinstance(send, BrokerSender) and send.broker is not self.broker):
            object.__setattr__(self, "jobs", replace(self.jobs, send=BrokerSender(self.broker)))


def job_context(
    settings: Settings,
    sessions: sessionmaker[Session],
    store: ObjectStore,
    *,
    stop: WorkerStop | None = None,
    send: JobSender = no_broker,
) -> JobContext:
    """What the pipelines get from `settings`: sessions, storage, limits and timings, how a
    stopping worker hands its jobs back (`stop`; by default it never stops them), and how a
    job's message is sent (`send`; by default there is no broker). With a webhook
    configured, `sessions` write the portal's notification of every job they finish
    (`storage.webhook_deliveries.enable_outbox`)."""
    if settings.webhook is not None:
        enable_outbox(sessions)
    return JobContext(
        sessions=sessions,
        store=store,
        link_ttl=settings.link_ttl,
        max_attempts=settings.max_attempts,
        batch_rows=settings.batch_rows,
        export_progress_s=settings.export_progress_seconds,
        import_limits=ImportLimits(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            max_columns=settings.import_max_columns,
            max_cell_chars=settings.import_max_cell_chars,
        ),
        pdf_max_rows=settings.pdf_max_rows,
        stale_after_s=settings.stale_after_seconds,
        stop=stop or WorkerStop(),
        district_max_running=settings.district_max_running,
        send=send,
        import_history_days=settings.import_history_days,
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
        resend_queued_after_s=settings.resend_queued_after_seconds,
    )
    broker = build_broker(settings, timings)
    stop = WorkerStop()
    if settings.broker_url:
        broker.add_middleware(StopJobsAtShutdown(stop.requested))
    if settings.webhook is not None:
        broker.add_middleware(WebhookSending(settings.webhook))
    dramatiq.set_broker(broker)
    engine = make_engine(settings.database_url)
    jobs = job_context(
        settings,
        session_factory(engine),
        open_store(settings.storage_url, base_dir=settings.base_dir),
        stop=stop,
        send=job_sender(broker),
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


def stop_embedded_workers() -> None:
    """Stop every embedded worker of this process (the jobs they run finish first), and
    its heartbeat with it. Run at exit; a caller about to drop the database they beat into
    (the tests' teardown) runs it first."""
    while _EMBEDDED:
        _, worker = _EMBEDDED.popitem()
        worker.stop()


_EMBEDDED: dict[int, dramatiq.Worker] = {}
atexit.register(stop_embedded_workers)
