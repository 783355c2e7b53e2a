"""Redelivery by the broker alone: dramatiq's Redis broker gives a dead worker's unacked
message back to the queue only in its random "maintenance" runs, once the worker's broker
heartbeat is older than `HEARTBEAT_TIMEOUT_MS` (`worker.runtime`). With our reaper off,
this measures how long a job whose worker was SIGKILLed waits before it runs again, on the
production timings (heartbeat every 10 s, a job silent for 60 s is stale).

Slow: the wait is the heartbeat timeout and then some, over a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash.helpers import events, kill, started_at
from tests.crash.seeded_district import ADDED, edited_file, import_file, roster
from tests.processes import wait_for, worker_process

STUDENTS = 600
REAPER_OFF = {
    "ROSTERJOBS_REAP_SECONDS": "86400",
    "ROSTERJOBS_HEARTBEAT_SECONDS": "10",
    "ROSTERJOBS_STALE_AFTER_SECONDS": "60",
}
"""No reaper run within the test, in either worker; the production heartbeat timings."""
TWO_MINUTES = 120


@pytest.mark.slow
def test_without_the_reaper_the_broker_runs_a_killed_workers_job_again_within_two_minutes(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given a long import running on a worker, with the reaper off
    with roster(
        postgres_url, tmp_path, "killed", redis_namespace, students=STUDENTS, settings=REAPER_OFF
    ) as side:
        data = edited_file(side)
        with worker_process(side.env, side.cwd) as first:
            job_id = import_file(side, data)
            wait_for(side.sessions, job_id, lambda job: job.checkpoint > 0)

            # when that worker is SIGKILLed and a second one, its reaper off too, starts
            killed_at = kill(first)
        with worker_process(side.env, side.cwd):
            done = wait_for(
                side.sessions, job_id, lambda job: job.finished_at is not None, timeout=240
            )

        # then the broker gave the message to the second worker, which finished the job
        waited = (started_at(side.sessions, job_id, 2) - killed_at).total_seconds()
        print(f"the killed worker's job ran again {waited:.1f} s after the SIGKILL")
        assert events(side.sessions, job_id) == [
            ("created", None),
            ("queued", None),
            ("started", 1),
            ("started", 2),
            ("finished", 2),
        ]
        assert done.status == "completed_with_errors"
        assert sum(done.counts.values()) == STUDENTS + ADDED
        assert waited < TWO_MINUTES
