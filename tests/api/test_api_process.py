"""`rosterjobs api` as a real process under uvicorn, on the embedded defaults (SQLite, a
folder of objects, the in-process broker, a generated secret) in a fresh folder: the
portal's flow over real HTTP with a plain client, token from `rosterjobs token`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import (
    Portal,
    api_process,
    embedded_env,
    fetch,
    run_cli,
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`rosterjobs api` on a free port over a seeded district in `tmp_path`: its base URL
    and the district admin's username."""
    env = embedded_env()
    seed = ("seed", "--district", "Lakeside", "--students", "30", "--json")
    seeded = run_cli(env, *seed, cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    with api_process(env, tmp_path) as base:
        yield base, str(json.loads(seeded.stdout)["district_admin"])


def edited(exported: bytes) -> bytes:
    """A grade changed, and a new student with no password (refused)."""
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
    grade = rows[0].index("Grade")
    rows[1][grade] = "K" if rows[1][grade] != "K" else "1"
    new = dict(zip(rows[0], rows[1], strict=True)) | {"Database ID": "", "Username": "nopass1"}
    rows.append([new[name] for name in rows[0]])
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def test_the_portal_flow_over_http_against_rosterjobs_api(
    served: tuple[str, str], tmp_path: Path
) -> None:
    # given a token from `rosterjobs token`, as the portal's developers get one
    base, admin = served
    issued = run_cli(embedded_env(), "token", "--district", "lakeside", "--as", admin, cwd=tmp_path)
    assert issued.returncode == 0, issued.stderr
    portal = Portal(base, issued.stdout.strip())

    # when the portal exports students, downloads the file, edits it and imports it back
    export = portal.wait(portal.call("POST", "/v1/exports", {"entity": "students"})["id"])
    exported = fetch(export["result_url"])
    created = portal.call("POST", "/v1/imports", {"entity": "students", "filename": "e.csv"})
    fetch(created["upload"]["url"], method="PUT", data=edited(exported))
    job = portal.wait(created["id"])
    errors = fetch(job["error_report_url"]).decode("utf-8-sig")

    # then
    assert export["status"] == "completed" and export["counts"]["rows"] == 30
    assert job["status"] == "completed_with_errors", job["error"]
    assert job["counts"] == {"created": 0, "updated": 1, "unchanged": 29, "failed": 1}
    refused = list(csv.DictReader(io.StringIO(errors, newline="")))
    assert [row["Username"] for row in refused] == ["nopass1"]
    assert "Password" in refused[0]["Errors"]


def test_rosterjobs_token_refuses_an_unknown_educator(tmp_path: Path) -> None:
    # given
    env = embedded_env()
    assert (
        run_cli(env, "seed", "--district", "Lakeside", "--students", "5", cwd=tmp_path).returncode
        == 0
    )

    # when
    done = run_cli(env, "token", "--district", "Lakeside", "--as", "nobody@x.org", cwd=tmp_path)

    # then
    assert done.returncode == 2
    assert "No educator 'nobody@x.org'" in done.stderr
    assert done.stdout == ""
