"""Apply stage of the import: a batch's writes, row results and checkpoint, in one transaction.

The caller owns the transaction; committing it is the import's checkpoint. The batch is
written in a few statements (`_write_many`), the way the plan's `RosterWrites` does them
(`jobs.import_writes`: plain statements, or arrays and `COPY` on Postgres). A row that
hits a constraint at write time (a race with another writer) is refused on its own: the
same writes are then made row by row, each in a savepoint, the general way, and the others
still apply. A dry run writes row results and the checkpoint but nothing to the roster.
Passwords are hashed a batch at a time (`PasswordHashes`), so a pool can share the work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jobs.import_checks import Decision, ImportPlan
from jobs.import_rows import RowOutcome
from jobs.import_writes import RosterWrites, StatementWrites
from jobs.lifecycle import JobContext, report_progress
from jobs.passwords import hash_password
from storage import bulk_writes, roster_writes
from storage.db import unit_of_work
from storage.models import ImportChange, ImportRowResult, Job

PasswordHashes = Callable[[Sequence[str]], list[str]]
"""Hashes each password (a fresh salt each); `jobs.password_pool` spreads them over processes."""


def hash_each(passwords: Sequence[str]) -> list[str]:
    return [hash_password(password) for password in passwords]


def apply_batch(
    session: Session,
    plan: ImportPlan,
    decisions: Sequence[Decision],
    *,
    hashes: PasswordHashes = hash_each,
) -> dict[str, int]:
    """Write the batch; answers the batch's counts by outcome."""
    if not plan.dry_run:
        _write_all(session, plan, decisions, hashes)
    _record_results(session, plan, decisions)
    counts = _counts(decisions)
    _advance(session, plan.job_id, decisions, counts)
    return counts


def batch_committed(ctx: JobContext, job_id: str, *, first: bool) -> None:
    """What follows each batch's commit: the job's progress stored (and a cancel or a stop
    noticed), and after the first batch the results' statistics refreshed."""
    if first:
        # the next batches look up earlier rows of this job: let the planner count them
        with unit_of_work(ctx.sessions) as session:
            bulk_writes.refresh_result_statistics(session)
    report_progress(ctx, job_id)


@dataclass(slots=True)
class RecordWrite:
    """What one row writes: the record's own columns and the link sets it replaces."""

    decision: Decision
    scalars: dict[str, Any]
    links: dict[str, set[Any]]

    @property
    def record_id(self) -> int:
        record_id = self.decision.record_id
        assert record_id is not None
        return record_id


def _write_all(
    session: Session, plan: ImportPlan, decisions: Sequence[Decision], hashes: PasswordHashes
) -> None:
    hashed = _hashed(decisions, hashes)
    writes = [write for d in decisions if (write := _planned(plan, d, hashed)) is not None]
    try:
        with session.begin_nested():
            _write_many(session, plan, writes, plan.writes)
    except IntegrityError:
        for write in writes:
            _write_alone(session, plan, write)


def _hashed(decisions: Sequence[Decision], hashes: PasswordHashes) -> dict[int, str]:
    """By row: the hash of each password the batch writes (a created record's, or a changed one)."""
    setting = [d for d in decisions if _sets_password(d)]
    new = hashes([d.draft.password or "" for d in setting])
    return {d.draft.row: hashed for d, hashed in zip(setting, new, strict=True)}


def _sets_password(decision: Decision) -> bool:
    draft = decision.draft
    if not draft.password:
        return False
    if decision.outcome is RowOutcome.CREATED:
        return True
    return decision.outcome is RowOutcome.UPDATED and (
        draft.creates or "password" in decision.changes
    )


def _write_alone(session: Session, plan: ImportPlan, write: RecordWrite) -> None:
    decision = write.decision
    decision.created_id = None
    try:
        with session.begin_nested():
            _write_many(session, plan, [write], StatementWrites())
    except IntegrityError as err:
        decision.outcome = RowOutcome.FAILED
        decision.created_id = None
        reason = str(err.orig).splitlines()[0] if err.orig else "a database constraint"
        decision.draft.refuse("Row", f"could not be saved ({reason}); nothing of it was applied.")


def _planned(plan: ImportPlan, decision: Decision, hashed: dict[int, str]) -> RecordWrite | None:
    if decision.outcome is RowOutcome.UPDATED:
        values = {attr: new for attr, (_, new) in decision.changes.items()}
        scalars = _scalars(plan, decision, values, hashed)
    elif decision.outcome is RowOutcome.CREATED:
        values = decision.draft.values
        scalars = _scalars(plan, decision, values, hashed) | {"district_id": plan.scope.district_id}
    else:
        return None
    links = {
        link.attr: decision.link_ids.get(link.attr, set())
        for link in plan.spec.link_tables
        if link.attr in values
    }
    return RecordWrite(decision, scalars, links)


