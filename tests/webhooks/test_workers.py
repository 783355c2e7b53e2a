"""Webhooks from real `rosterjobs worker` processes on Redis and Postgres: a worker SIGKILLed
after a job's final state was committed, while its notification was in hand but not yet
answered, leaves it to another worker, which sends it; and two worker processes working
through 200 jobs send 200 distinct events (a duplicate only ever with the same
`webhook-id`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from storage.db import make_engine, session_factory
from storage.seed import seed_district
from tests.crash.helpers import kill
from tests.load.traffic import portal, seed_districts, wait_for_workers, worker_env
from tests.processes import wait_for, worker_process
from tests.webhooks.helpers import attempts, deliveries, wait_for_delivery
from tests.webhooks.receiver import HANG, SECRET, body_of, receiving

JOBS = 200


def webhook_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "ROSTERJOBS_WEBHOOK_URL": url,
        "ROSTERJOBS_WEBHOOK_SECRET": SECRET,
        "ROSTERJOBS_WEBHOOK_RETRY_SECONDS": "0.2,0.2",
        **extra,
    }


def test_a_worker_killed_holding_a_notification_leaves_it_to_another_that_sends_it_once(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given a receiver that leaves the first request unanswered, and one worker
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    district = seed_district(engine, name="Sigkill Springs", students=5)
    objects = tmp_path / "objects"
    with receiving([HANG]) as receiver, portal(postgres_url, redis_namespace, objects) as sender:
        env = worker_env(
            postgres_url,
            redis_namespace,
            objects,
            **webhook_env(receiver.url, ROSTERJOBS_WEBHOOK_TIMEOUT_SECONDS="2"),
        )
        with worker_process(env, tmp_path) as first:
            wait_for_workers(sessions, 1)
            job_id = sender.export(district)
            # when the job has ended, its worker has sent the notification and is killed
            # before any answer came
            receiver.wait_for_requests(1)
            kill(first)
        done = wait_for(sessions, job_id, lambda job: job.finished_at is not None)
        assert done.status == "completed"
        (pending,) = deliveries(sessions, job_id)
        assert (pending.status, pending.attempts) == ("pending", 0)

        # and another worker starts
        with worker_process(env, tmp_path):
            receiver.wait_for_events(1)
            delivered = wait_for_delivery(sessions, job_id, "delivered")

    # then the other worker sent it once, with the same webhook-id, and recorded it
    assert receiver.event_ids() == [delivered.id]
    assert [request.webhook_id for request in receiver.requests] == [delivered.id] * 2
    assert body_of(receiver.events[0])["data"]["id"] == job_id
    assert [(a.status_code, a.error) for a in attempts(sessions, delivered.id)] == [(200, None)]
    engine.dispose()


def test_two_worker_processes_running_200_jobs_send_200_distinct_events(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given ten small districts, a receiver and two worker processes of two threads each
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    districts = seed_districts(postgres_url, 10, students=3)
    objects = tmp_path / "objects"
    with receiving() as receiver, portal(postgres_url, redis_namespace, objects) as sender:
        env = worker_env(
            postgres_url,
            redis_namespace,
            objects,
            ROSTERJOBS_DISTRICT_MAX_RUNNING="20",
            **webhook_env(receiver.url),
        )
        with worker_process(env, tmp_path, processes=2, threads=2):
            wait_for_workers(sessions, 2)

            # when 200 exports are sent
            job_ids = [sender.export(districts[n % len(districts)]) for n in range(JOBS)]

            # then 200 events arrive
            events = receiver.wait_for_events(JOBS, timeout=300)

    jobs_by_id: dict[str, set[str]] = defaultdict(set)
    for event in events:
        data = body_of(event)["data"]
        jobs_by_id[event.webhook_id].add(data["id"])
        assert data["status"] == "completed"
    assert sorted(job for jobs in jobs_by_id.values() for job in jobs) == sorted(job_ids)
    assert all(len(jobs) == 1 for jobs in jobs_by_id.values())
    assert len(jobs_by_id) == JOBS
    # and the workers' logs name the deliveries, never the secret
    logs = "".join(path.read_text(errors="replace") for path in tmp_path.glob("worker-*.log"))
    assert "webhook.delivered" in logs
    assert SECRET.removeprefix("whsec_") not in logs
    engine.dispose()
