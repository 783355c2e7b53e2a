"""How Postgres plans a running import's look-up of earlier rows (`storage.bulk_writes`).

A job's results are new to the table's statistics, and a plan chosen on "this job has one
result" walks all of them per key: each batch of a long import costs more than the one
before. After `refresh_result_statistics`, which the import runs after its first batch,
the look-up probes the (job_id, column) index instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from storage.bulk_writes import refresh_result_statistics
from storage.db import unit_of_work
from storage.models import ImportRowResult
from tests import factories
from tests.ops.helpers import queued_export

EARLIER_JOBS = 3
RESULTS = 3000
LOOKUP = (
    "SELECT k.key, (SELECT min(r.row_number) FROM import_row_results AS r "
    "WHERE r.job_id = :job_id AND r.record_id = k.key) AS first "
    "FROM unnest(CAST(:keys AS bigint[])) AS k(key)"
)
"""The statement `first_rows` runs for the record_id column."""


def results_of(job_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {"job_id": job_id, "row_number": row, "outcome": "updated", "errors": [], "record_id": row}
        for row in range(2, count + 2)
    ]


def index_scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if plan.get("Node Type") == "Index Scan":
        yield plan
    for child in plan.get("Plans", []):
        yield from index_scans(child)


def lookup_plan(sessions: sessionmaker[Session], job_id: str) -> list[tuple[str, str]]:
    """(index, condition) of every index scan in the look-up's plan for `job_id`."""
    with sessions() as session:
        raw = session.scalar(
            text("EXPLAIN (FORMAT JSON) " + LOOKUP), {"job_id": job_id, "keys": [10**9]}
        )
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return [(scan["Index Name"], scan.get("Index Cond", "")) for scan in index_scans(plan)]


def test_a_running_import_looks_up_its_earlier_rows_through_their_index_once_counted(
    pg_sessions: sessionmaker[Session],
) -> None:
    # given a table of results of earlier jobs, all of them counted by an ANALYZE, and a
    # running import whose first batches were just written
    with unit_of_work(pg_sessions) as session:
        roster = factories.small_district(session)
    earlier = [queued_export(pg_sessions, roster) for _ in range(EARLIER_JOBS)]
    running = queued_export(pg_sessions, roster)
    with unit_of_work(pg_sessions) as session:
        for job_id in earlier:
            session.execute(insert(ImportRowResult), results_of(job_id, RESULTS))
        refresh_result_statistics(session)
    with unit_of_work(pg_sessions) as session:
        session.execute(insert(ImportRowResult), results_of(running, 200))
    before = lookup_plan(pg_sessions, running)

    # when the import refreshes the statistics after its first batch
    with unit_of_work(pg_sessions) as session:
        refresh_result_statistics(session)

    # then the look-up, which read every result of the job per key, probes its index
    assert not any("record_id" in condition for _, condition in before), before
    after = lookup_plan(pg_sessions, running)
    assert [index for index, condition in after if "record_id" in condition] == [
        "ix_import_row_results_record"
    ], after
