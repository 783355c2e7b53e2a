"""How `rosterjobs` refuses: one line on stderr, exit 2, the same words as the API."""

from __future__ import annotations

from pathlib import Path

from tests.processes import run_cli, service_env


def test_jobs_list_refuses_an_unknown_status_in_one_line_as_the_api_does(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    env = service_env(sqlite_url, str(tmp_path / "objects"))

    # when
    done = run_cli(env, "jobs", "list", "--status", "bogus", cwd=tmp_path)

    # then
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "--status" in done.stderr and "'bogus'" in done.stderr
    assert "'completed_with_errors'" in done.stderr  # the valid states are listed


def test_a_missing_district_is_worded_the_same_by_every_command(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    commands = {
        "jobs list": ("jobs", "list", "--district", "Nowhere"),
        "token": ("token", "--district", "Nowhere", "--as", "someone"),
        "export": ("export", "--district", "Nowhere", "--as", "someone", "--entity", "students"),
    }

    # when
    done = {name: run_cli(env, *args, cwd=tmp_path) for name, args in commands.items()}

    # then
    for name, result in done.items():
        assert result.returncode == 2, name
        assert result.stderr == "rosterjobs: No district named 'Nowhere'.\n", name


def test_a_missing_job_is_no_such_job_as_in_the_api(sqlite_url: str, tmp_path: Path) -> None:
    # given
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    missing = "00000000-0000-4000-8000-000000000000"

    # when
    shown = run_cli(env, "jobs", "show", missing, cwd=tmp_path)
    cancelled = run_cli(env, "jobs", "cancel", missing, cwd=tmp_path)

    # then
    for result in (shown, cancelled):
        assert result.returncode == 2
        assert result.stderr == f"rosterjobs: No such job {missing!r}.\n"


def test_a_district_or_job_id_that_is_not_utf8_is_refused_before_any_query(
    postgres_url: str, tmp_path: Path
) -> None:
    # given (Postgres would refuse the text itself, in a traceback); "\udcff" is what Python
    # makes of the byte 0xff in an argument
    env = service_env(postgres_url, str(tmp_path / "objects"))
    not_utf8 = "is not UTF-8 text (it holds an unpaired surrogate)."

    # when
    listed = run_cli(env, "jobs", "list", "--district", "Riverside \udcff", cwd=tmp_path)
    shown = run_cli(env, "jobs", "show", "job-\udcff", cwd=tmp_path)

    # then
    assert (listed.returncode, listed.stderr) == (2, f"rosterjobs: The district {not_utf8}\n")
    assert (shown.returncode, shown.stderr) == (2, f"rosterjobs: The job id {not_utf8}\n")


def test_token_refuses_a_lifetime_the_api_would_refuse(sqlite_url: str, tmp_path: Path) -> None:
    # given an API that takes tokens of at most an hour
    env = service_env(sqlite_url, str(tmp_path / "objects"))
    env["ROSTERJOBS_MAX_TOKEN_SECONDS"] = "3600"

    # when a two-hour token is asked for
    done = run_cli(
        env, "token", "--district", "Nowhere", "--as", "x", "--ttl", "7200", cwd=tmp_path
    )

    # then it is refused before anything is looked up, and no token is printed
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "rosterjobs: --ttl 7200 is longer than the API accepts "
        "(3600 seconds, ROSTERJOBS_MAX_TOKEN_SECONDS).\n"
    )
