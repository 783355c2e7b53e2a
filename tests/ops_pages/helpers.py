"""Helpers of the dashboard's page tests: jobs recorded as a worker would leave them,
signing in, and reading what a page shows."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from storage.models import Job, new_job_id, utcnow

OPS_TOKEN = "ops-token-for-the-page-tests-0123456789"
JOB_LINK = re.compile(r'href="/ops/jobs/([0-9a-f-]{36})"')
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def sign_in(client: TestClient, token: str = OPS_TOKEN) -> Any:
    return client.post("/ops/login", data={"token": token, "next": "/ops"}, follow_redirects=False)


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found and found.group(1), "the page has no form with a CSRF token"
    return found.group(1)


def job_ids(page: str) -> list[str]:
    """The jobs a page links to, in order, once each."""
    return list(dict.fromkeys(JOB_LINK.findall(page)))


def text_of(page: str) -> str:
    """The page's text without tags, as a reader sees it."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def job(
    session: Session,
    district_id: int,
    *,
    status: str = "completed",
    kind: str = "export",
    entity: str = "students",
    created_at: dt.datetime | None = None,
    **fields: Any,
) -> Job:
    """A job record with valid defaults; a finished one has run for a few seconds."""
    created = created_at or utcnow()
    finished = status in {"completed", "completed_with_errors", "failed", "cancelled"}
    values: dict[str, Any] = {
        "id": new_job_id(),
        "kind": kind,
        "entity": entity,
        "district_id": district_id,
        "requested_by_id": 1,
        "requested_by": "admin@example.org",
        "status": status,
        "options": {},
        "counts": {},
        "warnings": {},
        "processed": 0,
        "attempts": 1 if status != "queued" else 0,
        "checkpoint": 0,
        "cancel_requested": False,
        "created_at": created,
        "started_at": created + dt.timedelta(seconds=1) if status != "queued" else None,
        "finished_at": created + dt.timedelta(seconds=5) if finished else None,
    }
    row = Job(**(values | fields))
    session.add(row)
    session.flush()
    return row
