"""`rosterjobs export --format xlsx` and `rosterjobs import` of that workbook, as processes on
the embedded defaults (SQLite, folder storage, no broker)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_export import seeded
from tests.e2e.test_cli_import import path_of
from tests.processes import cli_json, run_cli, service_env
from tests.workbooks import records, sheet_rows


def test_an_xlsx_export_from_the_cli_imports_back_unchanged(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    who = ["--district", roster.district.name, "--as", roster.district_admin.username]

    # when
    exported = cli_json(
        env, "export", *who, "--entity", "students", "--all-columns", "--format", "xlsx",
        "--wait", cwd=tmp_path,
    )  # fmt: skip
    workbook = path_of(exported["result_url"])
    same = cli_json(
        env, "import", str(workbook), *who, "--entity", "students", "--wait", cwd=tmp_path
    )
    stated = cli_json(
        env, "import", str(workbook), *who, "--entity", "students", "--format", "xlsx",
        "--wait", cwd=tmp_path,
    )  # fmt: skip

    # then the export is a workbook of the district's students, IDs as text
    assert exported["status"] == "completed", exported["error"]
    assert exported["format"] == "xlsx"
    assert workbook.suffix == ".xlsx" and workbook.read_bytes().startswith(b"PK\x03\x04")
    rows = records(sheet_rows(workbook.read_bytes()))
    assert sorted(row["Username"] for row in rows) == ["anguyen", "formula1", "jgarcia", "zdangelo"]
    assert {row["External Assigned ID"] for row in rows} >= {"000123", "000124"}

    # then importing it back, with or without --format, changes nothing
    for job in (same, stated):
        assert job["status"] == "completed", job["error"]
        assert job["counts"] == {"created": 0, "updated": 0, "unchanged": 4, "failed": 0}
        assert path_of(job["result_url"]).suffix == ".xlsx"
        assert job["error_report_url"] is None


def test_a_workbook_imported_as_csv_from_the_cli_fails_with_one_sentence(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given an XLSX export
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    who = ["--district", roster.district.name, "--as", roster.district_admin.username]
    exported = cli_json(
        env, "export", *who, "--entity", "students", "--format", "xlsx", "--wait", cwd=tmp_path
    )

    # when it is imported with --format csv
    done = run_cli(
        env, "import", str(path_of(exported["result_url"])), *who, "--entity", "students",
        "--format", "csv", "--wait", cwd=tmp_path,
    )  # fmt: skip

    # then the job failed, saying what the file is, without a traceback
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "The file is an Excel workbook (XLSX), not a CSV file" in output
    assert "Traceback" not in output
