"""Queries of the webhook_attempts table: every try at sending a delivery, as the job's
`/ops` page lists them. An attempt holds the receiver's status code or the error, never
the body or a header."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import WebhookAttempt, utcnow

ERROR_MAX_CHARS = 300


def record(
    session: Session,
    delivery_id: str,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> WebhookAttempt:
    attempt = WebhookAttempt(
        delivery_id=delivery_id,
        at=utcnow(),
        status_code=status_code,
        error=error[:ERROR_MAX_CHARS] if error else None,
        duration_ms=duration_ms,
    )
    session.add(attempt)
    return attempt


def of_deliveries(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
    """Each delivery's attempts, oldest first."""
    found: dict[str, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    statement = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookAttempt.at, WebhookAttempt.id)
    )
    for attempt in session.scalars(statement):
        found[attempt.delivery_id].append(attempt)
    return found
