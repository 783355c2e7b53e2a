"""`rosterjobs db upgrade`, `seed` and `worker` as processes."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import inspect

from storage.db import make_engine
from tests.processes import run_cli, service_env


def test_db_upgrade_creates_the_schema_on_a_new_sqlite_file(tmp_path: Path) -> None:
    # given
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = service_env(url, str(tmp_path / "objects"))

    # when
    done = run_cli(env, "db", "upgrade", cwd=tmp_path)

    # then
    assert done.returncode == 0, done.stderr
    assert "is up to date" in done.stdout
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"students", "educators", "classes", "jobs", "import_row_results"} <= tables


def test_seed_prints_its_summary_as_json_and_runs_again_without_error(
    postgres_url: str, tmp_path: Path
) -> None:
    # given
    env = service_env(postgres_url, str(tmp_path / "objects"))
    args = ["seed", "--district", "Lakeside", "--students", "300", "--schools", "2", "--json"]

    # when
    first = run_cli(env, *args, cwd=tmp_path)
    again = run_cli(env, *args, cwd=tmp_path)

    # then
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    summary = json.loads(first.stdout)
    assert {"district_id", "district_admin", "school_admins", "teachers"} <= set(summary)
    assert len(summary["school_admins"]) == 2 and summary["teachers"]
    assert summary["district_admin"].endswith("@lakeside.example.org")
    repeated = json.loads(again.stdout)
    assert repeated["district_id"] == summary["district_id"] and repeated["created"] is False


def test_the_worker_command_refuses_to_start_without_a_broker(tmp_path: Path) -> None:
    # given
    env = service_env(f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path / "objects"))

    # when
    done = run_cli(env, "worker", cwd=tmp_path)

    # then
    assert done.returncode == 2
    assert "ROSTERJOBS_BROKER_URL is not set" in done.stderr
