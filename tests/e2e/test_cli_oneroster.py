"""`rosterjobs export --include-inactive`, `export --format oneroster` and `import --format
oneroster` as a process, on the embedded defaults."""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import update

from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Student
from tests.e2e.test_cli_export import rows_at, seeded
from tests.processes import cli_json, run_cli, service_env


def test_the_cli_leaves_deactivated_students_out_unless_include_inactive_is_given(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given José is deactivated
    roster = seeded(sqlite_url)
    engine = make_engine(sqlite_url)
    with unit_of_work(session_factory(engine)) as session:
        session.execute(
            update(Student).where(Student.id == roster.students[0].id).values(active=False)
        )
    engine.dispose()
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    command = ("export", "--district", roster.district.name, "--as")
    command += (roster.district_admin.username, "--entity", "students")

    # when
    without = cli_json(env, *command, cwd=tmp_path)
    with_inactive = cli_json(env, *command, "--include-inactive", cwd=tmp_path)

    # then
    assert sorted(row["Username"] for row in rows_at(without["result_url"])) == [
        "anguyen",
        "formula1",
        "zdangelo",
    ]
    assert len(rows_at(with_inactive["result_url"])) == 4


def test_the_cli_exports_a_oneroster_zip_without_an_entity(sqlite_url: str, tmp_path: Path) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))

    # when
    job = cli_json(
        env,
        "export",
        "--district",
        roster.district.name,
        "--as",
        roster.district_admin.username,
        "--format",
        "oneroster",
        cwd=tmp_path,
    )

    # then
    assert (job["status"], job["entity"]) == ("completed", "oneroster")
    path = Path(url2pathname(urlsplit(job["result_url"]).path))
    assert path.name.endswith(".zip")
    with zipfile.ZipFile(path) as zipped:
        assert len(zipped.namelist()) == 7


def test_the_cli_asks_for_an_entity_when_the_format_needs_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))

    # when
    done = run_cli(env, "export", "--district", roster.district.name, "--as", "x", cwd=tmp_path)

    # then
    assert done.returncode != 0
    assert "--entity" in done.stderr and "Traceback" not in done.stderr


def test_the_cli_imports_a_oneroster_zip_with_format_oneroster(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given the district's own OneRoster export
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    who = ("--district", roster.district.name, "--as", roster.district_admin.username)
    exported = cli_json(env, "export", *who, "--format", "oneroster", cwd=tmp_path)
    path = Path(url2pathname(urlsplit(exported["result_url"]).path))

    # when
    job = cli_json(env, "import", str(path), *who, "--format", "oneroster", cwd=tmp_path)

    # then
    assert (job["status"], job["entity"]) == ("completed", "oneroster")
    assert job["counts"]["unchanged"] == 26
    assert job["counts_by_file"]["users"]["unchanged"] == 8
