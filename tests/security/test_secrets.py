"""Passwords set by an import appear in no export, report, job record, API answer or log
line; the secret key and tokens appear in no log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.api.helpers import SECRET, auth, token
from tests.factories import SmallDistrict
from tests.security.walk import admin, exported, imported, student_file

PASSWORDS = ("Zebra-Quartz-7731!", "Mango*Tundra*5520", "Violet#Harbor#9048")


@pytest.fixture
def stdlib_logs() -> Iterator[io.StringIO]:
    """Everything the root logger writes during the test, formatted as the service does,
    but for the test's own HTTP client (httpx logs the URLs it fetches, links and all)."""
    out = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(out)
    handler.addFilter(lambda record: not record.name.startswith("httpx"))
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


def job_records(engine: Engine) -> str:
    with engine.connect() as connection:
        tables = ("jobs", "import_row_results", "import_changes", "job_events")
        dumped = {
            table: [
                dict(row._mapping) for row in connection.execute(text(f"SELECT * FROM {table}"))
            ]
            for table in tables
        }
    return json.dumps(dumped, default=str)


def test_passwords_set_by_an_import_appear_nowhere_and_secrets_stay_out_of_logs(
    client: TestClient, roster: SmallDistrict, engine: Engine, stdlib_logs: io.StringIO
) -> None:
    # given a file setting passwords: an update, a new student and a refused row
    jose, zoe = roster.students[0], roster.students[1]
    data = student_file(
        [
            f"{jose.id},José,García,jgarcia,{PASSWORDS[0]},000123,3,North Elementary",
            f",Nia,Okafor,nokafor,{PASSWORDS[1]},000999,4,North Elementary",
            f"{zoe.id},Zoë,D'Angelo,zdangelo,{PASSWORDS[2]},000124,13,North Elementary",
        ]
    )
    headers = admin(roster)

    # when it is imported and the roster exported, all while logs are captured
    with structlog.testing.capture_logs() as events:
        job = imported(client, headers, "students", data)
        export, export_rows = exported(client, headers, {"entity": "students", "columns": None})
        listed = client.get("/v1/jobs", headers=headers).text
    outputs = {
        "export": json.dumps(export_rows),
        "result file": client.get(job["result_url"]).text,
        "errors file": client.get(job["error_report_url"]).text,
        "job records": job_records(engine),
        "API job objects": listed + json.dumps(job) + json.dumps(export),
        "structlog events": json.dumps(events, default=str),
        "stdlib logs": stdlib_logs.getvalue(),
    }

    # then
    assert job["counts"]["failed"] == 1, job
    assert job["counts"]["created"] == 1, job
    for where, content in outputs.items():
        for password in PASSWORDS:
            assert password not in content, where
    logs = outputs["structlog events"] + outputs["stdlib logs"]
    assert events, "nothing was logged: the check would be empty"
    assert SECRET not in logs
    assert headers["Authorization"].removeprefix("Bearer ") not in logs
    assert token(roster.district_admin) not in logs
    assert auth(roster.teacher)["Authorization"] not in logs
    for link in (job["result_url"], export["result_url"]):
        assert query_signature(link) not in logs


def query_signature(url: str) -> str:
    return parse_qs(urlsplit(url).query)["signature"][0]
