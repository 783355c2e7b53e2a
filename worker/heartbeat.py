"""Worker heartbeats: each worker process says it is alive, and so are the jobs it runs.

`WorkerHeartbeat` is a dramatiq middleware. When a dramatiq `Worker` boots in this process
(a `rosterjobs worker` process, or the embedded worker thread of the in-process broker), it
starts one daemon thread that, every `HEARTBEAT_SECONDS`:

- registers the process in `workers` on its first beat (`host:pid:<8 hex>`), then refreshes
  its `heartbeat_at` and `current_job_ids`;
- refreshes the `heartbeat_at` of the jobs this process is running (tracked from the job id
  of each export/import message between before- and after-process hooks), so a long
  import's survey and report passes, which write no progress, still count as alive;

and every `REAP_SECONDS` runs the reaper (`jobs.reaper`) over jobs silent for
`STALE_AFTER_SECONDS`. A clean shutdown marks the row `stopped_at` (running jobs still
finish, and keep beating, until the worker has stopped).

The worker's boot, not the process's, is what registers: `worker.runtime.start` emits
`process_boot` in every process that starts the runtime (the API, each CLI command), and a
process that runs no jobs is no worker.

The three timings are settings (`ROSTERJOBS_HEARTBEAT_SECONDS`, `ROSTERJOBS_REAP_SECONDS`,
`ROSTERJOBS_STALE_AFTER_SECONDS`), passed in by `worker.runtime.start`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from dramatiq.middleware import Middleware

from jobs.lifecycle import JobContext
from jobs.messages import ACTOR_NAMES, by_actor_name
from jobs.reaper import (
    RESEND_QUEUED_AFTER_SECONDS,
    STALE_AFTER_SECONDS,
    prune_old_history,
    reap_stuck_jobs,
    resend_lost_messages,
)
from storage import workers
from storage.db import unit_of_work
from worker import context

log = structlog.get_logger("rosterjobs.worker")

HEARTBEAT_SECONDS = 10
REAP_SECONDS = 20
FORGET_AFTER_SECONDS = 7 * 24 * 3600
"""Rows of worker processes not seen for a week are deleted by the reaper's run."""
JOB_ACTORS = ACTOR_NAMES


@dataclass(frozen=True)
class HeartbeatTimings:
    heartbeat_s: float = HEARTBEAT_SECONDS
    reap_s: float = REAP_SECONDS
    stale_after_s: int = STALE_AFTER_SECONDS
    resend_queued_after_s: int = RESEND_QUEUED_AFTER_SECONDS


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerHeartbeat(Middleware):
    """Registers this worker process, beats for it and its jobs, and runs the reaper."""

    def __init__(
        self,
        timings: HeartbeatTimings | None = None,
        *,
        job_context: Callable[[], JobContext] = context.current,
    ) -> None:
        self.timings = timings or HeartbeatTimings()
        self.job_context = job_context
        self._running: dict[str, str] = {}  # message id → job id
        self._lock = threading.Lock()
        self._beats: _Beats | None = None
        self._worker_id: str | None = None

    @property
    def worker_id(self) -> str | None:
        """This process's id in `workers`, once its dramatiq worker has booted."""
        return self._worker_id

    def running_job_ids(self) -> list[str]:
        with self._lock:
            return sorted(set(self._running.values()))

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        queues = worker.consumer_whitelist or {
            name for name in broker.get_declared_queues() if not name.endswith(".DQ")
        }
        self._worker_id = worker_id()
        self._beats = _Beats(self, broker, self._worker_id, sorted(queues))
        self._beats.start()

    def before_process_message(self, broker: Any, message: Any) -> None:
        if message.actor_name in JOB_ACTORS and message.args:
            with self._lock:
                self._running[message.message_id] = str(message.args[0])

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        with self._lock:
            self._running.pop(message.message_id, None)

    after_skip_message = after_process_message

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self._beats is not None:
            self._beats.mark_stopped()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self._beats is not None:
            self._beats.stop()
            self._beats = None


class _Beats(threading.Thread):
    """The heartbeat thread of one dramatiq worker. A failed beat (database down) is
    logged and tried again at the next one; it never stops the thread."""

    def __init__(
        self, owner: WorkerHeartbeat, broker: Any, worker_id: str, queues: list[str]
    ) -> None:
        super().__init__(name="rosterjobs-heartbeat", daemon=True)
        self.owner, self.broker, self.queues = owner, broker, queues
        self.worker_id = worker_id
        self.registered = False
        self._stopping = threading.Event()

    def run(self) -> None:
        timings = self.owner.timings
        next_reap = time.monotonic() + timings.reap_s
        while True:
            self._guarded("worker.heartbeat_failed", self.beat)
            if time.monotonic() >= next_reap:
                self._guarded("worker.reap_failed", self.reap)
                next_reap = time.monotonic() + timings.reap_s
            if self._stopping.wait(timings.heartbeat_s):
                return

    def beat(self) -> None:
        sessions = self.owner.job_context().sessions
        with unit_of_work(sessions) as session:
            if self.registered:
                workers.beat(session, self.worker_id, job_ids=self.owner.running_job_ids())
            else:
                workers.register(
                    session,
                    self.worker_id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    queues=self.queues,
                )
        if not self.registered:
            self.registered = True
            log.info("worker.registered", worker_id=self.worker_id, queues=self.queues)

    def reap(self) -> None:
        """Requeue stuck jobs and resend lost messages, through the job context's sender."""
        jobs = self.owner.job_context()
        send = by_actor_name(jobs.send)
        reaped = reap_stuck_jobs(
            jobs.sessions,
            stale_after_s=self.owner.timings.stale_after_s,
            max_attempts=jobs.max_attempts,
            send=send,
        )
        reaped += resend_lost_messages(
            jobs.sessions, resend_after_s=self.owner.timings.resend_queued_after_s, send=send
        )
        if reaped:
            log.warning("worker.reaped", worker_id=self.worker_id, job_ids=reaped)
        with unit_of_work(jobs.sessions) as session:
            workers.prune(session, older_than_s=FORGET_AFTER_SECONDS)
        prune_old_history(jobs.sessions, history_days=jobs.import_history_days)

    # Marking the row stopped is a courtesy to the dashboard: a row that misses it goes
    # stale like a crashed worker's. So failing at shutdown (often at interpreter exit,
    # when the database or the log stream may be gone) is logged at debug level only.

    def mark_stopped(self) -> None:
        def stopped() -> None:
            with unit_of_work(self.owner.job_context().sessions) as session:
                workers.mark_stopped(session, self.worker_id)

        self._guarded("worker.mark_stopped_failed", stopped, level=logging.DEBUG)

    def stop(self) -> None:
        """End the thread, then one last beat: the worker runs nothing any more."""
        self._stopping.set()
        self.join(timeout=5)
        if self.registered:
            self._guarded("worker.heartbeat_failed", self.beat, level=logging.DEBUG)

    def _guarded(
        self, event: str, action: Callable[[], None], *, level: int = logging.WARNING
    ) -> None:
        try:
            action()
        except Exception as err:
            log.log(level, event, worker_id=self.worker_id, error=type(err).__name__)
