"""`rosterjobs` arguments that are not UTF-8: refused with one sentence naming the argument,
exit status 2, no traceback, no job.

Python hands such bytes to the program as unpaired surrogates (surrogateescape): `$'\\xff'`
in a shell arrives as "\\udcff". Here the arguments are given as those strings, which the
subprocess module encodes back to the very bytes a shell would pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, session_factory
from storage.models import Job
from tests.e2e.test_cli_export import seeded
from tests.processes import run_cli, service_env

NOT_UTF8 = "is not UTF-8 text (it holds an unpaired surrogate)."


def job_count(database_url: str) -> int:
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(Job)) or 0
    engine.dispose()
    return count


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        (["--search", "\udcff"], "The search filter"),
        (["--school", "North \udce9l\udce9mentaire"], "The school filter"),
        (["--columns", "Birth Date,\udcff"], "A column name"),
    ],
    ids=["search", "school", "columns"],
)
def test_an_export_argument_that_is_not_utf8_is_refused_with_one_sentence(
    sqlite_url: str, tmp_path: Path, argument: list[str], says: str
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    who = ["--district", str(roster.district.id), "--as", roster.district_admin.username]

    # when
    done = run_cli(env, "export", *who, "--entity", "students", *argument, cwd=tmp_path)

    # then
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"rosterjobs: {says} {NOT_UTF8}\n"
    assert done.stdout == ""
    assert job_count(sqlite_url) == 0


def test_a_username_that_is_not_utf8_is_refused_before_any_query(
    postgres_url: str, tmp_path: Path
) -> None:
    # given (Postgres: it would refuse the text itself, in a traceback)
    roster = seeded(postgres_url)
    env = service_env(postgres_url, str(tmp_path / "objects"))
    who = ["--district", str(roster.district.id), "--as", "admin\udcff"]

    # when
    exported = run_cli(env, "export", *who, "--entity", "students", cwd=tmp_path)
    token = run_cli(env, "token", *who, cwd=tmp_path)

    # then
    for done in (exported, token):
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"rosterjobs: The username {NOT_UTF8}\n"
    assert job_count(postgres_url) == 0


def test_a_district_that_is_not_utf8_is_refused_before_any_query(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    who = ["--district", "Riverside \udcff", "--as", roster.district_admin.username]

    # when
    done = run_cli(env, "export", *who, "--entity", "students", cwd=tmp_path)

    # then
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"rosterjobs: The district {NOT_UTF8}\n"


def test_an_import_file_whose_name_is_not_utf8_is_refused_with_one_sentence(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given a file named with a Windows-1252 byte ("r\xe9sum\xe9.csv" on a UTF-8 system)
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    path = tmp_path / "r\udce9sum\udce9.csv"
    path.write_bytes(b"Database ID,First Name\r\n")
    who = ["--district", str(roster.district.id), "--as", roster.district_admin.username]

    # when
    done = run_cli(env, "import", str(path), *who, "--entity", "students", cwd=tmp_path)

    # then
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"rosterjobs: The file name {NOT_UTF8}\n"
    assert job_count(sqlite_url) == 0
