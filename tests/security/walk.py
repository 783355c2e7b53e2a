"""Shared steps of the security tests: a job run to its end through the API, its files
downloaded through its own links, and a file uploaded to an import's signed target."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import HEADER, auth, rows, wait_until_finished
from tests.factories import SmallDistrict

NOBODY = 99999999
"""A Database ID and job-free number that no roster row has."""

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"


def exported(
    client: TestClient, headers: dict[str, str], body: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The finished export job and its rows."""
    created = client.post("/v1/exports", json=body, headers=headers)
    assert created.status_code == 202, created.text
    job = wait_until_finished(client, created.json()["id"], headers)
    assert job["status"] == "completed", job["error"]
    return job, rows(client.get(job["result_url"]).content)


def imported(
    client: TestClient, headers: dict[str, str], entity: str, data: bytes, **options: Any
) -> dict[str, Any]:
    """The finished import job of `data`, uploaded to its signed PUT target."""
    created = client.post("/v1/imports", json={"entity": entity, **options}, headers=headers)
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    sent = client.put(upload["url"], content=data, headers=upload["headers"])
    assert sent.status_code == 200, sent.text
    return wait_until_finished(client, created.json()["id"], headers)


def student_file(lines: list[str]) -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("utf-8")


def admin(roster: SmallDistrict) -> dict[str, str]:
    return auth(roster.district_admin)
