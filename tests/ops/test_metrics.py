"""`/metrics` read by Prometheus's own parser: the figures match the jobs run, the queues in
Redis and the workers recorded; only the operations token gets them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from api.metrics import RosterjobsCollector
from jobs.errors import PermanentJobError
from jobs.export import run_export
from jobs.lifecycle import JobContext, Outcome, create_job, run_job
from schemas.jobs import JobKind, JobStatus
from schemas.scope import Role, Scope
from storage import workers
from storage.db import unit_of_work
from storage.models import Job, utcnow
from tests.factories import SmallDistrict
from tests.ops.helpers import message, queued_export, running_export
from tests.processes import REDIS_URL, free_port
from worker.runtime import Runtime
from worker.settings import Settings

OPS_TOKEN = "ops-token-for-the-metrics-tests-0123456789"
BEARER = {"Authorization": f"Bearer {OPS_TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[name, frozenset(labels.items())]


def make_runtime(
    ctx: JobContext, engine: Engine, tmp_path: Path, broker: object, *, ops_token: str | None
) -> Runtime:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        broker_url=REDIS_URL,
        storage_url=str(tmp_path / "objects"),
        secret_key="test-secret-key-not-for-production",
        base_dir=tmp_path,
        ops_token=ops_token,
    )
    return Runtime(settings, broker, engine, ctx)


@pytest.fixture
def client(
    ctx: JobContext, engine: Engine, tmp_path: Path, redis_broker: RedisBroker
) -> Iterator[TestClient]:
    runtime = make_runtime(ctx, engine, tmp_path, redis_broker, ops_token=OPS_TOKEN)
    with TestClient(create_app(runtime)) as client:
        yield client


def failing(_ctx: JobContext, _job: Job) -> Outcome:
    raise PermanentJobError("The request names a school that no longer exists.")


def awaiting_import(sessions: sessionmaker[Session], roster: SmallDistrict) -> None:
    scope = Scope(
        roster.district.id,
        roster.district_admin.id,
        roster.district_admin.username,
        Role.DISTRICT_ADMIN,
        frozenset(),
    )
    with unit_of_work(sessions) as session:
        create_job(
            session,
            kind=JobKind.IMPORT,
            entity="students",
            scope=scope,
            options={},
            status=JobStatus.AWAITING_UPLOAD,
        )


def seen_workers(sessions: sessionmaker[Session]) -> None:
    """One worker alive, one stopped cleanly, one silent for ten minutes."""
    now = utcnow()
    with unit_of_work(sessions) as session:
        for worker_id, beat in (("alive", now), ("stopped", now), ("gone", now)):
            moment = beat - dt.timedelta(minutes=10) if worker_id == "gone" else beat
            workers.register(session, worker_id, host="node", pid=1, queues=["exports"], now=moment)
        workers.mark_stopped(session, "stopped")


def test_metrics_match_the_jobs_run_the_queues_and_the_workers(
    client: TestClient,
    ctx: JobContext,
    roster: SmallDistrict,
    redis_broker: RedisBroker,
    redis_namespace: str,
) -> None:
    # given two completed exports of the 4 students, a failed one, a queued one, an import
    # awaiting its file; three messages waiting and a dead letter; workers seen
    for _ in range(2):
        run_job(ctx, queued_export(ctx.sessions, roster), run_export)
    with unit_of_work(ctx.sessions) as session:  # one of them needed three deliveries
        session.execute(update(Job).where(Job.status == "completed").values(attempts=3))
    run_job(ctx, queued_export(ctx.sessions, roster), failing)
    queued_export(ctx.sessions, roster)
    awaiting_import(ctx.sessions, roster)
    for n in range(3):
        redis_broker.enqueue(message(f"job-{n}"))
    redis_broker.client.zadd(f"{redis_namespace}:imports.XQ", {"dead-1": 1})
    redis_broker.client.hset(f"{redis_namespace}:imports.XQ.msgs", "dead-1", message("x").encode())
    seen_workers(ctx.sessions)

    # when
    response = client.get("/metrics", headers=BEARER)

    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    jobs = {
        (dict(labels)["kind"], dict(labels)["status"]): count
        for (name, labels), count in found.items()
        if name == "rosterjobs_jobs"
    }
    assert jobs == {
        ("export", "completed"): 2,
        ("export", "failed"): 1,
        ("export", "queued"): 1,
        ("import", "awaiting_upload"): 1,
    }
    assert value(found, "rosterjobs_job_retries_total", kind="export") == 4
    rows = "rosterjobs_rows_processed_total"
    assert value(found, rows, kind="export", entity="students") == 8
    assert value(found, rows, kind="import", entity="students") == 0
    duration = "rosterjobs_job_duration_seconds"
    assert value(found, f"{duration}_count", kind="export") == 3
    assert value(found, f"{duration}_bucket", kind="export", le="+Inf") == 3
    assert value(found, f"{duration}_bucket", kind="export", le="14400.0") == 3
    assert 0 <= value(found, f"{duration}_sum", kind="export") < 60
    assert value(found, "rosterjobs_queue_depth", queue="exports") == 3
    assert value(found, "rosterjobs_queue_depth", queue="imports") == 0
    assert value(found, "rosterjobs_queue_delayed", queue="exports") == 0
    assert value(found, "rosterjobs_dead_letters", queue="imports") == 1
    assert value(found, "rosterjobs_dead_letters", queue="exports") == 0
    assert value(found, "rosterjobs_workers") == 1
    assert value(found, "rosterjobs_stuck_jobs") == 0


def test_a_running_job_silent_past_the_threshold_counts_as_stuck(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given one job silent for a minute and one heard from two seconds ago
    running_export(sessions, roster, silent_for_s=60)
    running_export(sessions, roster, silent_for_s=2)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RosterjobsCollector(sessions, StubBroker(), stale_after_s=30))

    # when
    found = samples(generate_latest(registry).decode())

    # then
    assert value(found, "rosterjobs_stuck_jobs") == 1
    assert value(found, "rosterjobs_jobs", kind="export", entity="students", status="running") == 2


def test_without_the_operations_token_metrics_are_refused(client: TestClient) -> None:
    # when
    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    basic = client.get("/metrics", headers={"Authorization": f"Basic {OPS_TOKEN}"})

    # then
    assert [r.status_code for r in (missing, wrong, basic)] == [401, 401, 401]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert OPS_TOKEN not in wrong.text


def test_the_sixth_wrong_token_within_a_minute_gets_429_and_prometheus_elsewhere_still_scrapes(
    ctx: JobContext, engine: Engine, tmp_path: Path, redis_broker: RedisBroker
) -> None:
    # given one API process, a guesser at one address and Prometheus at another
    app = create_app(make_runtime(ctx, engine, tmp_path, redis_broker, ops_token=OPS_TOKEN))
    wrong = {"Authorization": "Bearer not-the-token"}
    with TestClient(app) as guesser, TestClient(app, client=("10.1.2.3", 40000)) as prometheus:
        first_five = [guesser.get("/metrics", headers=wrong).status_code for _ in range(5)]

        # when
        sixth = guesser.get("/metrics", headers=wrong)
        scrape = prometheus.get("/metrics", headers=BEARER)

    # then
    assert first_five == [401] * 5
    assert sixth.status_code == 429
    assert 1 <= int(sixth.headers["retry-after"]) <= 60
    assert "Too many wrong operations tokens" in sixth.json()["detail"]
    assert scrape.status_code == 200


def test_metrics_are_switched_off_when_no_operations_token_is_configured(
    ctx: JobContext, engine: Engine, tmp_path: Path, redis_broker: RedisBroker
) -> None:
    # given
    runtime = make_runtime(ctx, engine, tmp_path, redis_broker, ops_token=None)

    # when
    with TestClient(create_app(runtime)) as client:
        response = client.get("/metrics", headers=BEARER)

    # then
    assert response.status_code == 404


def test_metrics_leave_the_queue_figures_out_while_the_broker_does_not_answer(
    ctx: JobContext, engine: Engine, tmp_path: Path, roster: SmallDistrict
) -> None:
    # given a broker on a port nothing listens on
    dead = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/0")  # type: ignore[no-untyped-call]
    dead.declare_queue("exports")
    queued_export(ctx.sessions, roster)
    runtime = make_runtime(ctx, engine, tmp_path, dead, ops_token=OPS_TOKEN)

    # when
    with TestClient(create_app(runtime)) as client:
        response = client.get("/metrics", headers=BEARER)

    # then
    assert response.status_code == 200
    found = samples(response.text)
    assert value(found, "rosterjobs_jobs", kind="export", entity="students", status="queued") == 1
    assert not [name for name, _ in found if name.startswith("rosterjobs_queue_")]
