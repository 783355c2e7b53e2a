"""Helpers of the HTTP API tests: a runtime on a test's database and storage, tokens as
the portal signs them, polling a job, and a file to import."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from schemas.jobs import JobStatus
from schemas.tokens import issue_token
from storage.db import session_factory
from storage.models import Educator
from storage.objects import ObjectStore
from tests.factories import SmallDistrict
from worker import context
from worker.runtime import Runtime, job_context
from worker.settings import Settings

SECRET = "test-secret-key-not-for-production"
IMPORT_MAX_BYTES = 64 * 1024


def token(
    educator: Educator, *, ttl: int = 600, secret: str = SECRET, now: float | None = None
) -> str:
    return issue_token(
        secret,
        district_id=educator.district_id,
        username=educator.username,
        ttl_seconds=ttl,
        now=now,
    )


def auth(educator: Educator, **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(educator, **options)}"}


def wait_until_finished(
    client: TestClient, job_id: str, headers: dict[str, str], timeout: float = 60
) -> dict[str, Any]:
    """Poll `GET /v1/jobs/{id}` as the portal does, until the job has finished."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if JobStatus(job["status"]).finished:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout}s"
        time.sleep(0.05)


def make_runtime(settings: Settings, engine: Engine, store: ObjectStore, broker: Any) -> Runtime:
    jobs = job_context(settings, session_factory(engine), store)
    context.install(jobs)
    return Runtime(settings, broker, engine, jobs)


HEADER = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,Organizations"
)


def edited_file(roster: SmallDistrict) -> bytes:
    """One row changed (a grade), one row refused (a grade that is not one)."""
    jose, zoe = roster.students[0], roster.students[1]
    lines = [
        HEADER,
        f"{jose.id},José,García,jgarcia,,000123,5,North Elementary",
        f"{zoe.id},Zoë,D'Angelo,zdangelo,,000124,13,North Elementary",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def api_settings_for(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """The API tests' settings: a real database, folder storage in the test's tmp dir,
    two-row batches and a small import limit; `overrides` set what a suite needs."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "storage_url": str(tmp_path / "objects"),
        "secret_key": SECRET,
        "base_dir": tmp_path,
        "batch_rows": 2,
        "import_max_bytes": IMPORT_MAX_BYTES,
    }
    return Settings(**(values | overrides))
