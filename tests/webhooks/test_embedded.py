"""On the embedded defaults (no broker), `rosterjobs export` runs the job in its own process
and tells the portal before it exits."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_export import seeded
from tests.processes import cli_json, service_env
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
