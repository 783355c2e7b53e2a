"""The revert pipeline: an import undone from its change history, in this order:

1. plan: the import it reverts, checked again (it may have been pruned while the revert
   waited), and how many records it touched (the progress bar's total);
2. then batch by batch, the records in ascending Database ID after the job's checkpoint
   (`storage.revert_history.next_records`): read what the import changed on them and the
   records as they are now, decide each (`jobs.revert_checks`: put back, delete, or leave a
   conflict), and write the batch: the values put back, the records deleted, the revert's
   own change history, one result per record and the checkpoint, in one transaction, so a
   redelivered revert resumes after its last committed batch and reverts no record twice;
3. report: the result file, one row per record (`Database ID`, the import's `Row`,
   `Result`, `Put back`, `Not put back`), from the stored results.

A dry run decides and reports the same way and writes nothing to the roster. A cancel is
noticed between batches: what was committed stays reverted, and is reported.

A revert's results live in `import_row_results` under its own job id: `row_number` is the
import's row of the record, `outcome` `reverted`, `conflict` or `failed`, and `errors` two
texts, what was put back and what was not (with why).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jobs.errors import JobCancelled, PermanentJobError
from jobs.formats import CSV
from jobs.import_apply import CHANGE_COLUMNS
from jobs.import_spec import SPECS, EntitySpec
from jobs.import_writes import CopyWrites, RosterWrites, StatementWrites
from jobs.lifecycle import JobContext, Outcome, report_progress
from jobs.revert_checks import (
    RecordRevert,
    Result,
    check_unique,
    decide,
    district_scope,
    resolve_links,
)
from jobs.revert_requests import history_refusal
from schemas.columns import Entity
from schemas.jobs import JobStatus
from storage import revert_history, roster_writes
from storage.db import unit_of_work
from storage.models import ImportChange, ImportRowResult, Job

REPORT_HEADER = ("Database ID", "Row", "Result", "Put back", "Not put back")


@dataclass(frozen=True)
class RevertPlan:
    job_id: str
    source_id: str
    district_id: int
    spec: EntitySpec
    dry_run: bool
    writes: RosterWrites


def run_revert(ctx: JobContext, job: Job) -> Outcome:
    plan = _plan(ctx, job, history_days=ctx.import_history_days)
    cancelled = False
    try:
        _revert_batches(ctx, plan, checkpoint=job.checkpoint)
    except JobCancelled:
        cancelled = True
    return _report(ctx, job, cancelled=cancelled)


def _plan(ctx: JobContext, job: Job, *, history_days: int) -> RevertPlan:
    with ctx.sessions() as session:
        source = session.get(Job, job.source_job_id) if job.source_job_id else None
        if source is None:
            raise PermanentJobError("The import to revert no longer exists.")
        refusal = history_refusal(source, history_days=history_days)
        if refusal:
            raise PermanentJobError(refusal)
        total = revert_history.count_records(session, source.id)
        on_postgres = session.get_bind().dialect.name == "postgresql"
    report_progress(ctx, job.id, total=total)
    return RevertPlan(
        job_id=job.id,
        source_id=source.id,
        district_id=job.district_id,
        spec=SPECS[Entity(job.entity)],
        dry_run=job.dry_run,
        writes=CopyWrites(None) if on_postgres else StatementWrites(),
    )


def _revert_batches(ctx: JobContext, plan: RevertPlan, *, checkpoint: int) -> None:
    while True:
        with unit_of_work(ctx.sessions) as session:
            ids = revert_history.next_records(
                session, plan.source_id, after=checkpoint, limit=ctx.batch_rows
            )
            if not ids:
                return
            records = decide_batch(session, plan, ids)
            apply_batch(session, plan, records)
            checkpoint = ids[-1]
        report_progress(ctx, plan.job_id)


def decide_batch(session: Session, plan: RevertPlan, ids: list[int]) -> list[RecordRevert]:
    changes = revert_history.changes_of(session, plan.source_id, ids[0], ids[-1])
    created = revert_history.created_by(session, plan.source_id, ids[0], ids[-1])
    records: dict[int, RecordRevert] = {}
    for change in changes:
        record = records.get(change.record_id)
        if record is None:
            record = records[change.record_id] = RecordRevert(
                change.record_id, change.row, change.record_id in created, []
            )
        record.changes.append(change)
    spec = plan.spec
    rows = spec.load(session, district_scope(plan.district_id), tuple(ids))
    current = {row["id"]: row for row in rows}
    hashes = revert_history.password_hashes(session, ids) if spec.entity is Entity.STUDENTS else {}
    for record in records.values():
        decide(spec, record, current.get(record.record_id), hashes.get(record.record_id))
    resolve_links(session, spec, plan.district_id, list(records.values()))
    check_unique(session, spec, plan.district_id, records.values())
    for record in records.values():
        record.settle()
    return list(records.values())


def apply_batch(session: Session, plan: RevertPlan, records: Sequence[RecordRevert]) -> None:
    """The batch's writes (none in a dry run), its results and the checkpoint."""
    if not plan.dry_run:
        try:
            with session.begin_nested():
                _write(session, plan, records, plan.writes)
        except IntegrityError:
            for record in records:
                _write_alone(session, plan, record)
    _record(session, plan, records)


