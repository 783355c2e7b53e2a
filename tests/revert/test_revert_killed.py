"""A revert whose `rosterjobs worker` is SIGKILLed in the middle of a batch is requeued by a
second worker's reaper and resumes after its last committed batch of records. What a user
sees must then be what an uninterrupted revert gives on a twin roster (a second database
seeded and imported the same way): the students, their schools and classes, the counts,
the result file, the revert's own change history, one result per record.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.lifecycle import run_job
from jobs.revert import run_revert
from schemas.jobs import JobStatus
from tests.crash import stored
from tests.crash.conftest import twin_database_url, twin_postgres_url
from tests.crash.helpers import (
    RECOVERED,
    events,
    import_uninterrupted,
    kill,
    two_workers,
    worker_running,
)
from tests.crash.test_import_killed import (
    BATCH_IN_FLIGHT,
    Roster,
    import_file,
    twin_rosters,
    wait_for_batch_in_flight,
)
from tests.processes import cli_json, wait_for
from tests.revert.helpers import ask_revert

__all__ = ["BATCH_IN_FLIGHT", "twin_database_url", "twin_postgres_url"]


def test_a_revert_killed_mid_batch_ends_as_if_it_had_never_stopped(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    _killed_and_compared(
        (postgres_url, twin_postgres_url), tmp_path, redis_namespace, students=2000, batch=20
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_revert_of_a_100000_row_import_killed_mid_batch_ends_as_if_it_never_stopped(
    postgres_url: str, twin_postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    _killed_and_compared(
        (postgres_url, twin_postgres_url),
        tmp_path,
        redis_namespace,
        students=100_000,
        batch=1000,
        timeout=900,
    )


def _killed_and_compared(
    urls: tuple[str, str],
    tmp_path: Path,
    namespace: str,
    *,
    students: int,
    batch: int,
    timeout: float = 120,
) -> None:
    # given two identical rosters, the same edited file imported into both
    killed, twin = twin_rosters(urls, tmp_path, namespace, students=students, batch_rows=batch)
    path, _ = import_file(killed, tmp_path, creates=8, password_changes=4)
    imports = [import_uninterrupted(r.context(), r.district, path).id for r in (killed, twin)]
    touched = killed.job(imports[0]).counts

    # when the revert's worker is killed in a batch past the first third, and the twin
    # reverts without interruption
    job_id, checkpoint = _revert_killed(killed, tmp_path, imports[0], timeout=timeout)
    reference = ask_revert(twin.context(), imports[1], twin.district.district_admin)
    run_job(twin.context(), reference, run_revert)

    # then
    done, theirs = killed.job(job_id), twin.job(reference)
    assert events(killed.sessions, job_id) == RECOVERED
    assert done.status == theirs.status, done.error
    assert 0 < checkpoint < done.checkpoint
    assert done.attempts == 2 and done.processed == done.total
    assert done.counts == theirs.counts
    assert done.counts["reverted"] + done.counts["conflicts"] == done.total
    assert done.total == touched["created"] + touched["updated"]
    assert killed.object_bytes(done.result_key) == twin.object_bytes(theirs.result_key)
    assert stored.differences(killed.students(), twin.students()) == []
    district_id = killed.district.district_id
    assert stored.differences(
        stored.memberships(killed.engine, district_id),
        stored.memberships(twin.engine, district_id),
    ) == []  # fmt: skip
    assert stored.differences(
        stored.changes(killed.engine, job_id), stored.changes(twin.engine, reference)
    ) == []  # fmt: skip
    assert stored.differences(
        stored.row_results(killed.engine, job_id), stored.row_results(twin.engine, reference)
    ) == []  # fmt: skip
    killed.engine.dispose()
    twin.engine.dispose()


def _revert_killed(
    copy: Roster, tmp_path: Path, import_id: str, *, timeout: float
) -> tuple[str, int]:
    """Revert on two workers; the one running it is SIGKILLed mid-batch once a third of the
    records are committed, and the other one finishes it. Answers the revert's id and the
    checkpoint (a Database ID) it had when killed."""
    with two_workers(copy.env, tmp_path, copy.sessions) as workers:
        admin = copy.district.district_admin
        job_id = cli_json(copy.env, "jobs", "revert", import_id, "--as", admin, cwd=tmp_path)["id"]
        running = worker_running(copy.sessions, job_id, workers)
        wait_for(
            copy.sessions,
            job_id,
            lambda job: job.processed >= (job.total or 3 * job.processed + 3) // 3,
            timeout=timeout,
        )
        wait_for_batch_in_flight(copy.engine)
        kill(running)
        stopped = copy.job(job_id)
        assert stopped.status == JobStatus.RUNNING.value
        wait_for(copy.sessions, job_id, lambda job: bool(job.finished_at), timeout=timeout)
    return job_id, stopped.checkpoint
