"""The import pipeline, in this order:

1. plan: the requester's scope and the entity, checked again against today's roster;
2. read → decode → parse → header check, by the reader that recognises the file's first
   bytes (`jobs.formats.reader_for`; CSV: `jobs.csv_in.survey`): a first pass over the whole
   file, so an unreadable file, a bad header or a file over a limit fails the job with one
   message before anything is applied;
3. then batch by batch (the reader's `read_rows`, resuming after the job's checkpoint):
   validate each row's cells (`jobs.import_rows`), match it by Database ID, resolve its
   references, check uniqueness and the product rules, diff it against the stored record
   (`jobs.import_checks`), and apply it (`jobs.import_apply`); each batch's writes, row
   results and checkpoint commit together, so a redelivered job applies no row twice;
4. report (`jobs.import_report`): the result file and the errors file, in the reader's
   report format, written as the batches commit when the run starts at the file's first
   row, else from the stored results.

A cancel is noticed between batches: what was committed stays, the rest of the rows are
reported as `not processed`.

How each stage gets its answers is chosen once per run, in `_strategies`, never below:
on Postgres `run_import` takes the fast path, with the same stages and rules: remembered
cell decoding (`jobs.import_fast`), `COPY` and array writes with index probes for earlier
rows (`jobs.import_writes.CopyWrites`), a password pool, and each batch written while the
next is checked (`jobs.import_overlap`). `run_general_import` takes the general path
everywhere (SQLite always does): the reference the fast path is tested against, row result
for row result.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.commit import commit_warnings
from jobs.csv_in import FileSurvey, Opener
from jobs.errors import FileRefused, JobCancelled
from jobs.formats import ImportReader, described, reader_for
from jobs.import_apply import apply_batch, batch_committed
from jobs.import_checks import Decision, ImportPlan, count_outcomes, decide_batch
from jobs.import_fast import RememberingDecoder
from jobs.import_overlap import BatchRunner, Rows, apply_overlapped
from jobs.import_report import LiveReports, live_reports, report_keys, write_reports
from jobs.import_rows import RowDraft, RowOutcome, RowResult, parse_row
from jobs.import_writes import CopyWrites, EarlierKeys, RosterWrites, StatementWrites
from jobs.lifecycle import JobContext, Outcome, report_progress
from jobs.oneroster_in import run_oneroster_import
from jobs.password_pool import PasswordPool
from jobs.process_settings import rare_collections
from jobs.requests import ImportRequest, plan_import
from schemas.jobs import JobStatus
from schemas.oneroster import ONEROSTER
from storage import job_records
from storage.db import unit_of_work
from storage.models import ImportRowResult, Job
from storage.objects import ObjectNotFound


def run_import(ctx: JobContext, job: Job) -> Outcome:
    """The import, on the fast path where the database has one (Postgres)."""
    if job.entity == ONEROSTER:
        return run_oneroster_import(ctx, job)  # a set of files: `jobs.oneroster_in`
    return _run(ctx, job, fast=None)


def run_general_import(ctx: JobContext, job: Job) -> Outcome:
    """The import on the general path, whatever the database: the reference."""
    if job.entity == ONEROSTER:
        return run_oneroster_import(ctx, job, fast=False)
    return _run(ctx, job, fast=False)


def _run(ctx: JobContext, job: Job, *, fast: bool | None) -> Outcome:
    # an import keeps a batch or two of rows alive at a time: see `jobs.process_settings`
    with rare_collections():
        return _run_import(ctx, job, fast=fast)


def _run_import(ctx: JobContext, job: Job, *, fast: bool | None) -> Outcome:
    if not job.input_key:
        raise FileRefused("The import has no uploaded file.")
    opener = _opener(ctx, job.input_key)
    with ctx.sessions() as session:
        target = plan_import(session, ImportRequest.from_job(job))
    reader = reader_for(opener)
    _check_stated_format(ctx, job, reader)
    survey = reader.survey(
        opener, entity=target.entity, purchased=target.purchased, limits=ctx.import_limits
    )
    with ctx.sessions() as session:
        plan = target.plan(session, job, survey.header)
        on_postgres = session.get_bind().dialect.name == "postgresql"
    chosen = _strategies(fast=on_postgres if fast is None else fast and on_postgres, job=job)
    plan = replace(plan, writes=chosen.writes)
    warnings = _warnings(reader, survey)
    report_progress(ctx, job.id, total=survey.rows)
    rows = reader.read_rows(opener, survey, limits=ctx.import_limits)
    keys = report_keys(job.district_id, job.id, reader.reports)
    cancelled = False
    live: LiveReports | None = None
    try:
        with ExitStack() as stack:
            if job.checkpoint == 0:
                # every row of the file goes through this run: report each as it commits
                live = stack.enter_context(
                    live_reports(
                        ctx.store,
                        keys=keys,
                        header=survey.header,
                        rows=survey.rows,
                        table=reader.reports,
                    )
                )
            passwords = stack.enter_context(PasswordPool(processes=chosen.password_processes))
            pending = ((row, cells) for row, cells in rows if row > job.checkpoint)
            _apply_rows(ctx, plan, chosen, pending, passwords, live=live)
    except JobCancelled:
        cancelled = True
    done = _Done(reader, survey, warnings, keys)
    return _report(ctx, job, done, cancelled=cancelled, live=live)


def _check_stated_format(ctx: JobContext, job: Job, reader: ImportReader) -> None:
    """Refuse a file that is not the format the request stated; record the one it is."""
    stated = (job.options or {}).get("format")
    if stated and stated != reader.name:
        raise FileRefused(
            f"The file is {reader.description}, not {described(stated)} as the import said; "
            f"upload the {stated.upper()} file, or import this one as {reader.name}."
        )
    if not stated:
        with unit_of_work(ctx.sessions) as session:
            job_records.record_format(session, job.id, reader.name)


def _opener(ctx: JobContext, key: str) -> Opener:
    """Opens the upload; a missing one is a bad job (refused now), not a storage fault."""

    @contextmanager
    def open_file() -> Iterator[BinaryIO]:
        try:
            with ctx.store.open_read(key) as stream:
                yield stream
        except ObjectNotFound as err:
            raise FileRefused("The uploaded file is missing; upload it again.") from err

    return open_file


@dataclass(frozen=True)
class _Strategies:
    """How this run gets each stage's answers; the answers are the same either way."""

    writes: RosterWrites
    decoder: RememberingDecoder | None  # None: each row decoded on its own (`parse_row`)
    run_batches: BatchRunner
    password_processes: int | None  # None: a pool as wide as the machine


