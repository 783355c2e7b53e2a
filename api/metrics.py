"""`GET /metrics`: Prometheus text, computed from the database and the broker when scraped.

Nothing is counted in process memory, so every API replica answers the same figures, a
restart loses nothing, and Prometheus may scrape any one replica behind the Service.

| metric | type | labels | what |
| --- | --- | --- | --- |
| `rosterjobs_jobs` | gauge | kind, entity, status | jobs in each state |
| `rosterjobs_rows_processed_total` | counter | kind, entity | rows gone through, over all jobs |
| `rosterjobs_job_retries_total` | counter | kind | deliveries beyond each job's first |
| `rosterjobs_job_duration_seconds` | histogram | kind | finished jobs, from start to finish |
| `rosterjobs_queue_depth` | gauge | queue | messages waiting for a worker |
| `rosterjobs_queue_delayed` | gauge | queue | retries waiting out their backoff |
| `rosterjobs_dead_letters` | gauge | queue | dead-lettered messages |
| `rosterjobs_workers` | gauge | | worker processes alive (a heartbeat within 120 s, not stopped) |
| `rosterjobs_stuck_jobs` | gauge | | running jobs silent longer than the reaper allows |
| `rosterjobs_webhook_deliveries_total` | counter | outcome | notifications that ended |
| `rosterjobs_webhook_pending` | gauge | | notifications not yet delivered |

A notification ends `delivered`, `failed` (its retries used up) or `gone` (its receiver
answered 410); a pending one is due, or waits out a retry (`jobs.notify`).

The two job totals are sums over the jobs table, so deleting jobs (re-seeding a district)
lowers them, which Prometheus reads as a counter reset.

Access: `Authorization: Bearer <ROSTERJOBS_OPS_TOKEN>` (401 without it or with another).
Wrong tokens count against the caller's address as on `/ops/login` (`api.token_guesses`):
after 5 within a minute, 429 with `Retry-After` until the window passes.
Without an ops token configured, `/metrics` is switched off and answers 404, as `/ops` does.
When the broker does not answer, that scrape leaves the queue figures out (and logs
`metrics.broker_unavailable`); when the database does not answer, it is a 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import RuntimeDep
from api.errors import refused
from api.ops_auth import OpsAuth, offered_token_matches
from jobs.reaper import count_stuck_jobs
from schemas.jobs import FINISHED
from storage import webhook_deliveries
from storage.job_records import SecondsBetween
from storage.models import Job
from storage.workers import recent_workers
from worker.queues import QueueStats, queue_stats

log = structlog.get_logger("rosterjobs.api")

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
"""Seconds: a small export takes a second or two; the job time limit is 4 hours."""

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
"""What `generate_latest` writes: Prometheus's classic text format, read by every server."""

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    _check_ops_token(request, runtime.settings.ops_token, runtime.settings.secret_key)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        RosterjobsCollector(
            runtime.jobs.sessions, runtime.broker, stale_after_s=runtime.jobs.stale_after_s
        )
    )
    return Response(generate_latest(registry), media_type=TEXT_FORMAT)


def _check_ops_token(request: Request, ops_token: str | None, secret_key: str) -> None:
    """404 when no ops token is configured; 401 unless the bearer token is that one; 429
    while the caller's address has guessed wrong too often."""
    if not ops_token:
        raise refused(404, "Not Found")
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    auth = OpsAuth(ops_token, secret_key)
    if scheme.lower() == "bearer" and offered_token_matches(request, auth, offered.strip()):
        return
    raise refused(
        401, "The operations token is missing or not right.", {"WWW-Authenticate": "Bearer"}
    )


class RosterjobsCollector(Collector):
    """Every figure of `/metrics`, read when collected."""

    def __init__(self, sessions: sessionmaker[Session], broker: Any, *, stale_after_s: int) -> None:
        self.sessions, self.broker, self.stale_after_s = sessions, broker, stale_after_s

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            families = [
                *job_families(session),
                duration_family(session),
                *process_families(session, self.stale_after_s),
                *webhook_families(session),
            ]
        yield from families
        yield from queue_families(self._queues())

    def _queues(self) -> list[QueueStats] | None:
        try:
            return queue_stats(self.broker)
        except Exception as err:
            log.warning("metrics.broker_unavailable", error=type(err).__name__)
            return None