def _write_alone(session: Session, plan: RevertPlan, record: RecordRevert) -> None:
    try:
        with session.begin_nested():
            _write(session, plan, [record], StatementWrites())
    except IntegrityError as err:
        reason = str(err.orig).splitlines()[0] if err.orig else "a database constraint"
        record.result = Result.FAILED
        record.restored = []
        record.kept = [f"Record: could not be saved ({reason}); nothing of it was put back."]


def _write(
    session: Session, plan: RevertPlan, records: Sequence[RecordRevert], writes: RosterWrites
) -> None:
    spec = plan.spec
    updates = [
        (r.record_id, roster_writes.with_keys(r.scalars, spec.keyed))
        for r in records
        if r.scalars and not r.delete
    ]
    writes.update_records(session, spec.model, updates)
    for link in spec.link_tables:
        assert link.table is not None
        links: dict[int, Collection[Any]] = {
            r.record_id: r.links[link.attr] for r in records if link.attr in r.links
        }
        writes.replace_links(
            session,
            link.table,
            owner_column=link.owner_column,
            other_column=link.other_column,
            links=links,
        )
    doomed = [r.record_id for r in records if r.delete]
    owned = [(link.table, link.owner_column) for link in spec.link_tables if link.table]
    revert_history.delete_records(session, spec.model, owned, doomed)
    history = [
        (plan.job_id, spec.entity.value, r.record_id, r.row, column, now, back, None, None)
        for r in records
        for column, now, back in r.restored
    ]
    writes.insert_rows(session, ImportChange, CHANGE_COLUMNS, history)


_RESULT_COLUMNS = ("job_id", "row_number", "outcome", "errors", "record_id")


def _record(session: Session, plan: RevertPlan, records: Sequence[RecordRevert]) -> None:
    rows = [
        (plan.job_id, r.row, r.result, [r.put_back(), " ".join(r.kept)], r.record_id)
        for r in records
    ]
    plan.writes.insert_rows(session, ImportRowResult, _RESULT_COLUMNS, rows)
    counts: dict[str, int] = {}
    for record in records:
        counts[_COUNTED[record.result]] = counts.get(_COUNTED[record.result], 0) + 1
    job = session.get(Job, plan.job_id, with_for_update=True)
    assert job is not None
    merged = dict(job.counts or {})
    for name, number in counts.items():
        merged[name] = merged.get(name, 0) + number
    session.execute(
        update(Job)
        .where(Job.id == plan.job_id)
        .values(
            checkpoint=max(r.record_id for r in records),
            processed=Job.processed + len(records),
            counts=merged,
        )
    )


_COUNTED = {Result.REVERTED: "reverted", Result.CONFLICT: "conflicts", Result.FAILED: "failed"}


def _report(ctx: JobContext, job: Job, *, cancelled: bool) -> Outcome:
    key = f"reverts/{job.district_id}/{job.id}/{job.entity}-revert-result.csv"
    with ctx.sessions() as session:
        with ctx.store.open_write(key) as raw, CSV.rows_into(raw) as table:
            table.writerow(REPORT_HEADER)
            for record_id, row, outcome, notes in revert_history.results_by_record(
                session, job.id, batch_rows=ctx.batch_rows
            ):
                put_back, kept = [*(notes or []), "", ""][:2]
                table.writerow((str(record_id), str(row), outcome, put_back, kept))
        stored = revert_history.outcome_counts(session, job.id)
        total = session.get(Job, job.id)
        expected = (total.total if total else None) or 0
    counts = {name: stored.get(result, 0) for result, name in _COUNTED.items()}
    if cancelled:
        counts["not_processed"] = max(expected - sum(counts.values()), 0)
        status = JobStatus.CANCELLED
    elif counts["conflicts"] or counts["failed"]:
        status = JobStatus.COMPLETED_WITH_ERRORS
    else:
        status = JobStatus.COMPLETED
    return Outcome(status, counts=counts, result_key=key, warnings=_warnings(job))


def _warnings(job: Job) -> dict[str, Any]:
    if job.dry_run:
        return {"dry_run": "Nothing was changed: this is what the revert would do."}
    return {}
