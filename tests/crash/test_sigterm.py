"""SIGTERM, what Kubernetes sends to stop a pod: a `rosterjobs worker` stops its running
import or export at the next batch instead of running it to its end, hands the job back to
the queue and exits within seconds; a second worker then finishes the job, with the outcome
of an uninterrupted run of the same job on a twin roster (`twin_postgres_url`).

The signal goes to the `rosterjobs worker` process alone, as Kubernetes sends it to a
container's main process; dramatiq's parent process passes it on to its worker process.
The export version is marked slow to keep `make test` short: it runs the same hand-back as
the import, and adds that the half-written file is dropped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.crash.helpers import events
from tests.crash.seeded_district import (
    ADDED,
    changes,
    edited_file,
    export_everything,
    import_file,
    import_uninterrupted,
    roster,
    roster_rows,
)
from tests.processes import cli_json, wait_for, worker_process

STUDENTS = 800
SMALL_BATCHES = {"ROSTERJOBS_BATCH_ROWS": "5", "ROSTERJOBS_EXPORT_PROGRESS_SECONDS": "0"}
"""The first worker commits 5 rows a batch: 164 batches, still running when SIGTERM lands."""
LARGE_BATCHES = {"ROSTERJOBS_BATCH_ROWS": "100", "ROSTERJOBS_EXPORT_PROGRESS_SECONDS": "0"}
"""The second worker, and the uninterrupted run, 100 a batch: where batches end changes
nothing in the outcome."""
EXPORT_STUDENTS = 6000
"""1,200 batches of 5 rows: an export still running when SIGTERM lands."""
HANDED_BACK = [
    ("created", None),
    ("queued", None),
    ("started", 1),
    ("requeued", 1),
    ("started", 1),
    ("finished", 1),
]
"""The timeline of a job whose first worker was stopped: handed back, its attempt with it."""


def terminate(worker: subprocess.Popen[bytes]) -> float:
    """SIGTERM the `rosterjobs worker` process, as Kubernetes does; seconds until it exited."""
    os.kill(worker.pid, signal.SIGTERM)
    sent = time.monotonic()
    worker.wait(timeout=60)
    return time.monotonic() - sent


def test_a_sigtermed_worker_hands_its_import_back_after_a_committed_batch_and_another_finishes_it(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given the same district in two databases, and an edited file of its students
    with (
        roster(postgres_url, tmp_path, "stopped", redis_namespace, students=STUDENTS,
               settings=SMALL_BATCHES) as stopped,
        roster(twin_postgres_url, tmp_path, "twin", redis_namespace, students=STUDENTS) as twin,
    ):  # fmt: skip
        data = edited_file(twin)
        rows = STUDENTS + ADDED
        with worker_process(stopped.env, stopped.cwd) as first:
            uninterrupted = import_uninterrupted(twin, data, batch_rows=100)  # as it starts

            # when the worker running the import is sent SIGTERM, and a second one starts
            job_id = import_file(stopped, data)
            wait_for(stopped.sessions, job_id, lambda job: job.checkpoint > 0)
            exited_after = terminate(first)
        handed_back = stopped.job(job_id)
        with worker_process(stopped.env | LARGE_BATCHES, stopped.cwd):
            done = wait_for(stopped.sessions, job_id, lambda job: job.finished_at is not None)

        # then the first worker stopped cleanly, mid-import, leaving a committed checkpoint
        print(f"worker exited {exited_after:.1f} s after SIGTERM, at row {handed_back.checkpoint}")
        assert first.returncode == 0
        assert handed_back.status == "queued" and handed_back.attempts == 0
        assert 0 < handed_back.checkpoint < rows
        assert events(stopped.sessions, job_id) == HANDED_BACK
        # and the second finished it exactly as an uninterrupted run did
        assert uninterrupted.status == done.status == "completed_with_errors"
        assert done.counts == uninterrupted.counts
        assert done.counts == {"created": 20, "updated": 792, "unchanged": 0, "failed": 8}
        assert stopped.read(done.result_key) == twin.read(uninterrupted.result_key)
        assert stopped.read(done.error_report_key) == twin.read(uninterrupted.error_report_key)
        assert changes(stopped, job_id) == changes(twin, uninterrupted.id)
        assert roster_rows(stopped) == roster_rows(twin)


@pytest.mark.slow
def test_a_sigtermed_worker_drops_its_half_written_export_and_another_worker_writes_it_whole(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given the same district in two databases
    with (
        roster(postgres_url, tmp_path, "stopped", redis_namespace, students=EXPORT_STUDENTS,
               settings=SMALL_BATCHES) as stopped,
        roster(twin_postgres_url, tmp_path, "twin", redis_namespace, students=EXPORT_STUDENTS,
               settings=LARGE_BATCHES) as twin,
    ):  # fmt: skip
        with worker_process(stopped.env, stopped.cwd) as first:
            uninterrupted = export_everything(twin)  # while the worker starts

            # when the worker running an export of it is sent SIGTERM, and a second one starts
            args = ("export", *stopped.who, "--entity", "students", "--all-columns")
            job_id = cli_json(stopped.env, *args, cwd=stopped.cwd)["id"]
            wait_for(stopped.sessions, job_id, lambda job: job.processed > 0)
            exited_after = terminate(first)
        handed_back = stopped.job(job_id)
        left_behind = list(stopped.objects.rglob("*.csv*"))
        with worker_process(stopped.env | LARGE_BATCHES, stopped.cwd):
            done = wait_for(stopped.sessions, job_id, lambda job: job.finished_at is not None)

        # then the first worker stopped mid-export and left no file behind
        print(f"worker exited {exited_after:.1f} s after SIGTERM, at row {handed_back.processed}")
        assert first.returncode == 0
        assert handed_back.status == "queued" and handed_back.processed < EXPORT_STUDENTS
        assert left_behind == []
        assert events(stopped.sessions, job_id) == HANDED_BACK
        # and the second wrote the whole export, as an uninterrupted run did
        assert (done.status, done.attempts, done.processed) == ("completed", 1, EXPORT_STUDENTS)
        assert stopped.read(done.result_key) == uninterrupted
