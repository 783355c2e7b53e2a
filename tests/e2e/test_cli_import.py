"""`rosterjobs import` and `rosterjobs demo` as processes: embedded, and on Redis with a
real worker process."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from tests.e2e.test_cli_export import seeded
from tests.processes import REDIS_URL, cli_json, run_cli, service_env, worker_process


def path_of(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


def table(url: str) -> list[list[str]]:
    text = path_of(url).read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_an_exported_file_imports_back_unchanged_through_a_worker_on_redis(
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
    who = ["--district", str(roster.district.id), "--as", roster.district_admin.username]

    with worker_process(env, tmp_path, threads=2):
        exported = cli_json(
            env, "export", *who, "--entity", "students", "--all-columns", "--wait", cwd=tmp_path
        )
        # when the file comes back as it was, and then with one grade changed
        same = cli_json(
            env, "import", str(path_of(exported["result_url"])), *who,
            "--entity", "students", "--wait", cwd=tmp_path,
        )  # fmt: skip
        rows = table(exported["result_url"])
        rows[1][rows[0].index("Grade")] = "9"
        edited = tmp_path / "edited.csv"
        with edited.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows(rows)
        changed = cli_json(
            env, "import", str(edited), *who, "--entity", "students", "--wait", cwd=tmp_path
        )

    # then
    assert same["status"] == "completed", same["error"]
    assert same["counts"] == {"created": 0, "updated": 0, "unchanged": 4, "failed": 0}
    assert changed["counts"] == {"created": 0, "updated": 1, "unchanged": 3, "failed": 0}
    assert changed["error_report_url"] is None
    assert table(changed["result_url"])[1][-2:] == ["updated", ""]


def test_a_cli_dry_run_reports_the_refused_rows_in_an_errors_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    upload = tmp_path / "new.csv"
    upload.write_text(
        "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
        "Organizations\r\n"
        ",Ana,Ruiz,aruiz,pass,901,2,North Elementary\r\n"
        ",Bo,Li,b,pass,902,2,North Elementary\r\n",
        encoding="utf-8",
    )

    # when
    job = cli_json(
        env, "import", str(upload), "--district", roster.district.name,
        "--as", roster.school_admin.username, "--entity", "students", "--dry-run",
        cwd=tmp_path,
    )  # fmt: skip

    # then
    assert job["status"] == "completed_with_errors" and job["dry_run"] is True
    assert job["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    errors = table(job["error_report_url"])
    assert errors[0][-1] == "Errors" and len(errors) == 2
    assert errors[1][3] == "b" and errors[1][-1].startswith("Username:")


def test_the_demo_exports_edits_and_imports_on_the_embedded_defaults(tmp_path: Path) -> None:
    # given a fresh working folder and no configuration at all
    env = service_env("", "")
    for name in ("ROSTERJOBS_DATABASE_URL", "ROSTERJOBS_STORAGE_URL", "ROSTERJOBS_SECRET_KEY"):
        env.pop(name)

    # when
    done = run_cli(env, "demo", "--students", "600", cwd=tmp_path)

    # then
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    exported = table(lines["students CSV"])
    assert len(exported) == 601 and exported[0][0] == "Database ID"
    assert (
        "import completed_with_errors: created 0, updated 3, unchanged 0, failed 2" in done.stdout
    )
    assert len(table(lines["errors file"])) == 3
    assert (tmp_path / "var" / "rosterjobs.db").exists()
    assert (tmp_path / "var" / "secret_key").exists()
