"""A poison message: a job that kills the worker running it, every time. A SIGKILL is no
dramatiq retry, so only the job's own attempt count (`jobs.lifecycle.claim` counts one per
delivery) stops the loop: after `ROSTERJOBS_MAX_ATTEMPTS` deliveries the job ends `failed`,
with a message that says so.

The poison is played by the test itself, with no hook in the product: it watches the job
and SIGKILLs whichever of two worker processes runs it, as soon as it starts, and starts a
fresh worker in its place.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Job, WorkerProcess
from tests.crash.helpers import events, kill
from tests.crash.seeded_district import Roster, edited_file, import_file, roster
from tests.processes import wait_for, worker_process

STUDENTS = 2000
MAX_ATTEMPTS = 3
THREE_ATTEMPTS = {"ROSTERJOBS_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
BROKER_ALONE = {
    "ROSTERJOBS_REAP_SECONDS": "86400",
    "ROSTERJOBS_HEARTBEAT_SECONDS": "0.5",
    "ROSTERJOBS_STALE_AFTER_SECONDS": "60",
}
"""No reaper run; the production stale time, so the broker waits its 60.5 s timeout."""


def running_it(
    side: Roster, job_id: str, workers: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], str]:
    """The live worker whose heartbeat says it runs the job, and its id in `workers`."""
    deadline = time.monotonic() + 30
    while True:
        with side.sessions() as session:
            rows = session.scalars(select(WorkerProcess)).all()
        for row in rows:
            for worker in workers:
                if job_id in row.current_job_ids and _in_group(row.pid, worker):
                    return worker, row.id
        assert time.monotonic() < deadline, "no live worker reported the job"
        time.sleep(0.05)


def on_attempt(number: int) -> Callable[[Job], bool]:
    return lambda job: job.attempts == number


def _in_group(pid: int, worker: subprocess.Popen[bytes]) -> bool:
    """Whether `pid` is the `rosterjobs worker` process or one of dramatiq's children."""
    try:
        return os.getpgid(pid) == worker.pid
    except ProcessLookupError:
        return False


def kill_every_delivery(
    side: Roster, job_id: str, stack: ExitStack, workers: list[subprocess.Popen[bytes]]
) -> list[str]:
    """Kill whichever worker runs the job as soon as it starts, for each of its allowed
    deliveries, starting a fresh worker each time; answers the ids of the killed ones."""
    killed: list[str] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        wait_for(side.sessions, job_id, on_attempt(attempt))
        worker, worker_id = running_it(side, job_id, workers)
        kill(worker)
        killed.append(worker_id)
        workers.remove(worker)
        workers.append(stack.enter_context(worker_process(side.env, side.cwd)))
    return killed


def test_a_job_that_kills_its_worker_every_time_fails_after_max_attempts_instead_of_looping(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given a long import and two workers that give up after three deliveries
    with (
        roster(postgres_url, tmp_path, "poison", redis_namespace, students=STUDENTS,
               settings=THREE_ATTEMPTS) as side,
        ExitStack() as stack,
    ):  # fmt: skip
        data = edited_file(side)
        workers = [stack.enter_context(worker_process(side.env, side.cwd)) for _ in range(2)]
        job_id = import_file(side, data)

        # when whichever worker runs it is killed as soon as it starts, every time
        killed = kill_every_delivery(side, job_id, stack, workers)
        failed = wait_for(side.sessions, job_id, lambda job: job.finished_at is not None)

        # then it ran three times, on three different workers, and the reaper failed it
        assert len(set(killed)) == MAX_ATTEMPTS
        assert events(side.sessions, job_id) == [
            ("created", None),
            ("queued", None),
            ("started", 1),
            ("requeued", 1),
            ("started", 2),
            ("requeued", 2),
            ("started", 3),
            ("finished", 3),
        ]
        assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
        assert (
            failed.error == f"Stopped after 3 attempts: Its worker {killed[-1]} stopped responding."
        )
        assert 0 < failed.checkpoint < STUDENTS


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_without_the_reaper_the_fourth_delivery_of_a_poison_job_fails_it_instead_of_running(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given the same, with the reaper off: only the broker's own redelivery brings it back
    with (
        roster(postgres_url, tmp_path, "poison", redis_namespace, students=STUDENTS,
               settings=THREE_ATTEMPTS | BROKER_ALONE) as side,
        ExitStack() as stack,
    ):  # fmt: skip
        data = edited_file(side)
        workers = [stack.enter_context(worker_process(side.env, side.cwd)) for _ in range(2)]
        job_id = import_file(side, data)

        # when whichever worker runs it is killed as soon as it starts, every time
        kill_every_delivery(side, job_id, stack, workers)
        failed = wait_for(side.sessions, job_id, lambda job: job.finished_at is not None)

        # then the fourth delivery did not run it: it failed it, counting the three
        assert events(side.sessions, job_id) == [
            ("created", None),
            ("queued", None),
            ("started", 1),
            ("started", 2),
            ("started", 3),
            ("finished", 4),
        ]
        assert failed.status == "failed"
        assert failed.error == "Stopped after 3 attempts that did not finish."