def job_families(session: Session) -> list[Metric]:
    jobs = GaugeMetricFamily(
        "rosterjobs_jobs", "Jobs in each state.", labels=["kind", "entity", "status"]
    )
    rows = CounterMetricFamily(
        "rosterjobs_rows_processed",
        "Rows the jobs have gone through (exported, or read from an import file).",
        labels=["kind", "entity"],
    )
    retries = CounterMetricFamily(
        "rosterjobs_job_retries",
        "Deliveries of jobs beyond their first (retries after faults, redeliveries after a "
        "lost worker): dramatiq's retry count, from the job records.",
        labels=["kind"],
    )
    processed: dict[tuple[str, str], int] = {}
    retried: dict[str, int] = {}
    extra = case((Job.attempts > 1, Job.attempts - 1), else_=0)
    statement = select(
        Job.kind,
        Job.entity,
        Job.status,
        func.count(),
        func.coalesce(func.sum(Job.processed), 0),
        func.coalesce(func.sum(extra), 0),
    ).group_by(Job.kind, Job.entity, Job.status)
    for kind, entity, status, count, rows_done, again in session.execute(statement):
        jobs.add_metric([kind, entity, status], int(count))
        processed[kind, entity] = processed.get((kind, entity), 0) + int(rows_done)
        retried[kind] = retried.get(kind, 0) + int(again)
    for (kind, entity), total in sorted(processed.items()):
        rows.add_metric([kind, entity], total)
    for kind, total in sorted(retried.items()):
        retries.add_metric([kind], total)
    return [jobs, rows, retries]


def duration_family(session: Session) -> Metric:
    family = HistogramMetricFamily(
        "rosterjobs_job_duration_seconds",
        "How long finished jobs ran, from their start to their end.",
        labels=["kind"],
    )
    seconds = SecondsBetween(Job.started_at, Job.finished_at)
    statement = (
        select(
            Job.kind,
            func.count(),
            func.coalesce(func.sum(seconds), 0.0),
            *(func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS),
        )
        .where(
            Job.status.in_([status.value for status in FINISHED]),
            Job.started_at.is_not(None),
            Job.finished_at.is_not(None),
        )
        .group_by(Job.kind)
    )
    for kind, count, total, *within in session.execute(statement):
        family.add_metric([kind], _buckets(within, int(count)), sum_value=max(0.0, float(total)))
    return family


def _buckets(within: Sequence[Any], count: int) -> list[tuple[str, float]]:
    """Cumulative bucket counts as Prometheus writes them, `+Inf` last."""
    bounds = [
        (str(float(bound)), float(n or 0))
        for bound, n in zip(DURATION_BUCKETS, within, strict=True)
    ]
    return [*bounds, ("+Inf", float(count))]


def process_families(session: Session, stale_after_s: int) -> list[Metric]:
    alive = [worker for worker in recent_workers(session) if worker.stopped_at is None]
    workers = GaugeMetricFamily(
        "rosterjobs_workers", "Worker processes alive (a heartbeat within 120 s, not stopped)."
    )
    workers.add_metric([], len(alive))
    stuck = GaugeMetricFamily(
        "rosterjobs_stuck_jobs",
        f"Running jobs whose heartbeat is older than {stale_after_s} s (the reaper's threshold).",
    )
    stuck.add_metric([], count_stuck_jobs(session, stale_after_s))
    return [workers, stuck]


def webhook_families(session: Session) -> list[Metric]:
    """The outbox's deliveries by status (`storage.webhook_deliveries`): the ended ones as
    a counter by outcome, the pending ones as a gauge."""
    by_status = webhook_deliveries.counts_by_status(session)
    ended = CounterMetricFamily(
        "rosterjobs_webhook_deliveries",
        "Webhook notifications of the portal that ended, by outcome: delivered, failed "
        "(retries used up) or gone (the receiver answered 410).",
        labels=["outcome"],
    )
    for status in webhook_deliveries.ENDED:
        ended.add_metric([status.value], by_status.get(status.value, 0))
    pending = GaugeMetricFamily(
        "rosterjobs_webhook_pending",
        "Webhook notifications not yet delivered: due now, or waiting out a retry.",
    )
    pending.add_metric([], by_status.get(webhook_deliveries.DeliveryStatus.PENDING.value, 0))
    return [ended, pending]


def queue_families(stats: Iterable[QueueStats] | None) -> list[Metric]:
    families = {
        "depth": GaugeMetricFamily(
            "rosterjobs_queue_depth", "Messages waiting for a worker.", labels=["queue"]
        ),
        "delayed": GaugeMetricFamily(
            "rosterjobs_queue_delayed", "Retries waiting out their backoff.", labels=["queue"]
        ),
        "dead": GaugeMetricFamily(
            "rosterjobs_dead_letters", "Dead-lettered messages.", labels=["queue"]
        ),
    }
    for queue in stats or ():
        families["depth"].add_metric([queue.name], queue.depth)
        families["delayed"].add_metric([queue.name], queue.delayed)
        families["dead"].add_metric([queue.name], queue.dead)
    return list(families.values())
