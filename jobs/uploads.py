"""Upload-triggered imports: which job an uploaded object belongs to, and queuing it once.

S3 tells us about a finished upload with an `ObjectCreated` event (through SQS). Delivery
is at least once and unordered, so an event only ever moves a job from `awaiting_upload`
to `queued` (`jobs.lifecycle.transition`): a duplicate or late event finds nothing to move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.lifecycle import transition
from schemas.jobs import JobKind, JobStatus
from storage.models import Job


@dataclass(frozen=True)
class UploadEvent:
    """One object an S3 event says was created: its bucket and full key (prefix included)."""

    bucket: str
    key: str
    event: str


class NotAnS3Event(ValueError):
    """The message is not an S3 event notification."""


def parse_s3_message(body: str) -> list[UploadEvent]:
    """The created objects an SQS message body names; [] for `s3:TestEvent` and for
    events other than `ObjectCreated:*`. Keys in S3 events are URL-encoded (`+` for space)."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as err:
        raise NotAnS3Event("the message is not JSON") from err
    if not isinstance(payload, dict):
        raise NotAnS3Event("the message is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise NotAnS3Event("the message has no Records")
    return [event for record in records if (event := _created(record)) is not None]


def _created(record: object) -> UploadEvent | None:
    if not isinstance(record, dict):
        return None
    name = str(record.get("eventName", ""))
    s3 = record.get("s3") or {}
    if not name.startswith("ObjectCreated:") or not isinstance(s3, dict):
        return None
    bucket = (s3.get("bucket") or {}).get("name", "")
    key = unquote_plus((s3.get("object") or {}).get("key", ""))
    return UploadEvent(str(bucket), key, name) if key else None


def import_for_key(session: Session, key: str) -> Job | None:
    """The import whose upload lands at `key` (a key relative to the store)."""
    # a commit shares its dry run's upload, and never waits for one
    statement = select(Job).where(
        Job.input_key == key, Job.kind == JobKind.IMPORT.value, Job.source_job_id.is_(None)
    )
    return session.scalars(statement).first()


def queue_upload(session: Session, key: str) -> tuple[Job | None, bool]:
    """The job of `key`, and whether this call queued it (False: unknown, or not waiting)."""
    job = import_for_key(session, key)
    if job is None:
        return None, False
    return job, transition(session, job.id, JobStatus.AWAITING_UPLOAD, JobStatus.QUEUED)
