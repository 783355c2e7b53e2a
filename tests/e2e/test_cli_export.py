"""`rosterjobs export` as a process: on the embedded defaults, and through a real
`rosterjobs worker` on the real Redis broker."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import func, select

from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Job
from tests import factories
from tests.processes import REDIS_URL, cli_json, run_cli, service_env, worker_process


def seeded(database_url: str) -> factories.SmallDistrict:
    engine = make_engine(database_url)
    with unit_of_work(session_factory(engine)) as session:
        roster = factories.small_district(session)
    engine.dispose()
    return roster


def rows_at(url: str) -> list[dict[str, str]]:
    path = Path(url2pathname(urlsplit(url).path))
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def test_the_cli_exports_on_the_embedded_defaults_without_a_broker(
    sqlite_url: str, tmp_path: Path
) -> None:
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
        "--entity",
        "students",
        "--columns",
        "Birth Date",
        cwd=tmp_path,
    )

    # then
    assert job["status"] == "completed"
    assert job["progress"] == {"total": 4, "processed": 4}
    rows = rows_at(job["result_url"])
    assert sorted(row["Username"] for row in rows) == ["anguyen", "formula1", "jgarcia", "zdangelo"]
    assert {row["Birth Date"] for row in rows} == {"2016-04-09", ""}


def test_a_worker_process_on_redis_runs_an_export_enqueued_by_the_cli(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given
    roster = seeded(postgres_url)
    env = service_env(
        postgres_url,
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
    )

    # when
    with worker_process(env, tmp_path):
        job = cli_json(
            env,
            "export",
            "--district",
            str(roster.district.id),
            "--as",
            roster.teacher.username,
            "--entity",
            "classes",
            "--all-columns",
            "--wait",
            cwd=tmp_path,
        )

    # then
    assert job["status"] == "completed", job["error"]
    assert job["attempts"] == 1
    rows = rows_at(job["result_url"])
    assert [row["Class/Group Name"] for row in rows] == ["Grade 3 - O'Brien"]
    assert rows[0]["Students"] == "jgarcia;zdangelo"


def test_a_refused_cli_export_prints_the_reason_and_leaves_no_job(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))

    # when
    done = run_cli(
        env,
        "export",
        "--district",
        str(roster.district.id),
        "--as",
        roster.teacher.username,
        "--entity",
        "educators",
        cwd=tmp_path,
    )

    # then
    assert done.returncode == 2
    assert "Teachers cannot export educators" in done.stderr
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    engine.dispose()


def test_jobs_list_and_show_report_a_finished_export(sqlite_url: str, tmp_path: Path) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    job = cli_json(
        env,
        "export",
        "--district",
        str(roster.district.id),
        "--as",
        roster.district_admin.username,
        "--entity",
        "educators",
        cwd=tmp_path,
    )

    # when
    listed = cli_json(env, "jobs", "list", cwd=tmp_path)
    shown = run_cli(env, "jobs", "show", job["id"], cwd=tmp_path)

    # then
    assert [item["id"] for item in listed] == [job["id"]]
    assert shown.returncode == 0
    assert "export of educators completed" in shown.stdout
    assert "progress: 4 of 4 rows" in shown.stdout
