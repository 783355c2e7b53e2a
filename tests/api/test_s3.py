"""Imports through the API with S3 storage (moto's server over real HTTP): a presigned POST
for the job's key, then `start`, then the reports through presigned GETs.

moto does not enforce a POST policy's expiry or size range, so those are read from the
policy itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import create_app
from storage.s3 import S3Store
from tests.api.helpers import (
    IMPORT_MAX_BYTES,
    auth,
    edited_file,
    make_runtime,
    rows,
    wait_until_finished,
)
from tests.factories import SmallDistrict
from tests.processes import fetch, post_form
from worker.settings import Settings


@pytest.fixture
def s3_client_app(
    api_settings: Settings, engine: Engine, s3_store: S3Store, api_broker: Any
) -> Iterator[TestClient]:
    runtime = make_runtime(api_settings, engine, s3_store, api_broker)
    with TestClient(create_app(runtime)) as client:
        yield client


def test_an_s3_import_uploads_by_presigned_post_and_runs_when_started(
    s3_client_app: TestClient, s3_store: S3Store, roster: SmallDistrict
) -> None:
    # given
    client, headers = s3_client_app, auth(roster.district_admin)
    created = client.post(
        "/v1/imports", json={"entity": "students", "filename": "edited.csv"}, headers=headers
    ).json()
    upload = created["upload"]

    # when the file is posted to S3 as the form says, then the import is started
    posted = post_form(upload["url"], upload["fields"], "edited.csv", edited_file(roster))
    started = client.post(f"/v1/imports/{created['id']}/start", headers=headers)
    job = wait_until_finished(client, created["id"], headers)

    # then
    assert upload["method"] == "POST"
    assert upload["fields"]["key"] == (
        f"rosterjobs/imports/{roster.district.id}/{created['id']}/upload-edited.csv"
    )
    assert posted in (200, 201, 204)
    assert started.status_code == 202, started.text
    assert job["status"] == "completed_with_errors", job["error"]
    assert job["counts"]["failed"] == 1
    refused = rows(fetch(job["error_report_url"]))
    assert [row["Username"] for row in refused] == ["zdangelo"]
    assert parse_qs(urlsplit(job["error_report_url"]).query)["X-Amz-Expires"] == ["900"]


def test_the_presigned_post_policy_limits_size_and_lifetime(
    s3_client_app: TestClient, roster: SmallDistrict
) -> None:
    # when
    before = dt.datetime.now(dt.UTC)
    created = s3_client_app.post(
        "/v1/imports", json={"entity": "classes"}, headers=auth(roster.district_admin)
    ).json()

    # then
    upload = created["upload"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    expiration = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs((expiration - before).total_seconds() - 900) < 5
    assert ["content-length-range", 1, IMPORT_MAX_BYTES] in policy["conditions"]
    assert {"key": upload["fields"]["key"]} in policy["conditions"]
    assert upload["max_bytes"] == IMPORT_MAX_BYTES
    assert abs(dt.datetime.fromisoformat(upload["expires_at"]) - expiration).total_seconds() < 5


def test_start_refuses_an_s3_import_whose_file_has_not_landed(
    s3_client_app: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)
    created = s3_client_app.post("/v1/imports", json={"entity": "students"}, headers=headers)

    # when
    started = s3_client_app.post(f"/v1/imports/{created.json()['id']}/start", headers=headers)

    # then
    assert started.status_code == 409
    assert "not been uploaded" in started.json()["detail"]
