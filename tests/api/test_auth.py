"""Every endpoint against the ways a call goes wrong: no token, a bad one, another
district's job, and a teacher asking for what only an administrator may have."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import SECRET, auth, token
from tests.factories import SmallDistrict

JOB = "{job}"
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/exports", {"entity": "students"}),
    ("POST", "/v1/imports", {"entity": "students"}),
    ("POST", f"/v1/imports/{JOB}/start", None),
    ("GET", "/v1/jobs", None),
    ("GET", f"/v1/jobs/{JOB}", None),
    ("POST", f"/v1/jobs/{JOB}/cancel", None),
    ("GET", "/v1/columns/students", None),
    ("GET", "/v1/templates/students", None),
]
JOB_ENDPOINTS = [(method, path) for method, path, _ in ENDPOINTS if JOB in path]


def call(
    client: TestClient,
    method: str,
    path: str,
    *,
    job_id: str = "",
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return client.request(method, path.replace(JOB, job_id), json=json, headers=headers or {})


def admins_import(client: TestClient, roster: SmallDistrict) -> str:
    response = client.post(
        "/v1/imports", json={"entity": "students"}, headers=auth(roster.district_admin)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def bad_tokens(roster: SmallDistrict) -> dict[str, dict[str, str]]:
    admin = roster.district_admin
    claims = {"district": admin.district_id, "sub": admin.username}
    bearer = "Bearer {}".format
    return {
        "none": {},
        "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "malformed": {"Authorization": bearer("not-a-jwt")},
        "expired": auth(admin, ttl=60, now=time.time() - 3600),
        "forged": auth(admin, secret="a-different-secret-of-the-same-length!"),
        "no exp": {"Authorization": bearer(jwt.encode(claims, SECRET, algorithm="HS256"))},
        "alg none": {
            "Authorization": bearer(
                jwt.encode(claims | {"exp": time.time() + 60}, None, algorithm="none")
            )
        },
        "district name": {
            "Authorization": bearer(
                jwt.encode(
                    claims | {"district": "Riverside", "exp": time.time() + 60},
                    SECRET,
                    algorithm="HS256",
                )
            )
        },
        "unknown educator": {
            "Authorization": bearer(
                jwt.encode(
                    claims | {"sub": "nobody@example.org", "exp": time.time() + 60},
                    SECRET,
                    algorithm="HS256",
                )
            )
        },
    }


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_a_missing_or_bad_token_with_401(
    client: TestClient,
    roster: SmallDistrict,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    # given
    job_id = admins_import(client, roster)

    # when
    answers = {
        name: call(client, method, path, job_id=job_id, json=body, headers=headers)
        for name, headers in bad_tokens(roster).items()
    }

    # then
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 401)
    for answer in answers.values():
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert isinstance(answer.json()["detail"], str)
    assert "expired" in answers["expired"].json()["detail"]
    assert "signature" in answers["forged"].json()["detail"]
    assert 'error="invalid_token"' not in answers["none"].headers["www-authenticate"]


@pytest.mark.parametrize(("method", "path"), JOB_ENDPOINTS)
def test_another_districts_job_is_answered_as_a_job_that_does_not_exist(
    client: TestClient,
    roster: SmallDistrict,
    other_roster: SmallDistrict,
    method: str,
    path: str,
) -> None:
    # given
    theirs = admins_import(client, other_roster)
    headers = auth(roster.district_admin)

    # when
    other = call(client, method, path, job_id=theirs, headers=headers)
    missing = call(client, method, path, job_id=str(uuid.uuid4()), headers=headers)
    garbage = call(client, method, path, job_id="not-a-job-id", headers=headers)

    # then
    assert other.status_code == missing.status_code == garbage.status_code == 404
    assert other.json() == missing.json() == garbage.json()
    theirs_now = client.get(f"/v1/jobs/{theirs}", headers=auth(other_roster.district_admin))
    assert theirs_now.json()["status"] == "awaiting_upload"


TEACHER_FORBIDDEN: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("POST", "/v1/exports", {"entity": "educators"}, "cannot export educators"),
    ("POST", "/v1/imports", {"entity": "educators"}, "cannot import educators"),
    ("POST", f"/v1/imports/{JOB}/start", None, "outside your reach"),
    ("GET", f"/v1/jobs/{JOB}", None, "outside your reach"),
    ("POST", f"/v1/jobs/{JOB}/cancel", None, "outside your reach"),
    ("GET", "/v1/columns/educators", None, "ask an administrator"),
    ("GET", "/v1/templates/educators", None, "ask an administrator"),
    ("POST", "/v1/exports", {"entity": "students", "filters": {"class_group": "Grade 4 - Muñoz"}},
     "outside your reach"),
    ("POST", "/v1/exports", {"entity": "students", "filters": {"school": "South Middle"}},
     "outside your schools"),
]  # fmt: skip


@pytest.mark.parametrize("case", TEACHER_FORBIDDEN, ids=lambda case: f"{case[0]} {case[1]}")
def test_a_teachers_request_outside_their_reach_is_403_with_the_reason(
    client: TestClient, roster: SmallDistrict, case: tuple[str, str, Any, str]
) -> None:
    # given an administrator's job, and the teacher of class A (North only)
    method, path, body, reason = case
    job_id = admins_import(client, roster)

    # when
    answer = call(client, method, path, job_id=job_id, json=body, headers=auth(roster.teacher))

    # then
    assert answer.status_code == 403, answer.text
    assert reason in answer.json()["detail"]


def test_a_school_admin_may_not_filter_on_another_school_or_its_classes(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given the admin of North; class C is South's
    headers = auth(roster.school_admin)

    # when
    school = client.post(
        "/v1/exports",
        json={"entity": "students", "filters": {"school": "South Middle"}},
        headers=headers,
    )
    group = client.post(
        "/v1/exports",
        json={"entity": "classes", "filters": {"class_group": "Grade 7 - Muñoz"}},
        headers=headers,
    )
    own = client.post(
        "/v1/exports",
        json={"entity": "classes", "filters": {"class_group": "Grade 4 - Muñoz"}},
        headers=headers,
    )

    # then
    assert (school.status_code, group.status_code, own.status_code) == (403, 403, 202)
    assert "South Middle" in school.json()["detail"]


def test_a_token_is_only_as_good_as_the_roster_says(
    client: TestClient, roster: SmallDistrict, other_roster: SmallDistrict
) -> None:
    # given a token naming this district with an educator of another one
    stranger = token(other_roster.district_admin)
    forged_claims = jwt.decode(stranger, SECRET, algorithms=["HS256"])
    forged_claims["district"] = roster.district.id
    mixed = jwt.encode(forged_claims, SECRET, algorithm="HS256")

    # when
    answer = client.get("/v1/jobs", headers={"Authorization": f"Bearer {mixed}"})

    # then
    assert answer.status_code == 401
    assert "no educator" in answer.json()["detail"]
