"""`rosterjobs` commands as processes: on the embedded defaults (no broker), `rosterjobs
export` runs the job in its own process and tells the portal before it exits; a malformed
webhook setting stops any command at start, in one line."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_export import seeded
from tests.processes import cli_json, run_cli, service_env
from tests.webhooks.receiver import SECRET, body_of, receiving


def test_an_export_on_the_embedded_defaults_notifies_the_portal_before_the_command_exits(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given a roster, a receiver, and webhook settings on the embedded defaults
    roster = seeded(sqlite_url)
    with receiving() as receiver:
        env = service_env(
            sqlite_url,
            str(tmp_path / "objects"),
            ROSTERJOBS_WEBHOOK_URL=receiver.url,
            ROSTERJOBS_WEBHOOK_SECRET=SECRET,
        )

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
            cwd=tmp_path,
        )

    # then the command had sent its one event by the time it exited
    assert [body_of(event)["data"]["id"] for event in receiver.events] == [job["id"]]
    assert body_of(receiver.events[0])["data"]["status"] == "completed"


def test_a_malformed_webhook_secret_stops_a_command_with_one_line_that_does_not_show_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given a secret without its whsec_ prefix
    secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    env = service_env(
        sqlite_url,
        str(tmp_path / "objects"),
        ROSTERJOBS_WEBHOOK_URL="https://portal.example.org/hooks",
        ROSTERJOBS_WEBHOOK_SECRET=secret,
    )

    # when
    done = run_cli(env, "jobs", "list", cwd=tmp_path)

    # then
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "rosterjobs: ROSTERJOBS_WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to "
        "64 random bytes"
    ]
    assert secret not in done.stderr + done.stdout
