"""Which jobs an educator may see, one at a time or a page at a time.

- a district admin: every job of the district;
- a school admin: their own jobs, and those requested by teachers whose schools are all
  among the admin's schools (not jobs of district admins, other school admins, or teachers
  who also work elsewhere: their files may hold rows outside the admin's reach);
- a teacher: the jobs they requested.

Another district's job is answered exactly as a job that does not exist (404); a job of the
same district outside the educator's reach is a 403.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.errors import field_errors, not_found, refused
from schemas.scope import Scope
from storage.job_reach import visible_to
from storage.models import Job

JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def job_for(session: Session, scope: Scope, job_id: str, *, lock: bool = False) -> Job:
    """The job, when `scope` may see it; else 404 (other district, or none) or 403."""
    job = session.get(Job, job_id, with_for_update=lock) if JOB_ID.fullmatch(job_id) else None
    if job is None or job.district_id != scope.district_id:
        raise not_found()
    visible = session.scalar(select(Job.id).where(Job.id == job_id, visible_to(scope)))
    if visible is None:
        raise refused(403, "This job was requested by an educator outside your reach.")
    return job


@dataclass(frozen=True)
class JobQuery:
    status: str | None = None
    kind: str | None = None
    entity: str | None = None
    limit: int = 20
    cursor: str | None = None


def page_of_jobs(
    session: Session, scope: Scope, query: JobQuery
) -> tuple[Sequence[Job], str | None]:
    """Newest first; answers the page and the cursor of the next one (None at the end)."""
    statement = (
        select(Job)
        .where(visible_to(scope))
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(query.limit + 1)
    )
    for column, value in ((Job.status, query.status), (Job.kind, query.kind)):
        if value is not None:
            statement = statement.where(column == value)
    if query.entity is not None:
        statement = statement.where(Job.entity == query.entity)
    if query.cursor is not None:
        created, last_id = decode_cursor(query.cursor)
        statement = statement.where(
            or_(Job.created_at < created, and_(Job.created_at == created, Job.id < last_id))
        )
    found = session.scalars(statement).all()
    if len(found) <= query.limit:
        return found, None
    page = found[: query.limit]
    return page, encode_cursor(page[-1])


def encode_cursor(job: Job) -> str:
    created = job.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    raw = json.dumps([created.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The position a cursor names; a 422 on the `cursor` field when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_text, job_id = json.loads(raw)
        created = dt.datetime.fromisoformat(created_text)
        if not JOB_ID.fullmatch(job_id):
            raise ValueError(job_id)
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        return created.astimezone(dt.UTC), job_id
    except (binascii.Error, TypeError, ValueError, OverflowError) as err:
        raise field_errors((("query", "cursor"), "Not a cursor this API returned.")) from err
