"""Waiting for a job from the command line: a progress bar on a terminal, and one line of
explanation when nothing serves the queue the job waits in.

The bar goes to stdout with the command's own lines, and logs go to stderr (`worker.logs`):
`2>/dev/null` silences the logs and keeps the bar. The bar redraws `worker.logs.LIVE_LINE`,
which a log line clears first, so no log text is ever glued to the bar.

On the Redis broker a job can wait for ever when no worker consumes its queue in the same
namespace (a worker never started, or started with another `ROSTERJOBS_QUEUE_NAMESPACE`).
After `HINT_AFTER_SECONDS` still queued, `wait_for_job` asks its `QueueWatch` whether a
worker serves the queue, and if none does, says so once on stderr.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import redis
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from schemas.jobs import JobStatus
from storage import job_records, workers
from worker.logs import LIVE_LINE

BAR_WIDTH = 30
HINT_AFTER_SECONDS = 10.0
"""How long a job waits queued before the wait is explained (when nothing serves it)."""


@dataclass(frozen=True)
class QueueWatch:
    """The queue a job was sent to, and how to ask whether a worker serves it now."""

    queue: str
    namespace: str
    served: Callable[[], bool]

    def hint(self) -> str:
        return (
            f"No worker is serving queue {self.queue!r} in namespace {self.namespace!r} — "
            "start one with `rosterjobs worker` using the same ROSTERJOBS_QUEUE_NAMESPACE "
            "and ROSTERJOBS_BROKER_URL."
        )


def wait_for_job(
    ctx: JobContext,
    job_id: str,
    *,
    show_progress: bool = True,
    poll_seconds: float = 0.2,
    out: TextIO | None = None,
    watch: QueueWatch | None = None,
    hint_after_s: float = HINT_AFTER_SECONDS,
    hints: TextIO | None = None,
) -> str:
    """Poll the job record until the job finishes; answers its final status.

    The bar is drawn only when `out` (stdout by default) is a terminal. With a `watch`, a
    job still queued after `hint_after_s` is explained on `hints` (stderr by default) if
    nothing serves its queue; the question is asked again every `hint_after_s` until the
    job leaves the queue or the line has been written once."""
    stream = out or sys.stdout
    draw = show_progress and stream.isatty()
    next_look = time.monotonic() + hint_after_s
    while True:
        status, processed, total = _progress(ctx, job_id)
        if draw:
            LIVE_LINE.draw(stream, progress_line(status.value, processed, total))
        if status.finished:
            if draw:
                LIVE_LINE.finish()
            return status.value
        if watch and status is JobStatus.QUEUED and time.monotonic() >= next_look:
            if not watch.served():
                say(watch.hint(), hints or sys.stderr)
                watch = None
            next_look = time.monotonic() + hint_after_s
        time.sleep(poll_seconds)


def _progress(ctx: JobContext, job_id: str) -> tuple[JobStatus, int, int | None]:
    with ctx.sessions() as session:
        job = job_records.get(session, job_id)
        if job is None:
            raise LookupError(f"No such job {job_id!r}.")
        return JobStatus(job.status), job.processed, job.total


def say(text: str, stream: TextIO) -> None:
    """Write `text` on a line of its own, the progress bar set aside meanwhile."""
    with LIVE_LINE.set_aside():
        print(text, file=stream, flush=True)


def progress_line(status: str, processed: int, total: int | None) -> str:
    if not total:
        return f"{status}: {processed} rows"
    share = min(processed / total, 1.0)
    filled = int(share * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return f"[{bar}] {share:6.1%} {processed}/{total} rows {status}"


def redis_queue_watch(
    sessions: sessionmaker[Session], broker: Any, queue: str, *, live_within_s: float
) -> QueueWatch:
    """A watch over `queue` of `broker` (a dramatiq `RedisBroker`): served while a worker
    that registered for the queue (`storage.workers`) has beaten within `live_within_s` and
    some other process consumes in the broker's namespace.

    Both are asked because neither is enough: the workers table, shared by every namespace
    on one database, does not say which namespace a worker consumes, and dramatiq's broker
    heartbeats do not say which queues."""

    def served() -> bool:
        return _namespace_consumed(broker, live_within_s) and _queue_has_worker(
            sessions, queue, live_within_s
        )

    return QueueWatch(queue=queue, namespace=str(broker.namespace), served=served)


def _queue_has_worker(sessions: sessionmaker[Session], queue: str, within_s: float) -> bool:
    with sessions() as session:
        live = workers.recent_workers(session, within_s=math.ceil(within_s))
    return any(worker.stopped_at is None and queue in worker.queue_names for worker in live)


def _namespace_consumed(broker: Any, within_s: float) -> bool:
    """Whether a broker other than `broker` called Redis in its namespace lately: dramatiq's
    Redis script records every caller in `<namespace>:__heartbeats__`, and an idle consumer
    calls it at least once a second. Answers True when Redis cannot tell (better no hint
    than a wrong one)."""
    since_ms = int((time.time() - within_s) * 1000)
    try:
        callers = broker.client.zrangebyscore(
            f"{broker.namespace}:__heartbeats__", since_ms, "+inf"
        )
    except redis.RedisError:
        return True
    own = str(broker.broker_id)
    return any(_text(caller) != own for caller in callers)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