def _strategies(*, fast: bool, job: Job) -> _Strategies:
    if not fast:
        return _Strategies(StatementWrites(), None, apply_in_turn, 1)
    # a job starting at its first row has no earlier results but this run's own
    earlier = EarlierKeys() if job.checkpoint == 0 else None
    return _Strategies(CopyWrites(earlier), RememberingDecoder(), apply_overlapped, None)


def _apply_rows(
    ctx: JobContext,
    plan: ImportPlan,
    chosen: _Strategies,
    pending: Iterator[tuple[int, list[str]]],
    passwords: PasswordPool,
    *,
    live: LiveReports | None,
) -> None:
    header, decoder = plan.header, chosen.decoder

    def next_rows() -> list[tuple[int, list[str]]]:
        return list(itertools.islice(pending, ctx.batch_rows))

    def parse(batch: list[tuple[int, list[str]]]) -> list[RowDraft]:
        if decoder is not None:
            return decoder.parse_batch(header, batch)
        return [parse_row(header, cells, row) for row, cells in batch]

    def committed(batch: list[tuple[int, list[str]]], decisions: list[Decision]) -> None:
        if live is not None:
            live.add(batch, (decision.result() for decision in decisions))

    chosen.run_batches(ctx, plan, next_rows, parse, passwords, committed=committed)


def apply_in_turn(
    ctx: JobContext,
    plan: ImportPlan,
    next_rows: Callable[[], Rows],
    parse: Callable[[Rows], list[RowDraft]],
    passwords: PasswordPool,
    *,
    committed: Callable[[Rows, list[Decision]], None],
) -> None:
    """Each batch in turn: parse, check, write and commit it, then the next
    (`jobs.import_overlap.apply_overlapped` is the other `BatchRunner`)."""
    first = True
    while batch := next_rows():
        with unit_of_work(ctx.sessions) as session:
            decisions = decide_batch(session, plan, parse(batch), verify=passwords.verify_all)
            apply_batch(session, plan, decisions, hashes=passwords.hash_all)
        batch_committed(ctx, plan.job_id, first=first)
        committed(batch, decisions)
        first = False


def _warnings(reader: ImportReader, survey: FileSurvey) -> dict[str, object]:
    warnings: dict[str, object] = {}
    if survey.header.unknown:
        warnings["unknown_columns"] = list(survey.header.unknown)
    return warnings | reader.warnings(survey)


@dataclass(frozen=True)
class _Done:
    """What the report stage needs of the run: how the file was read, and where to report."""

    reader: ImportReader
    survey: FileSurvey
    warnings: dict[str, object]
    keys: tuple[str, str]


def _report(
    ctx: JobContext, job: Job, done: _Done, *, cancelled: bool, live: LiveReports | None
) -> Outcome:
    assert job.input_key is not None
    opener, survey = _opener(ctx, job.input_key), done.survey
    with ctx.sessions() as session:
        if live is not None and live.keys is not None:
            written = live.keys
        else:
            written = write_reports(
                ctx.store,
                keys=done.keys,
                header=survey.header,
                rows=done.reader.read_rows(opener, survey, limits=ctx.import_limits),
                results=_stored_results(session, job.id, ctx.batch_rows),
                table=done.reader.reports,
            )
        counts = count_outcomes(_outcome_counts(session, job.id))
        warnings = done.warnings | commit_warnings(session, job)
    if cancelled:
        counts["not_processed"] = survey.rows - sum(counts.values())
        status = JobStatus.CANCELLED
    else:
        status = JobStatus.COMPLETED_WITH_ERRORS if counts["failed"] else JobStatus.COMPLETED
    return Outcome(
        status,
        counts=counts,
        result_key=written.result_key,
        error_report_key=written.errors_key,
        warnings=warnings,
    )


def _stored_results(session: Session, job_id: str, batch_rows: int) -> Iterator[RowResult]:
    statement = (
        select(
            ImportRowResult.row_number,
            ImportRowResult.outcome,
            ImportRowResult.errors,
            ImportRowResult.record_id,
        )
        .where(ImportRowResult.job_id == job_id)
        .order_by(ImportRowResult.row_number)
        .execution_options(yield_per=batch_rows)
    )
    for row, outcome, errors, record_id in session.execute(statement):
        yield RowResult(row, RowOutcome(outcome), tuple(errors or ()), record_id)


def _outcome_counts(session: Session, job_id: str) -> list[tuple[str, int]]:
    statement = (
        select(ImportRowResult.outcome, func.count())
        .where(ImportRowResult.job_id == job_id)
        .group_by(ImportRowResult.outcome)
    )
    return [(outcome, number) for outcome, number in session.execute(statement)]
