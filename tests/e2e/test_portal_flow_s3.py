"""The production shape, every part a real process: `rosterjobs api`, `rosterjobs worker` on
Redis, `rosterjobs s3-events` on SQS, Postgres, and S3 + SQS served by moto over HTTP.

The portal gets a presigned POST, uploads with a plain HTTP client, and never calls
`start`: the bucket's ObjectCreated event starts the import."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from storage.db import make_engine, session_factory, unit_of_work
from tests import factories
from tests.processes import (
    REDIS_URL,
    Portal,
    api_process,
    fetch,
    post_form,
    rosterjobs_process,
    run_cli,
    service_env,
    worker_process,
)
from tests.s3 import S3_REGION


@pytest.fixture
def aws_env(s3_server: str, s3_bucket: str, sqs_queue: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": S3_REGION,
        "ROSTERJOBS_STORAGE_URL": f"s3://{s3_bucket}/district-files",
    }


def test_a_presigned_upload_to_s3_starts_its_import_through_sqs_without_a_start_call(
    postgres_url: str, tmp_path: Path, redis_namespace: str, aws_env: dict[str, str],
    sqs_queue: str,
) -> None:  # fmt: skip
    # given every service as its own process
    engine = make_engine(postgres_url)
    with unit_of_work(session_factory(engine)) as session:
        roster = factories.small_district(session)
    engine.dispose()
    env = service_env(
        postgres_url, aws_env.pop("ROSTERJOBS_STORAGE_URL"),
        ROSTERJOBS_BROKER_URL=REDIS_URL, ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
        **aws_env,
    )  # fmt: skip
    setup = run_cli(env, "s3-events", "--queue-url", sqs_queue, "--setup", cwd=tmp_path)
    assert setup.returncode == 0, setup.stderr
    token = run_cli(
        env, "token", "--district", str(roster.district.id), "--as",
        roster.district_admin.username, cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    with (
        worker_process(env, tmp_path),
        rosterjobs_process(env, tmp_path, "s3-events", "--queue-url", sqs_queue),
        api_process(env, tmp_path) as base,
    ):
        portal = Portal(base, token)

        # when the portal exports, then uploads an edited file to the presigned target
        export = portal.wait(portal.call("POST", "/v1/exports", {"entity": "students"})["id"])
        exported = fetch(export["result_url"])
        rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
        rows[1][rows[0].index("Grade")] = "12"
        rows.append(["", "New", "Kid", "newkid", "", "777", "2", "North Elementary"])
        edited = io.StringIO()
        csv.writer(edited).writerows(rows)
        created = portal.call("POST", "/v1/imports", {"entity": "students", "filename": "e.csv"})
        upload = created["upload"]
        data = edited.getvalue().encode("utf-8-sig")
        assert post_form(upload["url"], upload["fields"], "edited.csv", data) in (200, 201, 204)
        job = portal.wait(created["id"], timeout=90)
        errors = fetch(job["error_report_url"]).decode("utf-8-sig")

    # then
    assert export["status"] == "completed" and export["counts"] == {"rows": 4}
    assert job["status"] == "completed_with_errors", job["error"]
    assert job["counts"] == {"created": 0, "updated": 1, "unchanged": 3, "failed": 1}
    refused = list(csv.DictReader(io.StringIO(errors, newline="")))
    assert [row["Username"] for row in refused] == ["newkid"]
    assert "Password: is required for a new student." in refused[0]["Errors"]
    assert job["attempts"] == 1
