"""An import's history as a revert, a commit and the retention read it: its change history
(`import_changes`) record by record, its row results, and their pruning.

A revert walks the records an import touched in ascending Database ID, a batch at a time
(`next_records` after the revert's checkpoint, the last record it committed), on the
`(job_id, record_id)` index both tables have. Pruning deletes a bounded number of rows per
statement, so it never holds long locks on tables that imports write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, select, update
from sqlalchemy.orm import Session, aliased

from schemas.jobs import JobKind
from storage import roster_writes
from storage.listing import among
from storage.models import Base, ImportChange, ImportRowResult, Job, Student, utcnow


@dataclass(frozen=True)
class RecordedChange:
    """One value the import changed on a record (`ImportChange`), as a revert reads it."""

    record_id: int
    row: int
    column: str
    old: str | None
    new: str | None
    old_hash: str | None
    new_hash: str | None


def count_records(session: Session, job_id: str) -> int:
    """How many records the import changed or created."""
    statement = select(func.count(func.distinct(ImportChange.record_id))).where(
        ImportChange.job_id == job_id
    )
    return session.scalar(statement) or 0


def next_records(session: Session, job_id: str, *, after: int, limit: int) -> list[int]:
    """The next `limit` records the import touched, by Database ID, after `after`."""
    statement = (
        select(ImportChange.record_id)
        .where(ImportChange.job_id == job_id, ImportChange.record_id > after)
        .group_by(ImportChange.record_id)
        .order_by(ImportChange.record_id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def changes_of(session: Session, job_id: str, first: int, last: int) -> list[RecordedChange]:
    """The import's changes to the records `first` to `last` (a batch of `next_records`: a
    range, not a list of a thousand ids to send), in the order it recorded them."""
    statement = (
        select(
            ImportChange.record_id,
            ImportChange.row_number,
            ImportChange.column,
            ImportChange.old_value,
            ImportChange.new_value,
            ImportChange.old_hash,
            ImportChange.new_hash,
        )
        .where(ImportChange.job_id == job_id, ImportChange.record_id.between(first, last))
        .order_by(ImportChange.record_id, ImportChange.id)
    )
    return [RecordedChange(*row) for row in session.execute(statement)]


def created_by(session: Session, job_id: str, first: int, last: int) -> set[int]:
    """Which of the records `first` to `last` the import created."""
    statement = select(ImportRowResult.record_id).where(
        ImportRowResult.job_id == job_id,
        ImportRowResult.record_id.between(first, last),
        ImportRowResult.outcome == "created",
    )
    return {record_id for record_id in session.scalars(statement) if record_id is not None}


def password_hashes(session: Session, record_ids: Collection[int]) -> dict[int, str | None]:
    """The students' stored password hashes."""
    if not record_ids:
        return {}
    statement = select(Student.id, Student.password_hash).where(among(Student.id, record_ids))
    return {record_id: hashed for record_id, hashed in session.execute(statement)}


def delete_records(
    session: Session, model: type[Base], links: Sequence[tuple[type[Base], str]], ids: list[int]
) -> None:
    """Delete the records `ids` and their rows in each `(link table, owner column)`."""
    if not ids:
        return
    for link, owner_column in links:
        table = roster_writes.table_of(link)
        session.execute(delete(table).where(table.c[owner_column].in_(ids)))
    table = roster_writes.table_of(model)
    session.execute(delete(table).where(table.c.id.in_(ids)))


def results_by_record(session: Session, job_id: str, *, batch_rows: int) -> Any:
    """A revert's stored results (record, import row, outcome, notes), by Database ID."""
    statement = (
        select(
            ImportRowResult.record_id,
            ImportRowResult.row_number,
            ImportRowResult.outcome,
            ImportRowResult.errors,
        )
        .where(ImportRowResult.job_id == job_id)
        .order_by(ImportRowResult.record_id)
        .execution_options(yield_per=batch_rows)
    )
    return session.execute(statement)


def outcome_counts(session: Session, job_id: str) -> dict[str, int]:
    statement = (
        select(ImportRowResult.outcome, func.count())
        .where(ImportRowResult.job_id == job_id)
        .group_by(ImportRowResult.outcome)
    )
    return {outcome: number for outcome, number in session.execute(statement)}


def differing_rows(
    session: Session, job_id: str, other_job_id: str, *, limit: int
) -> tuple[int, list[int]]:
    """Rows whose outcome differs between two runs of one file: how many, and the first
    `limit` of their numbers."""
    mine, theirs = aliased(ImportRowResult), aliased(ImportRowResult)
    joined = (
        select(mine.row_number)
        .join(
            theirs,
            and_(theirs.job_id == other_job_id, theirs.row_number == mine.row_number),
        )
        .where(mine.job_id == job_id, mine.outcome != theirs.outcome)
    )
    count = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
    first = list(session.scalars(joined.order_by(mine.row_number).limit(limit)))
    return count, first


# --- retention ---------------------------------------------------------------------------


def imports_to_prune(session: Session, *, finished_before: dt.datetime, limit: int) -> list[str]:
    """Imports (dry runs too) and reverts that finished before `finished_before` and still
    keep their row results and change history, the oldest first."""
    statement = (
        select(Job.id)
        .where(
            Job.kind.in_([JobKind.IMPORT.value, JobKind.REVERT.value]),
            Job.history_pruned_at.is_(None),
            Job.finished_at < finished_before,
        )
        .order_by(Job.finished_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def prune_some(session: Session, job_id: str, *, rows: int) -> int:
    """Delete up to `rows` change rows, then up to `rows` row results, of the job; answers
    how many went. Once none are left the job is marked pruned (`history_pruned_at`)."""
    changes = select(ImportChange.id).where(ImportChange.job_id == job_id).limit(rows)
    gone = _deleted(session, delete(ImportChange).where(ImportChange.id.in_(changes)))
    if gone < rows:
        results = (
            select(ImportRowResult.row_number).where(ImportRowResult.job_id == job_id).limit(rows)
        )
        gone += _deleted(
            session,
            delete(ImportRowResult).where(
                ImportRowResult.job_id == job_id, ImportRowResult.row_number.in_(results)
            ),
        )
    if gone == 0:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.history_pruned_at.is_(None))
            .values(history_pruned_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return gone


def _deleted(session: Session, statement: Any) -> int:
    result = cast(
        CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False))
    )
    return int(result.rowcount or 0)
