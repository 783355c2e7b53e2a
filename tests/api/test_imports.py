"""Imports through the API with folder storage: the signed upload link starts the import,
the reports download through signed links, and bad or late links are refused."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

import api.queueing
from api.links import LinkSigner, upload_resource
from storage.models import Job
from tests.api.helpers import (
    IMPORT_MAX_BYTES,
    SECRET,
    auth,
    edited_file,
    rows,
    wait_until_finished,
)
from tests.factories import SmallDistrict
from worker.runtime import Runtime


def create_import(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/imports", json={"entity": "students", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_an_upload_to_the_signed_link_starts_the_import_and_its_reports_download(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)
    created = create_import(client, headers, filename="edited.csv")
    assert created["status"] == "awaiting_upload"
    assert created["upload"]["method"] == "PUT"
    assert created["upload"]["max_bytes"] == IMPORT_MAX_BYTES

    # when the portal PUTs the file to the link, with no token, and polls the job
    uploaded = client.put(created["upload"]["url"], content=edited_file(roster))
    job = wait_until_finished(client, created["id"], headers)

    # then
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["status"] in ("queued", "running", "completed_with_errors")
    assert job["status"] == "completed_with_errors", job["error"]
    assert job["counts"] == {"created": 0, "updated": 1, "unchanged": 0, "failed": 1}
    result = client.get(job["result_url"])
    errors = client.get(job["error_report_url"])
    assert result.status_code == errors.status_code == 200
    assert [r["Result"] for r in rows(result.content)] == ["updated", "failed"]
    refused = rows(errors.content)
    assert [r["Username"] for r in refused] == ["zdangelo"]
    assert refused[0]["Errors"].startswith("Grade:")
    assert errors.headers["content-type"].startswith("text/csv")
    assert "students-import-errors-" in errors.headers["content-disposition"]


def test_every_read_of_a_job_gives_fresh_links(client: TestClient, roster: SmallDistrict) -> None:
    # given a finished import
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    client.put(created["upload"]["url"], content=edited_file(roster))
    first = wait_until_finished(client, created["id"], headers)

    # when
    time.sleep(1.1)
    second = client.get(f"/v1/jobs/{created['id']}", headers=headers).json()

    # then the link is signed again, with a later expiry
    expiry = [
        int(parse_qs(urlsplit(job["result_url"]).query)["expires"][0]) for job in (first, second)
    ]
    assert expiry[1] > expiry[0]


def tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


def expired_upload_url(job_id: str) -> str:
    """A link signed with the right key that expired a minute ago."""
    expires = int(time.time()) - 60
    signature = LinkSigner(SECRET, 900).signature("PUT", upload_resource(job_id), expires)
    return f"/v1/uploads/{job_id}?" + urlencode({"expires": expires, "signature": signature})


def test_an_expired_or_tampered_upload_link_is_refused_and_nothing_is_queued(
    client: TestClient, runtime: Runtime, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    url = created["upload"]["url"]
    later = str(int(time.time()) + 86_400)

    # when
    attempts = {
        "expired": client.put(expired_upload_url(created["id"]), content=edited_file(roster)),
        "longer life": client.put(tampered(url, expires=later), content=b"x"),
        "bad signature": client.put(tampered(url, signature="0" * 64), content=b"x"),
        "another job": client.put(
            url.replace(created["id"], other_id(client, headers)), content=b"x"
        ),
    }

    # then
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 403)
    assert "expired" in attempts["expired"].json()["detail"]
    job = client.get(f"/v1/jobs/{created['id']}", headers=headers).json()
    assert job["status"] == "awaiting_upload"
    assert not runtime.jobs.store.exists(input_key(runtime, created["id"]))


def other_id(client: TestClient, headers: dict[str, str]) -> str:
    return str(create_import(client, headers)["id"])


def input_key(runtime: Runtime, job_id: str) -> str:
    with runtime.jobs.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.input_key
        return job.input_key


def test_an_expired_or_tampered_download_link_is_refused(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a finished import's result link
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    client.put(created["upload"]["url"], content=edited_file(roster))
    url = wait_until_finished(client, created["id"], headers)["result_url"]
    key = urlsplit(url).path.removeprefix("/v1/files/")
    past = int(time.time()) - 1
    expired_signature = LinkSigner(SECRET, 900).signature("GET", key, past, "r.csv")

    # when
    attempts = {
        "expired": client.get(
            f"/v1/files/{key}?"
            + urlencode({"expires": past, "filename": "r.csv", "signature": expired_signature})
        ),
        "renamed": client.get(tampered(url, filename="other.csv")),
        "another file": client.get(tampered(url).replace("result.csv", "errors.csv")),
        "forged": client.get(
            tampered(url, signature=LinkSigner("wrong", 900).signature("GET", key, past))
        ),
    }

    # then
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 403)
    assert client.get(url).status_code == 200


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_queued(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    too_big = edited_file(roster) + b"x" * IMPORT_MAX_BYTES

    # when: declared by Content-Length, and streamed without one
    declared = client.put(created["upload"]["url"], content=too_big)
    streamed = client.put(created["upload"]["url"], content=iter([too_big[:1000], too_big[1000:]]))

    # then
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert str(IMPORT_MAX_BYTES) in declared.json()["detail"]
    job = client.get(f"/v1/jobs/{created['id']}", headers=headers).json()
    assert job["status"] == "awaiting_upload"
    start = client.post(f"/v1/imports/{created['id']}/start", headers=headers)
    assert start.status_code == 409
    assert "not been uploaded" in start.json()["detail"]


def test_an_upload_to_an_import_that_already_started_is_refused(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    assert client.put(created["upload"]["url"], content=edited_file(roster)).status_code == 200
    wait_until_finished(client, created["id"], headers)

    # when the same link is used again
    again = client.put(created["upload"]["url"], content=b"Database ID\r\n")

    # then
    assert again.status_code == 409
    assert "not awaiting its upload" in again.json()["detail"]


def test_start_refuses_an_import_whose_file_has_not_landed_and_an_export(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    export = client.post("/v1/exports", json={"entity": "classes"}, headers=headers).json()

    # when
    early = client.post(f"/v1/imports/{created['id']}/start", headers=headers)
    not_import = client.post(f"/v1/imports/{export['id']}/start", headers=headers)

    # then
    assert (early.status_code, not_import.status_code) == (409, 409)


def test_concurrent_starts_queue_the_import_exactly_once(
    client: TestClient,
    runtime: Runtime,
    roster: SmallDistrict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a file that landed in storage by another way (as an S3 upload would)
    headers = auth(roster.district_admin)
    created = create_import(client, headers)
    with runtime.jobs.store.open_write(input_key(runtime, created["id"])) as out:
        out.write(edited_file(roster))
    sent: list[str] = []
    real_send = api.queueing.send_job

    def counted_send(rt: Runtime, actor: str, job_id: str) -> None:
        sent.append(job_id)
        real_send(rt, actor, job_id)

    monkeypatch.setattr(api.queueing, "send_job", counted_send)

    # when four starts race
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        response = client.post(f"/v1/imports/{created['id']}/start", headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    job = wait_until_finished(client, created["id"], headers)

    # then
    assert sorted(statuses) == [202, 409, 409, 409]
    assert sent == [created["id"]]
    assert job["attempts"] == 1
    assert job["counts"] == {"created": 0, "updated": 1, "unchanged": 0, "failed": 1}
