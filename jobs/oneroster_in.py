"""The OneRoster import pipeline, in this order:

1. plan: the requester's scope checked again (administrators only, as for the export);
2. survey (`jobs.oneroster_zip`): the zip, its manifest and each file's header checked
   before anything is applied (a bad set fails the job with one sentence), and each file's
   repeated sourcedIds found (every repeat after the first is refused);
3. sections, in dependency order, batch by batch: `orgs.csv` (schools,
   `jobs.oneroster_apply`), `academicSessions.csv` and `courses.csv` (read for their
   sourcedIds; the roster has no terms or courses: `unchanged`), `classes.csv` then the
   students and the educators of `users.csv` as rows of the Classes/Groups, Students and
   Educators files (`jobs.oneroster_rows_in`) through the CSV import's own checks and
   writes (`jobs.import_checks`, `jobs.import_apply`), then `enrollments.csv`
   (`jobs.oneroster_apply`). Each batch's writes, results and the job's checkpoint commit
   together; a created record keeps the sourcedId it came with;
4. report (`jobs.oneroster_report`): a zip of the input's files with `Row`, `Result`,
   `Errors` added (every row), a zip of the refused rows, and `counts_by_file` on the job.

Each file has its own range of the job's row numbers (`number`: file slot × 10,000,000 +
its spreadsheet row, the users file two slots, its students then its educators), so the
checkpoint grows through the whole set and a redelivered job resumes where it stopped; the
entities' checks look for earlier rows inside their own range only (`ImportPlan.rows`).
"""

from __future__ import annotations

import itertools
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jobs.csv_in import Header
from jobs.errors import FileRefused, JobCancelled
from jobs.import_apply import apply_batch, batch_committed
from jobs.import_checks import ImportPlan, count_outcomes, decide_batch
from jobs.import_rows import RowOutcome, parse_row
from jobs.import_spec import SPECS
from jobs.import_writes import CopyWrites, RosterWrites, StatementWrites
from jobs.lifecycle import JobContext, Outcome, report_progress
from jobs.oneroster_apply import SectionContext, enrollment_results, org_results
from jobs.oneroster_report import SLOT, SLOTS, number, write_reports
from jobs.oneroster_rows_in import (
    EDUCATOR_ROLES,
    MODEL,
    STUDENT_ROLES,
    Result,
    Row,
    deactivating,
    entity_cells,
    entity_columns,
    references,
    wanted_by,
)
from jobs.oneroster_zip import SetFile, SetSurvey, opened_set, read_file, survey
from jobs.requests import ImportRequest, plan_oneroster_import
from schemas.columns import Entity
from schemas.jobs import JobStatus
from schemas.products import Product
from schemas.scope import Scope
from storage import districts, oneroster_refs
from storage.db import unit_of_work
from storage.models import ImportRowResult, Job


@dataclass
class _Run:
    ctx: JobContext
    job: Job
    scope: Scope
    purchased: tuple[Product, ...]
    archive: zipfile.ZipFile
    found: SetSurvey
    repeats: dict[str, dict[int, int]]
    section: SectionContext
    first_batch: bool = True
    skipped_roles: Counter[str] = field(default_factory=Counter)
    writes: RosterWrites = field(default_factory=StatementWrites)


def run_oneroster_import(ctx: JobContext, job: Job, *, fast: bool = True) -> Outcome:
    """The import of a OneRoster set; on Postgres the entities' rows are written the fast
    way (`jobs.import_writes.CopyWrites`) unless `fast` is False (the general path, the
    reference it is tested against)."""
    if not job.input_key:
        raise FileRefused("The import has no uploaded file.")
    key = job.input_key
    with ctx.sessions() as session:
        scope = plan_oneroster_import(session, ImportRequest.from_job(job))
        purchased = districts.purchased_products(session, scope.district_id)
        copies = fast and session.get_bind().dialect.name == "postgresql"
    cancelled = False
    with opened_set(lambda: ctx.store.open_read(key), limits=ctx.import_limits) as archive:
        found = survey(archive, limits=ctx.import_limits)
        if found.rows > SLOT - 1:
            raise FileRefused("The file set has too many rows for one import.")
        section = SectionContext(job.id, scope, job.dry_run)
        run = _Run(ctx, job, scope, purchased, archive, found, _repeats(archive, found), section)
        run.writes = CopyWrites(None) if copies else StatementWrites()
        report_progress(ctx, job.id, total=found.rows)
        try:
            _apply_sections(run)
        except JobCancelled:
            cancelled = True
        keys = write_reports(run.ctx, run.job, run.archive, run.found)
    return _outcome(run, keys, cancelled=cancelled)


def _repeats(archive: zipfile.ZipFile, found: SetSurvey) -> dict[str, dict[int, int]]:
    """By file: each row that repeats an earlier row's sourcedId → that earlier row."""
    repeats: dict[str, dict[int, int]] = {}
    for set_file in found.files:
        first: dict[str, int] = {}
        mine = repeats[set_file.name] = {}
        for row, cells in read_file(archive, set_file):
            earlier = first.setdefault(cells.get("sourcedId", ""), row)
            if earlier != row:
                mine[row] = earlier
    return repeats


