"""`rosterjobs db upgrade`, `seed` and `worker` as processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import inspect

from storage.db import make_engine
from tests.processes import REDIS_URL, run_cli, service_env, worker_process


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


def test_the_worker_hands_its_poll_interval_to_every_dramatiq_process(
    tmp_path: Path, redis_namespace: str
) -> None:
    # given a poll interval of 40 ms (an idle consumer looks at its queue that often)
    env = service_env(
        f"sqlite:///{tmp_path / 'x.db'}",
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
        ROSTERJOBS_WORKER_POLL_MS="40",
    )

    # when the worker runs with two processes
    with worker_process(env, tmp_path, processes=2) as worker:
        pids = _dramatiq_processes(worker.pid, expected=3)
        seen = {pid: _environment(pid).get("dramatiq_worker_timeout") for pid in pids}

    # then dramatiq's main process and both of its worker processes poll every 40 ms
    assert set(seen.values()) == {"40"}, seen


def _dramatiq_processes(group: int, *, expected: int) -> list[int]:
    """The processes of the process group `group`, once `expected` of them are running."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _group_of(entry) == group
        ]
        if len(pids) >= expected:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"the worker did not start {expected} processes")


def _group_of(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