def _write_many(
    session: Session, plan: ImportPlan, writes: Sequence[RecordWrite], through: RosterWrites
) -> None:
    """A batch's writes in a few statements: updates grouped by the columns they change,
    creates in one go, link sets replaced per link table, every change in one insert."""
    model = plan.spec.model
    updates = [w for w in writes if w.decision.outcome is RowOutcome.UPDATED]
    creates = [w for w in writes if w.decision.outcome is RowOutcome.CREATED]
    through.update_records(session, model, [(w.record_id, w.scalars) for w in updates])
    new_ids = through.insert_records(session, model, [w.scalars for w in creates])
    for write, new_id in zip(creates, new_ids, strict=True):
        write.decision.created_id = new_id
    for link in plan.spec.links:
        if link.table is not None:
            through.replace_links(
                session,
                link.table,
                owner_column=link.owner_column,
                other_column=link.other_column,
                links={w.record_id: w.links[link.attr] for w in writes if link.attr in w.links},
            )
    entity = plan.spec.entity.value
    changes = [row for write in writes for row in _change_rows(plan, write, entity)]
    through.insert_rows(session, ImportChange, CHANGE_COLUMNS, changes)


def _scalars(
    plan: ImportPlan, decision: Decision, values: dict[str, Any], hashed: dict[int, str]
) -> dict[str, Any]:
    """Column values of the record itself: links left out, the school of a class as its id,
    the password as its hash."""
    links = plan.spec.link_attrs
    scalars = {attr: value for attr, value in values.items() if attr not in links}
    if "school" in values and "school" in links:
        scalars["school_id"] = next(iter(decision.link_ids["school"]))
    if decision.draft.password and (decision.draft.creates or "password" in decision.changes):
        scalars["password_hash"] = hashed[decision.draft.row]
    scalars.pop("password", None)
    return roster_writes.with_keys(scalars, plan.spec.keyed)


CHANGE_COLUMNS = (
    "job_id",
    "entity",
    "record_id",
    "row_number",
    "column",
    "old_value",
    "new_value",
    "old_hash",
    "new_hash",
)
_RESULT_COLUMNS = (
    "job_id",
    "row_number",
    "outcome",
    "errors",
    "record_id",
    "claimed_name",
    "claimed_external_id",
)
_OUTCOME_VALUE = {outcome: outcome.value for outcome in RowOutcome}


def _change_rows(plan: ImportPlan, write: RecordWrite, entity: str) -> list[tuple[Any, ...]]:
    """The audit rows of one written record (`CHANGE_COLUMNS`): every value it changed (a
    created record: every value it set), the password only as "(changed)", its hashes (the
    replaced one and the new one) apart, for a revert."""
    decision = write.decision
    if decision.outcome is RowOutcome.CREATED:
        changes = {attr: (None, value) for attr, value in decision.draft.values.items()}
        if decision.draft.password:
            changes["password"] = (None, None)
    else:
        changes = decision.changes
    job_id, record_id, row = plan.job_id, write.record_id, decision.draft.row
    return [
        (
            job_id,
            entity,
            record_id,
            row,
            _header(plan, attr),
            _shown(plan, attr, old),
            "(changed)" if attr == "password" else _shown(plan, attr, new),
            *_hashes(write, attr, old),
        )
        for attr, (old, new) in changes.items()
    ]


def _hashes(write: RecordWrite, attr: str, old: Any) -> tuple[str | None, str | None]:
    if attr != "password":
        return None, None
    return old, write.scalars.get("password_hash")


def _header(plan: ImportPlan, attr: str) -> str:
    column = plan.columns.get(attr)
    return column.header if column else attr.replace("_", " ").title()


def _shown(plan: ImportPlan, attr: str, value: Any) -> str | None:
    """A value as its column writes it in a CSV cell (None for nothing)."""
    column = plan.columns.get(attr)
    if value is None or attr == "password":
        return None
    if isinstance(value, str) and column is None:
        return value
    return column.codec.to_cell(value) if column else str(value)


def _record_results(session: Session, plan: ImportPlan, decisions: Sequence[Decision]) -> None:
    rows = [
        (
            plan.job_id,
            d.draft.row,
            _OUTCOME_VALUE[d.outcome],
            list(d.draft.errors),
            d.record_id,
            None if d.outcome is RowOutcome.FAILED else d.claims.get("claimed_name"),
            None if d.outcome is RowOutcome.FAILED else d.claims.get("claimed_external_id"),
        )
        for d in decisions
    ]
    plan.writes.insert_rows(session, ImportRowResult, _RESULT_COLUMNS, rows)


def _counts(decisions: Sequence[Decision]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for decision in decisions:
        value = _OUTCOME_VALUE[decision.outcome]
        counts[value] = counts.get(value, 0) + 1
    return counts


def _advance(
    session: Session, job_id: str, decisions: Sequence[Decision], counts: dict[str, int]
) -> None:
    """Move the job's checkpoint past this batch, in the batch's own transaction."""
    job = session.get(Job, job_id, with_for_update=True)
    assert job is not None
    merged = dict(job.counts or {})
    for outcome, number in counts.items():
        merged[outcome] = merged.get(outcome, 0) + number
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            checkpoint=max(d.draft.row for d in decisions),
            processed=Job.processed + len(decisions),
            counts=merged,
        )
    )
