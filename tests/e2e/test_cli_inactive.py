"""`rosterjobs export --include-inactive` as a process, on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Student
from tests.e2e.test_cli_export import rows_at, seeded
from tests.processes import cli_json, service_env


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
