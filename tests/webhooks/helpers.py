"""What the webhook tests share: jobs run to their end here as a worker runs them, with the
outbox on, and the sender thread of a worker (`worker.webhooks.WebhookThread`) running in
the test process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import JobContext, mark_queued, run_job
from jobs.notify import Sender
from jobs.notify_http import WebhookTarget
from jobs.requests import ExportRequest, ImportRequest, submit_export, submit_import
from storage import webhook_attempts, webhook_deliveries
from storage.db import unit_of_work
from storage.models import Job, WebhookAttempt, WebhookDelivery
from tests.factories import SmallDistrict
from tests.webhooks.receiver import SECRET
from worker.webhooks import WebhookThread

QUICK_RETRIES = (0.05, 0.05)
"""Three attempts, a twentieth of a second apart (the real schedule spans a day)."""


def target(
    url: str, *, timeout_s: float = 5.0, retries: tuple[float, ...] = QUICK_RETRIES
) -> WebhookTarget:
    return WebhookTarget(url=url, secrets=(SECRET,), timeout_s=timeout_s, retry_schedule_s=retries)


@contextmanager
def sending(ctx: JobContext, webhook: WebhookTarget) -> Iterator[WebhookThread]:
    """A worker's sender thread, looking for due deliveries every 20 ms."""
    thread = WebhookThread(lambda: Sender(ctx.sessions, ctx.store, webhook), poll_s=0.02)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop(timeout_s=webhook.timeout_s)


def export(ctx: JobContext, roster: SmallDistrict) -> str:
    request = ExportRequest(
        district=str(roster.district.id), username=roster.district_admin.username, entity="students"
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    return job_id


def import_file(ctx: JobContext, roster: SmallDistrict, data: bytes) -> str:
    request = ImportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="students",
        filename="students.csv",
    )
    with unit_of_work(ctx.sessions) as session:
        job = submit_import(session, request)
        job_id, key = job.id, job.input_key or ""
    with ctx.store.open_write(key) as stream:
        stream.write(data)
    with unit_of_work(ctx.sessions) as session:
        found = session.get(Job, job_id)
        assert found is not None
        mark_queued(session, found)
    run_job(ctx, job_id, run_import)
    return job_id


def deliveries(sessions: sessionmaker[Session], job_id: str) -> list[WebhookDelivery]:
    with sessions() as session:
        return list(webhook_deliveries.of_job(session, job_id))


def attempts(sessions: sessionmaker[Session], delivery_id: str) -> list[WebhookAttempt]:
    with sessions() as session:
        return webhook_attempts.of_deliveries(session, [delivery_id])[delivery_id]


def corpus(name: str) -> bytes:
    return (Path(__file__).parents[1] / "corpus" / name).read_bytes()


def wait_for_delivery(
    sessions: sessionmaker[Session], job_id: str, status: str, *, timeout: float = 60
) -> WebhookDelivery:
    """The job's one delivery once it is `status`; fails after `timeout` saying where it is."""
    deadline = time.monotonic() + timeout
    while True:
        found = deliveries(sessions, job_id)
        if len(found) == 1 and found[0].status == status:
            return found[0]
        assert time.monotonic() < deadline, [(d.status, d.attempts) for d in found]
        time.sleep(0.02)
