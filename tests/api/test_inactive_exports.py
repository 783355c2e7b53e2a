"""`"include_inactive": true` on `POST /v1/exports` keeps deactivated records."""

from __future__ import annotations

import csv
import io

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
