"""The job's `/ops` page lists its notifications and their attempts, with a Resend action
(a POST with the page's CSRF token), and `/metrics` counts them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from jobs.lifecycle import request_cancel
from jobs.notify import Sender, deliver_due
from storage import job_records, webhook_deliveries
from storage.db import unit_of_work
from tests.api.conftest import api_broker, roster, runtime, store
from tests.factories import SmallDistrict
from tests.ops_pages.conftest import api_settings, client, ops
from tests.ops_pages.helpers import OPS_TOKEN, csrf_of, job, text_of
from tests.webhooks.helpers import deliveries, target
from tests.webhooks.receiver import receiving
from worker.runtime import Runtime

__all__ = ["api_broker", "api_settings", "client", "ops", "roster", "runtime", "store"]


@pytest.fixture
def cancelled(runtime: Runtime, roster: SmallDistrict) -> str:
    """A queued job cancelled by its owner, on an API whose sessions write the outbox."""
    webhook_deliveries.enable_outbox(runtime.jobs.sessions)
    with unit_of_work(runtime.jobs.sessions) as session:
        job_id = job(session, roster.district.id, status="queued").id
    with unit_of_work(runtime.jobs.sessions) as session:
        found = job_records.get_for_update(session, job_id)
        assert found is not None and request_cancel(session, found)
    return job_id


def test_the_job_page_lists_the_attempts_and_resend_sends_the_same_event_again(
    ops: TestClient, runtime: Runtime, cancelled: str
) -> None:
    with receiving([503]) as receiver:
        sender = Sender(runtime.jobs.sessions, runtime.jobs.store, target(receiver.url))
        # given a notification whose one attempt was answered 503
        deliver_due(sender)
        delivery = deliveries(runtime.jobs.sessions, cancelled)[0]

        # when the operator opens the job's page
        page = ops.get(f"/ops/jobs/{cancelled}").text

        # then it shows the notification, still retrying, and its attempt
        text = text_of(page)
        assert f"Notifications job.finished {delivery.id} pending" in text
        assert "HTTP 503" in text

        # when they press Resend (with the page's CSRF token), and a worker sends it
        response = ops.post(
            f"/ops/jobs/{cancelled}/webhooks/{delivery.id}/resend",
            data={"csrf": csrf_of(page)},
            follow_redirects=False,
        )
        assert response.status_code == 303
        deliver_due(sender)

    # then the receiver got the same event a second time, and the page shows it delivered
    assert [(r.webhook_id, r.answered) for r in receiver.requests] == [
        (delivery.id, 503),
        (delivery.id, 200),
    ]
    text = text_of(ops.get(response.headers["location"]).text)
    assert "The notification will be sent again now, with the same webhook-id." in text
    assert f"{delivery.id} delivered" in text and "HTTP 200" in text


def test_resend_without_the_csrf_token_sends_nothing(
    ops: TestClient, runtime: Runtime, cancelled: str
) -> None:
    delivery = deliveries(runtime.jobs.sessions, cancelled)[0]
    with runtime.jobs.sessions() as session:
        ended = webhook_deliveries.get(session, delivery.id)
        assert ended is not None
    response = ops.post(
        f"/ops/jobs/{cancelled}/webhooks/{delivery.id}/resend", follow_redirects=False
    )
    assert response.status_code == 403
    assert deliveries(runtime.jobs.sessions, cancelled)[0].next_attempt_at == ended.next_attempt_at


def test_metrics_count_notifications_by_outcome_and_the_pending_ones(
    ops: TestClient, runtime: Runtime, cancelled: str, roster: SmallDistrict
) -> None:
    # given one notification delivered, and one more job's waiting for a retry
    with receiving([200, 500]) as receiver:
        sender = Sender(
            runtime.jobs.sessions, runtime.jobs.store, target(receiver.url, retries=(3600,))
        )
        deliver_due(sender)
        with unit_of_work(runtime.jobs.sessions) as session:
            other = job(session, roster.district.id, status="queued").id
            found = job_records.get_for_update(session, other)
            assert found is not None and request_cancel(session, found)
        deliver_due(sender)

    # when Prometheus scrapes
    body = ops.get("/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"}).text

    # then
    assert 'rosterjobs_webhook_deliveries_total{outcome="delivered"} 1.0' in body
    assert 'rosterjobs_webhook_deliveries_total{outcome="failed"} 0.0' in body
    assert "rosterjobs_webhook_pending 1.0" in body
