"""Queries of the webhook_deliveries table: the outbox of the portal's notifications.

A delivery is added in the same transaction as the job's final state (`add_if_enabled`, called
wherever a job is finished), so a crash can neither lose a notification nor send one for
a state that was rolled back. Whether the outbox is on is a property of the process's
session factory (`enable_outbox`, set at start-up when `ROSTERJOBS_WEBHOOK_URL` is set):
every place that finishes a job already has a session, and none of them needs to know the
setting.

Senders (`jobs.notify`) take due deliveries with `claim_due`: one conditional UPDATE that
moves `next_attempt_at` past the attempt (a lease), so two senders (threads or processes,
on Postgres or SQLite) never take the same delivery at once, and a sender that dies
holding one only delays it until its lease ends.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import WebhookDelivery, utcnow

OUTBOX = "rosterjobs.webhook_outbox"
"""The key of a session's `info` that says the outbox is on."""
JOB_FINISHED = "job.finished"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # its retries were used up
    GONE = "gone"  # the receiver answered 410 Gone: never tried again


ENDED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.GONE)


def enable_outbox(sessions: sessionmaker[Session]) -> None:
    """Sessions made by `sessions` from now on write a delivery for every job they finish."""
    sessions.configure(info={OUTBOX: True})


def new_delivery_id() -> str:
    """The `webhook-id` of one event: random, the same on every attempt to send it."""
    return f"msg_{secrets.token_hex(16)}"


def add_if_enabled(session: Session, job_id: str) -> WebhookDelivery | None:
    """Add a `job.finished` delivery for the job, due now, in the caller's transaction, when
    the session's outbox is on; None otherwise."""
    if not session.info.get(OUTBOX):
        return None
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_delivery_id(),
        job_id=job_id,
        event_type=JOB_FINISHED,
        created_at=now,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        step=0,
        next_attempt_at=now,
    )
    session.add(delivery)
    return delivery


def claim_due(session: Session, *, lease_s: float, now: dt.datetime | None = None) -> str | None:
    """Take the delivery due first, if any: its id, with `next_attempt_at` moved `lease_s`
    ahead, so no other sender takes it while this one tries (and another does, once the
    lease ends, if this one died). Commit before sending."""
    moment = now or utcnow()
    candidates = (
        select(WebhookDelivery.id)
        .where(_due(moment))
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(5)
        .with_for_update(skip_locked=True)
    )
    for delivery_id in session.scalars(candidates).all():
        statement = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, _due(moment))
            .values(next_attempt_at=moment + dt.timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], session.execute(statement)).rowcount == 1:
            return str(delivery_id)
    return None


def _due(moment: dt.datetime) -> Any:
    return (WebhookDelivery.status == DeliveryStatus.PENDING.value) & (
        WebhookDelivery.next_attempt_at <= moment
    )


def get(session: Session, delivery_id: str) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def of_job(session: Session, job_id: str) -> Sequence[WebhookDelivery]:
    """The job's deliveries, oldest first."""
    statement = (
        select(WebhookDelivery)
        .where(WebhookDelivery.job_id == job_id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    )
    return session.scalars(statement).all()


def resend(session: Session, job_id: str, delivery_id: str) -> bool:
    """Send the delivery again now, with the same `webhook-id` and a fresh retry schedule,
    whatever became of it; False when the job has no such delivery."""
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.job_id == job_id)
        .values(
            status=DeliveryStatus.PENDING.value, step=0, next_attempt_at=utcnow(), ended_at=None
        )
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def counts_by_status(session: Session) -> dict[str, int]:
    """How many deliveries are in each status (`/metrics`)."""
    statement = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    return {status: int(count) for status, count in session.execute(statement)}
