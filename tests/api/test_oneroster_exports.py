"""`"include_inactive": true` and `"format": "oneroster"` on `POST /v1/exports`."""

from __future__ import annotations

import csv
import io
import zipfile

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from storage.models import ClassGroup
from tests.api.helpers import auth, wait_until_finished
from tests.factories import SmallDistrict


def class_names(client: TestClient, roster: SmallDistrict, **body: object) -> list[str]:
    headers = auth(roster.district_admin)
    response = client.post("/v1/exports", json={"entity": "classes", **body}, headers=headers)
    assert response.status_code == 202, response.text
    job = wait_until_finished(client, response.json()["id"], headers)
    text = client.get(job["result_url"]).content.decode("utf-8-sig")
    return [row["Class/Group Name"] for row in csv.DictReader(io.StringIO(text, newline=""))]


def test_a_deactivated_class_is_exported_only_when_include_inactive_is_true(
    client: TestClient, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given
    with unit_of_work(sessions) as session:
        session.execute(
            update(ClassGroup).where(ClassGroup.id == roster.class_c.id).values(active=False)
        )

    # when / then
    assert "Grade 7 - Muñoz" not in class_names(client, roster)
    assert "Grade 7 - Muñoz" in class_names(client, roster, include_inactive=True)


def test_include_inactive_must_be_a_boolean(client: TestClient, roster: SmallDistrict) -> None:
    # when
    body = {"entity": "classes", "include_inactive": "maybe"}
    response = client.post("/v1/exports", json=body, headers=auth(roster.district_admin))

    # then
    assert response.status_code == 422
    assert "include_inactive" in response.text


def test_a_oneroster_export_downloads_as_a_zip_named_so(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)

    # when
    response = client.post("/v1/exports", json={"format": "oneroster"}, headers=headers)
    job = wait_until_finished(client, response.json()["id"], headers)
    download = client.get(job["result_url"])

    # then
    assert response.status_code == 202, response.text
    assert (job["status"], job["entity"]) == ("completed", "oneroster"), job["error"]
    assert job["counts"]["users"] == 8
    assert download.headers["content-type"] == "application/zip"
    assert ".zip" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as zipped:
        assert "users.csv" in zipped.namelist()


def test_a_teachers_oneroster_export_is_refused_with_one_sentence(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    body = {"format": "oneroster"}
    response = client.post("/v1/exports", json=body, headers=auth(roster.teacher))

    # then
    assert response.status_code in (400, 403)
    assert "Teachers cannot export OneRoster files" in response.text


def test_an_export_without_an_entity_or_a_format_that_needs_none_is_refused(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.post("/v1/exports", json={}, headers=auth(roster.district_admin))

    # then
    assert 400 <= response.status_code < 500
    assert "entity" in response.text


def test_oneroster_jobs_are_listed_by_their_entity(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a OneRoster export and a CSV one
    headers = auth(roster.district_admin)
    wanted = client.post("/v1/exports", json={"format": "oneroster"}, headers=headers).json()
    client.post("/v1/exports", json={"entity": "classes"}, headers=headers)

    # when
    listed = client.get("/v1/jobs", params={"entity": "oneroster"}, headers=headers)

    # then
    assert listed.status_code == 200, listed.text
    assert [job["id"] for job in listed.json()["jobs"]] == [wanted["id"]]


def test_a_oneroster_zip_uploaded_through_the_api_imports_with_counts_by_file(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given the district's own OneRoster export
    headers = auth(roster.district_admin)
    exported = client.post("/v1/exports", json={"format": "oneroster"}, headers=headers).json()
    done = wait_until_finished(client, exported["id"], headers)
    data = client.get(done["result_url"]).content
    body = {"entity": "oneroster", "filename": "roster.zip"}

    # when it is uploaded as an import
    created = client.post("/v1/imports", json=body, headers=headers)
    assert created.status_code == 201, created.text
    client.put(created.json()["upload"]["url"], content=data)
    job = wait_until_finished(client, created.json()["id"], headers)

    # then
    assert (job["status"], job["entity"]) == ("completed", "oneroster"), job["error"]
    assert job["counts"]["unchanged"] == 26
    assert job["counts_by_file"]["enrollments"]["unchanged"] == 8
    result = client.get(job["result_url"])
    assert result.headers["content-type"] == "application/zip"
    assert "oneroster-import-result-" in result.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(result.content)) as zipped:
        assert "users.csv" in zipped.namelist()
