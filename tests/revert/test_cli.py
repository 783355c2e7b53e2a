"""`rosterjobs jobs commit` and `jobs revert` as processes, on the embedded defaults: the
jobs they make, and each refusal as one line on stderr with exit code 2."""

from __future__ import annotations

from pathlib import Path

from storage.db import make_engine, session_factory, unit_of_work
from tests import factories
from tests.api.helpers import edited_file
from tests.processes import cli_json, run_cli, service_env


def test_the_cli_commits_a_dry_run_then_reverts_the_commit_and_refuses_what_it_must(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given a district and a dry run of an edited file
    engine = make_engine(sqlite_url)
    with unit_of_work(session_factory(engine)) as session:
        roster = factories.small_district(session)
    engine.dispose()
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    path = tmp_path / "edited.csv"
    path.write_bytes(edited_file(roster))
    admin, teacher = roster.district_admin.username, roster.teacher.username
    who = ("--district", str(roster.district.id), "--as", admin)
    dry_run = cli_json(
        env, "import", str(path), *who, "--entity", "students", "--dry-run", cwd=tmp_path
    )

    # when
    commit = cli_json(env, "jobs", "commit", dry_run["id"], "--as", admin, cwd=tmp_path)
    revert = cli_json(env, "jobs", "revert", commit["id"], "--as", admin, cwd=tmp_path)

    # then
    assert commit["source_job_id"] == dry_run["id"]
    assert commit["counts"] == dry_run["counts"]
    assert revert["kind"] == "revert" and revert["source_job_id"] == commit["id"]
    assert revert["counts"] == {"reverted": 1, "conflicts": 0, "failed": 0}
    for args, message in (
        ((dry_run["id"], "--as", admin), "This dry run has already been committed, as job "),
        ((commit["id"], "--as", teacher), "This job was requested by an educator outside"),
        (("0" * 8 + "-0000-0000-0000-" + "0" * 12, "--as", admin), "No such job '00000000-"),
    ):
        refused = run_cli(env, "jobs", "commit", *args, cwd=tmp_path)
        assert refused.returncode == 2
        assert refused.stderr.startswith(f"rosterjobs: {message}"), refused.stderr
        assert refused.stderr.count("\n") == 1
    again = run_cli(env, "jobs", "revert", commit["id"], "--as", admin, cwd=tmp_path)
    assert (again.returncode, again.stderr) == (
        2,
        f"rosterjobs: This import has already been reverted, by job {revert['id']}.\n",
    )