def _apply_sections(run: _Run) -> None:
    for set_file in run.found.files:
        slots = SLOTS[set_file.name]
        if set_file.name == "users.csv":
            _entity_section(run, set_file, Entity.STUDENTS, slots[0], _role_in(STUDENT_ROLES))
            _entity_section(run, set_file, Entity.EDUCATORS, slots[1], _role_in(EDUCATOR_ROLES))
        elif set_file.name == "classes.csv":
            _entity_section(run, set_file, Entity.CLASSES, slots[0], lambda _: True)
        elif set_file.name == "orgs.csv":
            _plain_section(run, set_file, slots[0], org_results)
        elif set_file.name == "enrollments.csv":
            _plain_section(run, set_file, slots[0], enrollment_results)
        else:
            _plain_section(run, set_file, slots[0], _unchanged)


def _role_in(roles: Iterable[str]) -> Callable[[dict[str, str]], bool]:
    wanted = frozenset(roles)
    return lambda cells: cells.get("role", "").strip().lower() in wanted


def _other_role(cells: dict[str, str]) -> bool:
    role = cells.get("role", "").strip().lower()
    return role not in STUDENT_ROLES and role not in EDUCATOR_ROLES


def _unchanged(session: Session, run: SectionContext, rows: Sequence[Row]) -> list[Result]:
    return [Result(row, RowOutcome.UNCHANGED) for row, _ in rows]


def _pending(run: _Run, set_file: SetFile, slot: int) -> Iterator[list[tuple[int, Row]]]:
    """Batches of (spreadsheet row, (job row number, cells)) after the checkpoint."""
    rows = (
        (row, (number(slot, row), cells))
        for row, cells in read_file(run.archive, set_file)
        if number(slot, row) > run.job.checkpoint
    )
    while batch := list(itertools.islice(rows, run.ctx.batch_rows)):
        yield batch


def _repeat_result(run: _Run, set_file: SetFile, row: int, numbered: int) -> Result | None:
    earlier = run.repeats[set_file.name].get(row)
    if earlier is None:
        return None
    return Result(numbered, RowOutcome.FAILED, (f"sourcedId: duplicate of row {earlier}.",))


def _plain_section(run: _Run, set_file: SetFile, slot: int, decide: Any) -> None:
    for batch in _pending(run, set_file, slot):
        repeated = {n: r for row, (n, _) in batch if (r := _repeat_result(run, set_file, row, n))}
        rows = [numbered for _, numbered in batch if numbered[0] not in repeated]
        with unit_of_work(run.ctx.sessions) as session:
            decided = {r.row: r for r in decide(session, run.section, rows)} | repeated
            _record(session, run, [decided[n] for _, (n, _) in batch])
        _committed(run)


def _entity_section(
    run: _Run, set_file: SetFile, entity: Entity, slot: int, takes: Callable[[dict[str, str]], bool]
) -> None:
    """The file's rows of this entity through its checks and writes; the educators' pass
    of `users.csv` also records the rows of roles the roster does not hold (skipped)."""
    for batch in _pending(run, set_file, slot):
        mine = [(row, numbered) for row, numbered in batch if takes(numbered[1])]
        with unit_of_work(run.ctx.sessions) as session:
            plain = _entity_batch(session, run, set_file, entity=entity, slot=slot, mine=mine)
            if entity is Entity.EDUCATORS:
                plain += [
                    _skipped_role(run, n, cells) for _, (n, cells) in batch if _other_role(cells)
                ]
            _record_plain(session, run, plain)
            _checkpoint(session, run, max(n for _, (n, _) in batch), plain)
        _committed(run)


def _skipped_role(run: _Run, numbered: int, cells: dict[str, str]) -> Result:
    run.skipped_roles[f"user role {cells.get('role', '').strip().lower() or '(none)'}"] += 1
    return Result(numbered, RowOutcome.UNCHANGED)


def _entity_batch(
    session: Session,
    run: _Run,
    set_file: SetFile,
    *,
    entity: Entity,
    slot: int,
    mine: list[tuple[int, Row]],
) -> list[Result]:
    """The rows through the entity's checks and writes (which record their results), in
    two groups: rows that deactivate (Database ID and Status only, the rest left as it
    is) and the others (every column they carry). Answers the results of the rows the
    checks never saw (a repeated sourcedId), still to be recorded."""
    repeated = [r for row, (n, _) in mine if (r := _repeat_result(run, set_file, row, n))]
    done = {r.row for r in repeated}
    rows = [numbered for _, numbered in mine if numbered[0] not in done]
    wanted = wanted_by(entity, rows)
    refs = references(session, run.scope.district_id, wanted, run.section.matched)
    for deactivation in (True, False):
        group = [row for row in rows if deactivating(row[1]) == deactivation]
        if group:
            _through_checks(
                session,
                run,
                group,
                entity=entity,
                slot=slot,
                refs=refs,
                deactivation=deactivation,
            )
    return repeated


