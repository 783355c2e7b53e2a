"""`POST /v1/exports` with `"format": "pdf"`: the printable roster downloads through its
link as a PDF that poppler reads, and a PDF over `ROSTERJOBS_PDF_MAX_ROWS` is a 422 that
says the number, with no job left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from tests import factories
from tests.api.helpers import api_settings_for, auth, wait_until_finished
from tests.factories import SmallDistrict
from tests.pdf_text import pdf_pages, words_of
from worker.settings import Settings

PDF_MAX_ROWS = 5
ROOM_12 = (("محمد", "الحسيني"), ("王", "小明"), ("Zoë", "Ødegård"))


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings_for(database_url, tmp_path, pdf_max_rows=PDF_MAX_ROWS)


@pytest.fixture
def room12(roster: SmallDistrict, sessions: sessionmaker[Session]) -> SmallDistrict:
    """Three more students (seven in all: over the cap of five), in their own class."""
    with unit_of_work(sessions) as session:
        room = factories.class_group(session, roster.north, "Room 12")
        for first, last in ROOM_12:
            factories.student(session, roster.north, [room], first_name=first, last_name=last)
    return roster


def test_a_pdf_of_a_class_downloads_with_every_name_through_its_link(
    client: TestClient, room12: SmallDistrict, tmp_path: Path
) -> None:
    # given
    headers = auth(room12.district_admin)
    body = {"entity": "students", "format": "pdf", "filters": {"class_group": "Room 12"}}

    # when
    response = client.post("/v1/exports", json=body, headers=headers)
    job = wait_until_finished(client, response.json()["id"], headers)
    download = client.get(job["result_url"])

    # then
    assert response.status_code == 202, response.text
    assert job["status"] == "completed", job["error"]
    assert download.status_code == 200
    assert download.content.startswith(b"%PDF-")
    assert 'filename="students-' in download.headers["content-disposition"]
    assert ".pdf" in download.headers["content-disposition"]
    text = "\n".join(pdf_pages(download.content, tmp_path))
    for first, last in ROOM_12:
        assert all(word in text for word in words_of(f"{first} {last}")), (first, last)
    assert "Page 1 of 1" in text and "Password" not in text


def test_a_pdf_over_the_row_cap_is_a_422_naming_the_cap_and_the_rows_and_leaves_no_job(
    client: TestClient, room12: SmallDistrict
) -> None:
    # given
    headers = auth(room12.district_admin)

    # when
    response = client.post(
        "/v1/exports", json={"entity": "students", "format": "pdf"}, headers=headers
    )

    # then
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "format"]
    assert problem["msg"] == (
        "A PDF roster holds at most 5 rows and this export has 7; narrow it with a filter "
        "(grade, school, class/group, search) or export a CSV."
    )
    assert client.get("/v1/jobs", headers=headers).json()["jobs"] == []


def test_the_same_rows_as_a_csv_are_not_capped(client: TestClient, room12: SmallDistrict) -> None:
    headers = auth(room12.district_admin)
    response = client.post("/v1/exports", json={"entity": "students"}, headers=headers)
    job = wait_until_finished(client, response.json()["id"], headers)
    assert job["status"] == "completed", job["error"]
    assert job["counts"] == {"rows": 7}


def test_an_unknown_format_is_a_422_listing_the_formats(
    client: TestClient, roster: SmallDistrict
) -> None:
    response = client.post(
        "/v1/exports",
        json={"entity": "students", "format": "docx"},
        headers=auth(roster.district_admin),
    )
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "format"]
    assert "csv" in problem["msg"] and "pdf" in problem["msg"]
