"""Tenant isolation: district B's educators, with B's tokens and links, reach nothing of
district A, through every `/v1` route of the API and every CLI command naming a district.

The walk's table is checked against `app.routes`, so a new `/v1` route fails the walk until
it says how it keeps districts apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Job, Student
from tests import factories
from tests.api.helpers import rows
from tests.factories import SmallDistrict
from tests.processes import cli_json, run_cli, service_env
from tests.security.walk import NOBODY, UNKNOWN_JOB, admin, exported, imported, student_file

A_NAMES = ("Riverside Only Academy", "Riverside Only Seminar", "qriverside", "Riversidesecret")


@dataclass
class Districts:
    """District A's jobs and files, and district B's headers and own signed links."""

    client: TestClient
    a: SmallDistrict
    b: SmallDistrict
    a_export: dict[str, Any]
    a_import: dict[str, Any]
    a_student_ids: list[int]
    b_export: dict[str, Any]
    b_import: dict[str, Any]

    @property
    def b_headers(self) -> dict[str, str]:
        return admin(self.b)

    def a_job_ids(self) -> list[str]:
        return [self.a_export["id"], self.a_import["id"]]


@pytest.fixture
def districts(
    client: TestClient,
    riverside_only: SmallDistrict,
    other_roster: SmallDistrict,
    sessions: sessionmaker[Session],
) -> Districts:
    a, b = riverside_only, other_roster
    a_export, _ = exported(client, admin(a), {"entity": "students"})
    a_import = client.post("/v1/imports", json={"entity": "students"}, headers=admin(a)).json()
    b_export, _ = exported(client, admin(b), {"entity": "students"})
    b_import = client.post("/v1/imports", json={"entity": "students"}, headers=admin(b)).json()
    with sessions() as session:
        ids = session.scalars(
            Student.__table__.select()
            .with_only_columns(Student.id)
            .where(Student.district_id == a.district.id)
        ).all()
    return Districts(client, a, b, a_export, a_import, list(ids), b_export, b_import)


def _no_a_names(text: str) -> None:
    for name in A_NAMES:
        assert name not in text


# --- the walk: one probe per /v1 route ----------------------------------------------------


def probe_list_jobs(d: Districts) -> None:
    for query in ("", "?kind=export", "?kind=import&status=awaiting_upload", "?limit=100"):
        listed = d.client.get(f"/v1/jobs{query}", headers=d.b_headers)
        assert listed.status_code == 200
        ids = {job["id"] for job in listed.json()["jobs"]}
        assert ids.isdisjoint(d.a_job_ids())
        assert all(job["district_id"] == d.b.district.id for job in listed.json()["jobs"])


def probe_show_job(d: Districts) -> None:
    unknown = d.client.get(f"/v1/jobs/{UNKNOWN_JOB}", headers=d.b_headers)
    for job_id in d.a_job_ids():
        shown = d.client.get(f"/v1/jobs/{job_id}", headers=d.b_headers)
        assert (shown.status_code, shown.json()) == (404, unknown.json())


def probe_cancel_job(d: Districts) -> None:
    for job_id in d.a_job_ids():
        cancelled = d.client.post(f"/v1/jobs/{job_id}/cancel", headers=d.b_headers)
        assert (cancelled.status_code, cancelled.json()) == (404, {"detail": "No such job."})
    still = d.client.get(f"/v1/jobs/{d.a_import['id']}", headers=admin(d.a)).json()
    assert still["status"] == "awaiting_upload"


def probe_start_import(d: Districts) -> None:
    started = d.client.post(f"/v1/imports/{d.a_import['id']}/start", headers=d.b_headers)
    assert (started.status_code, started.json()) == (404, {"detail": "No such job."})


def probe_commit(d: Districts) -> None:
    committed = d.client.post(f"/v1/imports/{d.a_import['id']}/commit", headers=d.b_headers)
    assert (committed.status_code, committed.json()) == (404, {"detail": "No such job."})
    still = d.client.get(f"/v1/jobs/{d.a_import['id']}", headers=admin(d.a)).json()
    assert still["status"] == "awaiting_upload"


def probe_revert(d: Districts) -> None:
    for dry_run in (True, False):
        reverted = d.client.post(
            f"/v1/jobs/{d.a_import['id']}/revert", json={"dry_run": dry_run}, headers=d.b_headers
        )
        assert (reverted.status_code, reverted.json()) == (404, {"detail": "No such job."})
    listed = d.client.get("/v1/jobs?kind=revert", headers=admin(d.a)).json()
    assert listed["jobs"] == []


def probe_create_export(d: Districts) -> None:
    # filters naming A's school or class are refused exactly as names that exist nowhere
    for field, a_name in (("school", A_NAMES[0]), ("class_group", A_NAMES[1])):
        for name in (a_name, "Nowhere At All"):
            body = {"entity": "students", "filters": {field: name}}
            refused = d.client.post("/v1/exports", json=body, headers=d.b_headers)
            assert refused.status_code == 422
            assert name in refused.text
        a_text = d.client.post(
            "/v1/exports",
            json={"entity": "students", "filters": {field: a_name}},
            headers=d.b_headers,
        ).text
        nowhere = d.client.post(
            "/v1/exports",
            json={"entity": "students", "filters": {field: "Nowhere At All"}},
            headers=d.b_headers,
        ).text
        assert a_text.replace(a_name, "?") == nowhere.replace("Nowhere At All", "?")
    # ids and searches of A's students find nothing; the whole roster is B's own
    bodies: list[dict[str, Any]] = [
        {"entity": "students", "ids": d.a_student_ids},
        {"entity": "students", "filters": {"search": "Riversidesecret"}},
        {"entity": "students", "filters": {"search": "qriverside"}},
    ]
    for body in bodies:
        _, found = exported(d.client, d.b_headers, body)
        assert found == []
    b_ids = {student.id for student in d.b.students}
    for entity in ("students", "educators", "classes"):
        _, found = exported(d.client, d.b_headers, {"entity": entity})
        _no_a_names(repr(found))
        if entity == "students":
            assert {int(row["Database ID"]) for row in found} == b_ids


def probe_create_import(d: Districts) -> None:
    # given a file of B's naming one of A's students and a Database ID nobody has
    a_id = d.a_student_ids[0]
    data = student_file(
        [
            f"{a_id},Mallory,Intruder,mintruder,,M-1,3,North Elementary",
            f"{NOBODY},Mallory,Intruder,mintruder2,,M-2,3,North Elementary",
        ]
    )
    # when
    job = imported(d.client, d.b_headers, "students", data)
    # then both rows are refused with the same message, and A's student is untouched
    assert job["counts"]["failed"] == 2, job
    errors = [row["Errors"] for row in rows(d.client.get(job["error_report_url"]).content)]
    assert errors[0].replace(str(a_id), "N") == errors[1].replace(str(NOBODY), "N")
    assert "no student with Database ID" in errors[0]
    _, a_rows = exported(d.client, admin(d.a), {"entity": "students", "ids": [a_id]})
    assert [row["First Name"] for row in a_rows] != ["Mallory"]


def probe_columns(d: Districts) -> None:
    for entity in ("students", "educators", "classes"):
        answered = d.client.get(f"/v1/columns/{entity}", headers=d.b_headers)
        assert answered.status_code == 200
        _no_a_names(answered.text)


def probe_template(d: Districts) -> None:
    for entity in ("students", "educators", "classes"):
        answered = d.client.get(f"/v1/templates/{entity}", headers=d.b_headers)
        assert answered.status_code == 200
        _no_a_names(answered.text)


def probe_upload(d: Districts) -> None:
    # B's own signed upload link, pointed at A's import
    b_url = d.b_import["upload"]["url"]
    a_url = b_url.replace(d.b_import["id"], d.a_import["id"])
    sent = d.client.put(a_url, content=student_file([]))
    assert sent.status_code == 403
    still = d.client.get(f"/v1/jobs/{d.a_import['id']}", headers=admin(d.a)).json()
    assert still["status"] == "awaiting_upload"


def probe_download(d: Districts) -> None:
    # B's own signed download link, pointed at A's export file
    b_url, a_url = d.b_export["result_url"], d.a_export["result_url"]
    a_key = urlsplit(a_url).path
    forged = urlsplit(b_url)._replace(path=a_key).geturl()
    fetched = d.client.get(forged)
    assert fetched.status_code == 403
    _no_a_names(fetched.text)


Probe = Callable[[Districts], None]

WALK: dict[tuple[str, str], Probe] = {
    ("GET", "/v1/jobs"): probe_list_jobs,
    ("GET", "/v1/jobs/{job_id}"): probe_show_job,
    ("POST", "/v1/jobs/{job_id}/cancel"): probe_cancel_job,
    ("POST", "/v1/imports/{job_id}/start"): probe_start_import,
    ("POST", "/v1/imports/{job_id}/commit"): probe_commit,
    ("POST", "/v1/jobs/{job_id}/revert"): probe_revert,
    ("POST", "/v1/exports"): probe_create_export,
    ("POST", "/v1/imports"): probe_create_import,
    ("GET", "/v1/columns/{entity}"): probe_columns,
    ("GET", "/v1/templates/{entity}"): probe_template,
    ("PUT", "/v1/uploads/{job_id}"): probe_upload,
    ("GET", "/v1/files/{key:path}"): probe_download,
}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every route of the app, also inside included routers (which FastAPI may keep as
    routers of their own, holding their `original_router`)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)
        if included is not None:
            found += api_routes(included.routes)
    return found


def v1_routes(client: TestClient) -> set[tuple[str, str]]:
    app: Any = client.app
    return {
        (method, route.path)
        for route in api_routes(app.routes)
        if route.path.startswith("/v1")
        for method in route.methods or ()
    }


def test_the_walk_covers_every_v1_route_of_the_app(client: TestClient) -> None:
    # when
    served = v1_routes(client)
    documented = {
        (method.upper(), path)
        for path, operations in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if path.startswith("/v1")
        for method in operations
    }
    # then a new route must join the walk's table
    assert served == set(WALK)
    assert {(method, path.replace(":path", "")) for method, path in WALK} >= documented


@pytest.mark.parametrize("route", sorted(WALK), ids=" ".join)
def test_district_b_reaches_nothing_of_district_a_through_the_route(
    districts: Districts, route: tuple[str, str]
) -> None:
    # given district A's jobs and files, and B's admin token (in `districts`)
    # when B walks the route with A's ids, keys and names; then nothing of A comes back
    WALK[route](districts)


# --- the CLI ------------------------------------------------------------------------------


def seeded(database_url: str) -> tuple[SmallDistrict, SmallDistrict]:
    engine = make_engine(database_url)
    with unit_of_work(session_factory(engine)) as session:
        a = factories.small_district(session)
        b = factories.small_district(session, "Hillcrest Consolidated")
    engine.dispose()
    return a, b


def test_the_cli_refuses_district_bs_educator_on_district_as_id(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    a, b = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    upload = tmp_path / "intruder.csv"
    upload.write_bytes(student_file([f"{a.students[0].id},Mallory,Intruder,mi,,1,3,North"]))
    a_id, b_user = str(a.district.id), b.district_admin.username
    commands = {
        "export": ("export", "--district", a_id, "--as", b_user, "--entity", "students"),
        "import": (
            "import",
            str(upload),
            "--district",
            a_id,
            "--as",
            b_user,
            "--entity",
            "students",
        ),
        "token": ("token", "--district", a_id, "--as", b_user),
    }

    # when
    done = {name: run_cli(env, *args, cwd=tmp_path) for name, args in commands.items()}

    # then
    for name, result in done.items():
        assert result.returncode == 2, (name, result.stdout)
        assert f"No educator {b_user!r} in district {a_id!r}" in result.stderr, name
        assert result.stdout == "", name
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        assert session.query(Job).count() == 0
    engine.dispose()


def test_the_cli_lists_only_the_named_districts_jobs(sqlite_url: str, tmp_path: Path) -> None:
    # given an export of each district
    a, b = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    jobs = {
        roster.district.id: cli_json(
            env,
            "export",
            "--district",
            str(roster.district.id),
            "--as",
            roster.district_admin.username,
            "--entity",
            "students",
            cwd=tmp_path,
        )
        for roster in (a, b)
    }

    # when
    listed = cli_json(env, "jobs", "list", "--district", str(b.district.id), cwd=tmp_path)
    shown = cli_json(env, "jobs", "show", jobs[b.district.id]["id"], cwd=tmp_path)

    # then
    assert [job["id"] for job in listed] == [jobs[b.district.id]["id"]]
    assert shown["district_id"] == b.district.id
    assert jobs[a.district.id]["id"] not in repr(listed)
