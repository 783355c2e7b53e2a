"""`GET /v1/jobs` (who sees which jobs, pages, filters) and `POST /v1/jobs/{id}/cancel`."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from storage.models import Educator
from tests.api.helpers import auth, wait_until_finished
from tests.factories import SmallDistrict


def new_import(client: TestClient, educator: Educator, entity: str = "students") -> str:
    response = client.post("/v1/imports", json={"entity": entity}, headers=auth(educator))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ids_seen(client: TestClient, educator: Educator, **params: Any) -> list[str]:
    response = client.get("/v1/jobs", params=params, headers=auth(educator))
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["jobs"]]


def test_each_educator_sees_the_jobs_of_their_reach(
    client: TestClient, roster: SmallDistrict, other_roster: SmallDistrict
) -> None:
    # given jobs of each educator, and one of another district
    jobs = {
        name: new_import(client, educator)
        for name, educator in (
            ("district admin", roster.district_admin),
            ("school admin", roster.school_admin),
            ("teacher", roster.teacher),  # North only
            ("other teacher", roster.other_teacher),  # North and South
        )
    }
    elsewhere = new_import(client, other_roster.district_admin)

    # when
    seen = {
        name: set(ids_seen(client, educator))
        for name, educator in (
            ("district admin", roster.district_admin),
            ("school admin", roster.school_admin),
            ("teacher", roster.teacher),
        )
    }

    # then
    assert seen["district admin"] == set(jobs.values())
    assert seen["school admin"] == {jobs["school admin"], jobs["teacher"]}
    assert seen["teacher"] == {jobs["teacher"]}
    assert elsewhere not in seen["district admin"]
    school_admin_reads = client.get(
        f"/v1/jobs/{jobs['teacher']}", headers=auth(roster.school_admin)
    )
    assert school_admin_reads.status_code == 200


def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given five jobs
    created = [new_import(client, roster.district_admin) for _ in range(5)]
    headers = auth(roster.district_admin)

    # when
    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/jobs", params=params, headers=headers).json()
        pages.append([job["id"] for job in page["jobs"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # then
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [job for page in pages for job in page] == list(reversed(created))


def test_jobs_filter_by_status_kind_and_entity(client: TestClient, roster: SmallDistrict) -> None:
    # given an import waiting for its file and a finished export
    waiting = new_import(client, roster.district_admin, entity="classes")
    headers = auth(roster.district_admin)
    export = client.post("/v1/exports", json={"entity": "students"}, headers=headers).json()
    wait_until_finished(client, export["id"], headers)

    # then
    assert ids_seen(client, roster.district_admin, kind="export") == [export["id"]]
    assert ids_seen(client, roster.district_admin, status="awaiting_upload") == [waiting]
    assert ids_seen(client, roster.district_admin, entity="classes") == [waiting]
    assert ids_seen(client, roster.district_admin, kind="import", entity="students") == []


def test_a_bad_cursor_or_limit_is_a_422(client: TestClient, roster: SmallDistrict) -> None:
    # when
    answers = [
        client.get("/v1/jobs", params=params, headers=auth(roster.district_admin))
        for params in (
            {"cursor": "not-a-cursor"},
            {"cursor": "WyJ4IiwgInkiXQ"},  # ["x", "y"]
            {"limit": 101},
            {"limit": 0},
            {"status": "sleeping"},
        )
    ]

    # then
    assert [answer.status_code for answer in answers] == [422] * 5
    assert answers[0].json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_cancelled_import_never_runs_and_a_finished_job_cannot_be_cancelled(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given an import waiting for its file, and a finished export
    headers = auth(roster.district_admin)
    created = client.post("/v1/imports", json={"entity": "students"}, headers=headers).json()
    export = client.post("/v1/exports", json={"entity": "classes"}, headers=headers).json()
    wait_until_finished(client, export["id"], headers)

    # when
    cancelled = client.post(f"/v1/jobs/{created['id']}/cancel", headers=headers)
    upload = client.put(created["upload"]["url"], content=b"Database ID\r\n1\r\n")
    too_late = client.post(f"/v1/jobs/{export['id']}/cancel", headers=headers)

    # then
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert upload.status_code == 409
    assert too_late.status_code == 409
    assert "already finished" in too_late.json()["detail"]


def test_a_teacher_cancels_their_own_import(client: TestClient, roster: SmallDistrict) -> None:
    # given
    job_id = new_import(client, roster.teacher)

    # when
    answer = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth(roster.teacher))

    # then
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
