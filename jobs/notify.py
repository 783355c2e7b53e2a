"""Telling the portal that a job ended: the webhook outbox's sender.

A job's final state and its delivery are written in one transaction
(`storage.webhook_deliveries.add_if_enabled`). Senders (a thread of each worker,
`worker.webhooks`) then run `deliver_due` in turn:

claim (a lease, committed) → build the event (the job object as `GET /v1/jobs/{id}`
shows it, with fresh links) → sign and POST (`jobs.notify_http`) → record the attempt and
what comes next, in one transaction.

What comes next: a 2xx ends it `delivered`; a 410 ends it `gone`; anything else (another
status, a timeout, a refused connection) waits the next step of the target's retry
schedule (`jobs.notify_http.WebhookTarget`, by default `RETRY_SCHEDULE_S`), give
or take a fifth, then is tried again, and ends `failed` once the schedule is used up
(about 27 hours after the event). The `webhook-id` is the delivery's id on every attempt.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session, sessionmaker

from jobs.notify_http import Answer, WebhookTarget, post, signed_headers
from jobs.views import LinkMaker, job_object
from storage import job_records, webhook_attempts, webhook_deliveries
from storage.db import unit_of_work
from storage.models import WebhookDelivery, utcnow
from storage.objects import ObjectStore
from storage.webhook_deliveries import DeliveryStatus

log = structlog.get_logger("rosterjobs.webhooks")

JITTER = 0.2
GONE = 410


@dataclass(frozen=True)
class Sender:
    """What `deliver_due` needs: the sessions, the store and link lifetime the job object's
    fresh links come from (`links`, when given, makes them instead), and the target."""

    sessions: sessionmaker[Session]
    store: ObjectStore
    target: WebhookTarget
    link_ttl: int = 900
    links: LinkMaker | None = None
    jitter: Callable[[], float] = field(default=lambda: random.uniform(1 - JITTER, 1 + JITTER))


def deliver_due(sender: Sender, *, keep_going: Callable[[], bool] = lambda: True) -> int:
    """Send every delivery that is due, one at a time, while `keep_going()`; how many were
    tried."""
    tried = 0
    while keep_going():
        with unit_of_work(sender.sessions) as session:
            delivery_id = webhook_deliveries.claim_due(session, lease_s=sender.target.lease_s)
        if delivery_id is None:
            return tried
        deliver(sender, delivery_id)
        tried += 1
    return tried


def deliver(sender: Sender, delivery_id: str) -> Answer | None:
    """One attempt at a claimed delivery, recorded; None when it vanished meanwhile."""
    answer = _attempt(sender, delivery_id)
    if answer is None:
        return None
    with unit_of_work(sender.sessions) as session:
        delivery = webhook_deliveries.get(session, delivery_id)
        if delivery is None:
            return answer
        webhook_attempts.record(
            session,
            delivery_id,
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=answer.duration_ms,
        )
        _after(sender, delivery, answer)
    _log(delivery, answer)
    return answer


def _attempt(sender: Sender, delivery_id: str) -> Answer | None:
    """Build the event, sign it and send it. An event that cannot be built (the store
    could not make a link) is an attempt that failed, retried like one."""
    try:
        body = _event(sender, delivery_id)
    except Exception as err:
        log.error("webhook.event_failed", webhook_id=delivery_id, error=type(err).__name__)
        return Answer(None, f"the event could not be built ({type(err).__name__})", 0)
    if body is None:
        return None
    headers = signed_headers(sender.target.secrets, delivery_id, body)
    return post(sender.target.url, headers, body, timeout_s=sender.target.timeout_s)


def _event(sender: Sender, delivery_id: str) -> bytes | None:
    """The delivery's body: the job as it is now, with fresh links."""
    with sender.sessions() as session:
        delivery = webhook_deliveries.get(session, delivery_id)
        job = job_records.get(session, delivery.job_id) if delivery else None
        if delivery is None or job is None:
            return None
        data = job_object(job, sender.store, link_ttl=sender.link_ttl, links=sender.links)
        event = {
            "type": delivery.event_type,
            "timestamp": _iso(delivery.created_at),
            "data": data,
        }
    return json.dumps(event, separators=(",", ":")).encode()


def _after(sender: Sender, delivery: WebhookDelivery, answer: Answer) -> None:
    """What the attempt decides: delivered, gone, failed, or the next try's time."""
    delivery.attempts += 1
    now = utcnow()
    status = answer.status_code
    schedule = sender.target.retry_schedule_s
    if status is not None and 200 <= status < 300:
        _end(delivery, DeliveryStatus.DELIVERED, now)
    elif status == GONE:
        _end(delivery, DeliveryStatus.GONE, now)
    elif delivery.step >= len(schedule):
        _end(delivery, DeliveryStatus.FAILED, now)
    else:
        wait_s = schedule[delivery.step] * sender.jitter()
        delivery.next_attempt_at = now + dt.timedelta(seconds=wait_s)
        delivery.step += 1


def _end(delivery: WebhookDelivery, status: DeliveryStatus, now: dt.datetime) -> None:
    delivery.status = status.value
    delivery.ended_at = now


def _log(delivery: WebhookDelivery, answer: Answer) -> None:
    fields = {
        "webhook_id": delivery.id,
        "job_id": delivery.job_id,
        "attempt": delivery.attempts,
        "status_code": answer.status_code,
        "error": answer.error,
        "duration_ms": answer.duration_ms,
        "outcome": delivery.status,
    }
    if delivery.status == DeliveryStatus.DELIVERED.value:
        log.info("webhook.delivered", **fields)
    elif delivery.status == DeliveryStatus.PENDING.value:
        retry_at = _iso(delivery.next_attempt_at)
        log.warning("webhook.retry_scheduled", next_attempt_at=retry_at, **fields)
    else:
        log.error("webhook.given_up", **fields)


def _iso(moment: dt.datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


def pending_count(session: Session) -> int:
    return webhook_deliveries.counts_by_status(session).get(DeliveryStatus.PENDING.value, 0)