def _through_checks(
    session: Session,
    run: _Run,
    rows: list[Row],
    *,
    entity: Entity,
    slot: int,
    refs: Any,
    deactivation: bool,
) -> None:
    columns = entity_columns(entity, deactivation=deactivation)
    header = Header(
        cells=tuple(c.header for c in columns),
        columns=tuple(enumerate(columns)),
        unknown=(),
    )
    plan = ImportPlan(
        job_id=run.job.id,
        scope=run.scope,
        spec=SPECS[entity],
        header=header,
        columns={c.attr: c for c in columns},
        purchased=run.purchased,
        dry_run=run.job.dry_run,
        rows=(number(slot, 0), number(slot, SLOT - 1)),
        new_students_need_password=False,
        writes=run.writes,
    )
    drafts = []
    for translated in entity_cells(entity, rows, refs, deactivation=deactivation):
        draft = parse_row(header, translated.cells, translated.row)
        for column, problem in translated.problems:
            draft.refuse(column, problem)
        drafts.append(draft)
    decisions = decide_batch(session, plan, drafts)
    apply_batch(session, plan, decisions)
    if not run.job.dry_run:
        created = {
            decision.created_id: cells["sourcedId"]
            for decision, (_, cells) in zip(decisions, rows, strict=True)
            if decision.created_id
        }
        oneroster_refs.store_sourced_ids(session, MODEL[entity], created)


_RESULT_COLUMNS = ("job_id", "row_number", "outcome", "errors", "record_id")


def _record_plain(session: Session, run: _Run, results: Sequence[Result]) -> None:
    """Results of rows the entities' checks did not write, the way they write theirs."""
    rows = [(run.job.id, r.row, r.outcome.value, list(r.errors), r.record_id) for r in results]
    run.writes.insert_rows(session, ImportRowResult, _RESULT_COLUMNS, rows)


def _record(session: Session, run: _Run, results: Sequence[Result]) -> None:
    _record_plain(session, run, results)
    _checkpoint(session, run, max(r.row for r in results), results)


def _checkpoint(session: Session, run: _Run, last: int, counted: Sequence[Result]) -> None:
    """The job's checkpoint past this batch, its processed rows and counts: in the batch's
    own transaction (the entities' `apply_batch` counted its own rows already)."""
    job = session.get(Job, run.job.id, with_for_update=True)
    assert job is not None
    merged = dict(job.counts or {})
    for result in counted:
        merged[result.outcome.value] = merged.get(result.outcome.value, 0) + 1
    values: dict[str, Any] = {"checkpoint": last, "counts": merged}
    values["processed"] = Job.processed + len(counted)
    session.execute(update(Job).where(Job.id == run.job.id).values(**values))


def _committed(run: _Run) -> None:
    batch_committed(run.ctx, run.job.id, first=run.first_batch)
    run.first_batch = False


def _outcome(run: _Run, keys: tuple[str, str], *, cancelled: bool) -> Outcome:
    with unit_of_work(run.ctx.sessions) as session:
        by_file = _counts_by_file(session, run)
        totals = count_outcomes([(o, n) for counts in by_file.values() for o, n in counts.items()])
        job = session.get(Job, run.job.id)
        assert job is not None
        job.counts_by_file = by_file
    warnings: dict[str, object] = {}
    skipped = run.skipped_roles + run.section.skipped
    if skipped:
        warnings["skipped"] = dict(sorted(skipped.items()))
    if run.found.skipped:
        warnings["not_carried"] = list(run.found.skipped)
    if cancelled:
        totals["not_processed"] = run.found.rows - sum(totals.values())
        status = JobStatus.CANCELLED
    else:
        status = JobStatus.COMPLETED_WITH_ERRORS if totals["failed"] else JobStatus.COMPLETED
    return Outcome(
        status, counts=totals, result_key=keys[0], error_report_key=keys[1], warnings=warnings
    )


def _counts_by_file(session: Session, run: _Run) -> dict[str, dict[str, int]]:
    slot = ImportRowResult.row_number // SLOT
    statement = (
        select(slot, ImportRowResult.outcome, func.count())
        .where(ImportRowResult.job_id == run.job.id)
        .group_by(slot, ImportRowResult.outcome)
    )
    names = {s: name for name, slots in SLOTS.items() for s in slots}
    by_file: dict[str, dict[str, int]] = {f.name.removesuffix(".csv"): {} for f in run.found.files}
    for found_slot, outcome, count in session.execute(statement):
        name = names[int(found_slot)].removesuffix(".csv")
        counts = by_file.setdefault(name, {})
        counts[outcome] = counts.get(outcome, 0) + int(count)
    return {name: count_outcomes(list(counts.items())) for name, counts in by_file.items()}
