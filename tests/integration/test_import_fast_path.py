"""The import's fast path (Postgres) against the general path, its reference.

Each case imports the same file twice into the same roster, rebuilt between the runs with
the same ids (every table truncated, identities restarted): once on the general path
(`run_general_import`), once on the fast path (`run_import`). Everything a user or an
auditor sees must be the same: each row's outcome and errors, the counts, the result and
errors files byte for byte, the roster afterwards and the change history. The password
pool is also checked on its own.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from jobs import import_overlap, imports, process_settings
from jobs.imports import run_general_import, run_import
from jobs.lifecycle import JobContext, Pipeline, WorkerStop, run_job
from jobs.password_pool import PasswordPool
from jobs.passwords import verify_password
from storage import bulk_writes
from storage.db import unit_of_work
from storage.models import Base, ImportChange, ImportRowResult, Job, Student
from storage.objects import FolderStore
from tests import factories
from tests.databases import truncate_all
from tests.factories import SmallDistrict
from tests.importing import read_csv, submit
from tests.integration.test_import_corpus import CORPUS, Imported, _placeholders, _upload


@dataclass(frozen=True)
class Seen:
    """What one import leaves behind, apart from its job id and the salts of its hashes."""

    job: tuple[Any, ...]
    results: list[tuple[Any, ...]]
    files: tuple[bytes | None, bytes | None]
    changes: list[tuple[Any, ...]]
    roster: dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """Postgres only: the fast path is Postgres's."""
    return postgres_url


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables written through `COPY`, in order: proof that the fast path ran."""
    tables: list[str] = []
    copy_rows = bulk_writes.copy_rows

    def counted(session: Session, table: str, *args: Any) -> None:
        tables.append(table)
        copy_rows(session, table, *args)

    monkeypatch.setattr(bulk_writes, "copy_rows", counted)
    return tables


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def _stored(ctx: JobContext, key: str | None) -> bytes | None:
    if key is None:
        return None
    with ctx.store.open_read(key) as raw:
        return raw.read()


def _roster_tables(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every roster table row by row, but when each record was created; a password hash
    only as whether there is one (salted hashes differ between runs: passwords are
    compared by signing in)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    skipped = {"jobs", "job_events", "import_row_results", "import_changes", "workers"}
    for table in Base.metadata.sorted_tables:
        if table.name in skipped:
            continue
        columns = [c for c in table.c if c.name not in {"password_hash", "created_at"}]
        order = list(table.primary_key.columns)
        rows = session.execute(select(*columns).order_by(*order))
        tables[table.name] = [tuple(row) for row in rows]
    hashes = session.execute(select(Student.id, Student.password_hash).order_by(Student.id))
    tables["password_set"] = [(record_id, hashed is not None) for record_id, hashed in hashes]
    return tables


def _seen(ctx: JobContext, job_id: str) -> Seen:
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        results = session.execute(
            select(
                ImportRowResult.row_number,
                ImportRowResult.outcome,
                ImportRowResult.errors,
                ImportRowResult.record_id,
                ImportRowResult.claimed_name,
                ImportRowResult.claimed_external_id,
            )
            .where(ImportRowResult.job_id == job_id)
            .order_by(ImportRowResult.row_number)
        )
        changes = session.execute(
            select(
                ImportChange.entity,
                ImportChange.record_id,
                ImportChange.row_number,
                ImportChange.column,
                ImportChange.old_value,
                ImportChange.new_value,
            )
            .where(ImportChange.job_id == job_id)
            .order_by(ImportChange.id)
        )
        return Seen(
            job=(job.status, job.counts, job.warnings, job.error, job.processed, job.checkpoint),
            results=[tuple(row) for row in results],
            files=(_stored(ctx, job.result_key), _stored(ctx, job.error_report_key)),
            changes=[tuple(row) for row in changes],
            roster=_roster_tables(session),
        )


Rosters = Callable[[sessionmaker[Session]], tuple[SmallDistrict, SmallDistrict]]
FileOf = Callable[[SmallDistrict, SmallDistrict], bytes]


def _importer(ctx: JobContext, engine: Engine, rosters: Rosters, file_of: FileOf) -> Any:
    """Imports the file into a fresh copy of the rosters (the same ids every time)."""

    def run(pipeline: Pipeline, *, entity: str = "students", dry_run: bool = False) -> Seen:
        truncate_all(engine)
        roster, elsewhere = rosters(ctx.sessions)
        data = file_of(roster, elsewhere)
        job_id = submit(ctx, roster, data, entity=entity, dry_run=dry_run)
        run_job(ctx, job_id, pipeline)
        return _seen(ctx, job_id)

    return run


def small_districts(sessions: sessionmaker[Session]) -> tuple[SmallDistrict, SmallDistrict]:
    with unit_of_work(sessions) as session:
        return factories.small_district(session), factories.small_district(session, "Elsewhere")


def with_pupils(count: int) -> Rosters:
    """The small districts, and `count` more students in the first one, named pupil000…"""

    def rosters(sessions: sessionmaker[Session]) -> tuple[SmallDistrict, SmallDistrict]:
        roster, elsewhere = small_districts(sessions)
        with unit_of_work(sessions) as session:
            for n in range(count):
                factories.student(
                    session,
                    roster.north,
                    last_name=f"Student{n}",
                    username=f"pupil{n:03d}",
                    external_id=f"P{n:03d}",
                )
        return roster, elsewhere

    return rosters


def _pupil_ids(ctx: JobContext) -> list[int]:
    statement = select(Student.id).where(Student.username.like("pupil%")).order_by(Student.id)
    with ctx.sessions() as session:
        return list(session.scalars(statement))


HEADER = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,Organizations"
)


# --- tests -------------------------------------------------------------------------------


QUICK = frozenset(
    {
        "classes_create_and_update.csv",
        "students_duplicate_database_ids.csv",
        "students_usernames_taken_in_another_case.csv",
        "students_windows1252_crlf.csv",
    }
)
"""Files compared in `make test` (creates and updates of classes, the checks against earlier
rows of the file, Windows-1252 with new students); `make test-slow` compares every file."""


def _corpus_cases() -> list[object]:
    return [
        pytest.param(
            name,
            id=name.removesuffix(".csv"),
            marks=() if name in QUICK else (pytest.mark.slow,),
        )
        for name in sorted(CORPUS)
    ]


@pytest.mark.parametrize("name", _corpus_cases())
def test_every_corpus_file_gives_the_same_rows_reports_roster_and_history_on_both_paths(
    ctx: JobContext, engine: Engine, copies: list[str], name: str
) -> None:
    # given a corpus file, filled in for two fresh small districts
    expected = CORPUS[name]
    run = _importer(
        ctx,
        engine,
        small_districts,
        lambda roster, elsewhere: _upload(
            name, expected.encoding, _placeholders(roster, elsewhere)
        ),
    )

    # when it is imported by the general path, then by the fast path
    general = run(run_general_import, entity=expected.entity)
    copied_by_general = len(copies)
    fast = run(run_import, entity=expected.entity)

    # then the fast path wrote through COPY (a file refused as a whole, or without data
    # rows, has no row to write)
    assert copied_by_general == 0
    has_rows = isinstance(expected, Imported) and bool(expected.rows)
    assert ("import_row_results" in copies) == has_rows
    # and everything the two paths left behind is the same
    assert fast.job == general.job
    assert fast.results == general.results
    assert fast.files == general.files
    assert fast.changes == general.changes
    assert fast.roster == general.roster


def _renames(ctx: JobContext, clash_at: int) -> FileOf:
    """Every pupil renamed and moved a grade on; the pupil at `clash_at` takes 'JGarcia'."""

    def file_of(roster: SmallDistrict, elsewhere: SmallDistrict) -> bytes:
        lines = [HEADER]
        for n, record_id in enumerate(_pupil_ids(ctx)):
            username = "JGarcia" if n == clash_at else f"renamed{n:03d}"
            lines.append(f"{record_id},Sam,Pupil,{username},,P{n:03d},4,North Elementary")
        return "\r\n".join(lines).encode()

    return file_of


def test_a_batch_that_hits_a_constraint_at_write_time_falls_back_with_the_same_results(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given 120 updates in batches of 60, and another writer taking 'jgarcia' between the
    # checks and the writes of the second batch (the uniqueness check is blind to it)
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=60)
    monkeypatch.setattr("storage.references.holders", lambda *args, **kwargs: {})
    run = _importer(ctx, engine, with_pupils(120), _renames(ctx, clash_at=90))
    updated_at_once: list[int] = []
    update_unnested = bulk_writes.update_unnested

    def counted(session: Session, model: Any, rows: Any) -> None:
        updated_at_once.append(len(rows))
        update_unnested(session, model, rows)

    monkeypatch.setattr(bulk_writes, "update_unnested", counted)

    # when
    general = run(run_general_import)
    fast = run(run_import)

    # then each batch's 60 updates went in one statement; the second's hit the constraint
    # and fell back to one row at a time
    assert updated_at_once == [60, 60]
    # and the one row is refused, every other row applies, on both paths alike
    outcomes = [outcome for _, outcome, *_ in fast.results]
    assert outcomes == ["updated"] * 90 + ["failed"] + ["updated"] * 29
    assert "could not be saved" in fast.results[90][2][0]
    assert fast.job[1] == {"created": 0, "updated": 119, "unchanged": 0, "failed": 1}
    assert (fast.job, fast.results, fast.files) == (general.job, general.results, general.files)
    assert (fast.changes, fast.roster) == (general.changes, general.roster)


EDUCATORS_HEADER = (
    "Database ID,First Name,Last Name,Username,Educator Type,Organizations,Classes/Groups"
)


def _new_educators(taken_at: int) -> FileOf:
    """120 new educators at North, every third also in class B; the one at `taken_at` asks
    for the teacher's username."""

    def file_of(roster: SmallDistrict, elsewhere: SmallDistrict) -> bytes:
        lines = [EDUCATORS_HEADER]
        for n in range(120):
            username = roster.teacher.username if n == taken_at else f"new{n}@school.example.org"
            classes = roster.class_b.name if n % 3 == 0 else ""
            lines.append(f",Ana,Lee{n},{username},Teacher,North Elementary,{classes}")
        return "\r\n".join(lines).encode()

    return file_of


@pytest.mark.parametrize("taken_at", [-1, 90], ids=["all-created", "one-taken-at-write-time"])
def test_many_new_records_are_copied_in_with_the_ids_links_and_history_of_the_general_path(
    ctx: JobContext,
    engine: Engine,
    copies: list[str],
    monkeypatch: pytest.MonkeyPatch,
    taken_at: int,
) -> None:
    # given 120 new educators in batches of 60; with one of them taking, between the checks
    # and the writes, a username another writer holds (the check is blind to it)
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=60)
    monkeypatch.setattr("storage.references.holders", lambda *args, **kwargs: {})
    run = _importer(ctx, engine, small_districts, _new_educators(taken_at))

    # when
    general = run(run_general_import, entity="educators")
    fast = run(run_import, entity="educators")

    # then each batch's records and links went in through COPY, the one that hit the
    # constraint again row by row
    assert sum(table.startswith("import_creates_") for table in copies) == 2
    assert copies.count("educator_schools") == (1 if taken_at >= 0 else 2)
    outcomes = [outcome for _, outcome, *_ in fast.results]
    if taken_at >= 0:
        assert outcomes == ["created"] * 90 + ["failed"] + ["created"] * 29
    else:
        assert outcomes == ["created"] * 120
    # and the records have the same ids, links, defaults and history on both paths
    assert (fast.job, fast.results, fast.files) == (general.job, general.results, general.files)
    assert (fast.changes, fast.roster) == (general.changes, general.roster)
    assert len(fast.roster["class_educators"]) == len(general.roster["class_educators"]) > 40


def test_a_dry_run_of_many_rows_reports_the_same_on_both_paths_and_changes_nothing(
    ctx: JobContext, engine: Engine
) -> None:
    # given
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=60)
    run = _importer(ctx, engine, with_pupils(120), _renames(ctx, clash_at=-1))
    before = run(run_general_import, dry_run=True)

    # when
    fast = run(run_import, dry_run=True)

    # then
    assert fast.job[1] == {"created": 0, "updated": 120, "unchanged": 0, "failed": 0}
    assert (fast.job, fast.results, fast.files) == (before.job, before.results, before.files)
    assert fast.changes == []
    assert fast.roster == before.roster
    assert all(not name.startswith("renamed") for _, _, _, name, *_ in fast.roster["students"])


PASSWORDS = [f"garden{n}!" for n in range(8)]


def _new_pupils_with_passwords(ctx: JobContext) -> FileOf:
    """Eight new students with passwords; the first pupil keeps theirs, the second changes it."""

    def file_of(roster: SmallDistrict, elsewhere: SmallDistrict) -> bytes:
        kept, changed = _pupil_ids(ctx)
        lines = [
            HEADER,
            f"{kept},Sam,Student0,pupil000,same-as-before,P000,3,North Elementary",
            f"{changed},Sam,Student1,pupil001,brand-new,P001,3,North Elementary",
        ]
        for n, password in enumerate(PASSWORDS):
            lines.append(f",New,Kid{n},newkid{n},{password},N{n},2,North Elementary")
        return "\r\n".join(lines).encode()

    return file_of


def _with_known_password(sessions: sessionmaker[Session]) -> tuple[SmallDistrict, SmallDistrict]:
    roster, elsewhere = with_pupils(2)(sessions)
    with unit_of_work(sessions) as session:
        session.execute(
            text("UPDATE students SET password_hash = :hashed WHERE username = 'pupil000'"),
            {"hashed": PasswordPool(processes=1).hash_all(["same-as-before"])[0]},
        )
    return roster, elsewhere


def test_passwords_hashed_in_the_pool_sign_in_and_never_show_in_reports(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a batch that sets nine passwords and keeps one, watched for the pool starting
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=20)
    pools: list[bool] = []
    close = PasswordPool.close

    def watched_close(pool: PasswordPool) -> None:
        pools.append(pool.started)
        close(pool)

    monkeypatch.setattr(PasswordPool, "close", watched_close)
    run = _importer(ctx, engine, _with_known_password, _new_pupils_with_passwords(ctx))

    # when
    general = run(run_general_import)
    fast = run(run_import)

    # then the fast path hashed in worker processes, the general path in its own
    assert pools == [False, True]
    # and both mean the same: the same outcomes, and each new password signs in
    assert [outcome for _, outcome, *_ in fast.results] == ["unchanged", "updated"] + [
        "created"
    ] * 8
    assert (fast.job, fast.results, fast.files, fast.changes) == (
        general.job,
        general.results,
        general.files,
        general.changes,
    )
    with ctx.sessions() as session:
        rows = session.execute(select(Student.username, Student.password_hash))
        hashes = {username: hashed for username, hashed in rows}
    assert verify_password("same-as-before", hashes["pupil000"])
    assert verify_password("brand-new", hashes["pupil001"])
    assert all(verify_password(p, hashes[f"newkid{n}"]) for n, p in enumerate(PASSWORDS))
    assert len({hashes[f"newkid{n}"] for n in range(8)}) == 8
    # and no report carries a password: the column is empty, no password is anywhere in it
    result, _ = fast.files
    assert result is not None
    assert not any(p.encode() in result for p in [*PASSWORDS, "brand-new", "same-as-before"])
    assert {row["Password"] for row in read_csv(ctx.store, _result_key(ctx))} == {""}
    assert ("Password", None, "(changed)") in {(c[3], c[4], c[5]) for c in fast.changes}


def _result_key(ctx: JobContext) -> str | None:
    with ctx.sessions() as session:
        job = session.scalars(select(Job).order_by(Job.created_at.desc()).limit(1)).one()
        return job.result_key


def test_the_pool_hashes_with_a_fresh_salt_each_and_verifies_in_order() -> None:
    # given
    passwords = [f"secret-{n}" for n in range(6)]

    # when
    with PasswordPool(processes=2) as pool:
        hashes = pool.hash_all(passwords)
        right = list(zip(passwords, hashes, strict=True))
        wrong = list(zip(passwords, reversed(hashes), strict=True))
        answers = pool.verify_all(right + wrong)
        started = pool.started

    # then
    assert started
    assert all(verify_password(p, h) for p, h in zip(passwords, hashes, strict=True))
    assert len(set(hashes)) == len(hashes)
    assert answers == [True] * 6 + [False] * 6


def _repeats(ctx: JobContext) -> FileOf:
    """Rows that repeat the first two rows' Database ID, username and External Assigned ID
    further down the file, past the first batch (of 2)."""

    def file_of(roster: SmallDistrict, elsewhere: SmallDistrict) -> bytes:
        first, second, third, fourth, fifth = _pupil_ids(ctx)[:5]
        lines = [
            HEADER,
            f"{first},Sam,Pupil,renamed0,,P000,4,North Elementary",
            f"{second},Sam,Pupil,pupil001,,X001,4,North Elementary",
            f"{third},Sam,Pupil,pupil002,,P002,5,North Elementary",
            f"{first},Sam,Pupil,pupil000,,P000,6,North Elementary",
            f"{fourth},Sam,Pupil,Renamed0,,P003,4,North Elementary",
            f"{fifth},Sam,Pupil,pupil004,,X001,4,North Elementary",
        ]
        return "\r\n".join(lines).encode()

    return file_of


@pytest.mark.parametrize("handed_back", [False, True], ids=["one run", "resumed"])
def test_rows_that_repeat_an_earlier_batch_are_refused_in_one_run_and_after_a_resume(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch, handed_back: bool
) -> None:
    # given rows repeating the first batch's Database ID, username (in another case) and
    # External Assigned ID; in the resumed case the worker is asked to stop after the first
    # batch, so another run, which did not see that batch, finishes the job
    sent: list[str] = []
    ctx = JobContext(
        sessions=ctx.sessions,
        store=ctx.store,
        batch_rows=2,
        stop=WorkerStop(),
        send=lambda kind, job_id, delay_ms=0: sent.append(job_id),
    )
    run = _importer(ctx, engine, with_pupils(5), _repeats(ctx))
    general = run(run_general_import)
    if handed_back:
        first_batch_done = bulk_writes.refresh_result_statistics

        def stop_after(session: Session) -> None:
            first_batch_done(session)
            if not sent:  # the first run only
                ctx.stop.requested.set()

        monkeypatch.setattr(bulk_writes, "refresh_result_statistics", stop_after)

    # when
    fast = run(run_import)
    if handed_back:
        assert fast.job[0] == "queued" and fast.job[5] == 3  # its checkpoint: row 3
        ctx.stop.requested.clear()
        (job_id,) = sent
        run_job(ctx, job_id, run_import)
        fast = _seen(ctx, job_id)

    # then the repeats are refused, naming the row they repeat, as the general path does
    errors = [errors for _, _, errors, *_ in fast.results]
    assert errors[3] == ["Database ID: duplicate of row 2."]
    assert errors[4] == ["Username: 'Renamed0' is already used in row 2 of this file."]
    assert errors[5] == ["External Assigned ID: 'X001' is already used in row 3 of this file."]
    assert fast.job[1] == {"created": 0, "updated": 3, "unchanged": 0, "failed": 3}
    assert (fast.job[:2], fast.results, fast.files) == (
        general.job[:2],
        general.results,
        general.files,
    )
    assert (fast.changes, fast.roster) == (general.changes, general.roster)


def _hand_overs(ctx: JobContext) -> FileOf:
    """Row by row: a pupil gives up its username and External Assigned ID, the next row
    takes them; a new student is created, and a later row names the Database ID it gets."""

    def file_of(roster: SmallDistrict, elsewhere: SmallDistrict) -> bytes:
        first, second, third = _pupil_ids(ctx)[:3]
        with ctx.sessions() as session:
            next_id = (session.scalar(select(func.max(Student.id))) or 0) + 1
        lines = [
            HEADER,
            f"{first},Sam,Pupil,gave-up-0,,Q000,4,North Elementary",
            f"{second},Sam,Pupil,PUPIL000,,P000,4,North Elementary",
            ",New,Pupil,newcomer,secret1,N001,4,North Elementary",
            f"{next_id},New,Pupil,newcomer2,,N002,5,North Elementary",
            f"{third},Sam,Pupil,pupil002,,P002,6,North Elementary",
        ]
        return "\r\n".join(lines).encode()

    return file_of


def test_a_batch_checked_while_the_one_before_is_written_gets_the_answers_of_one_by_one(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given batches of one row, each checked while the row before it is being written
    # (each write waits long enough for that): a username and an External Assigned ID given
    # up by row 2 and taken by row 3, and a Database ID that only exists once row 4 is written
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=1)
    run = _importer(ctx, engine, with_pupils(3), _hand_overs(ctx))
    general = run(run_general_import)
    apply_batch = import_overlap.apply_batch

    def slow_apply(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return apply_batch(*args, **kwargs)

    monkeypatch.setattr(import_overlap, "apply_batch", slow_apply)

    # when
    fast = run(run_import)

    # then the later rows see what the earlier ones wrote, as when taken one after another
    outcomes = [outcome for _, outcome, *_ in fast.results]
    assert outcomes == ["updated", "updated", "created", "failed", "updated"]
    assert fast.results[3][2] == ["Database ID: duplicate of row 4."]
    assert (fast.job, fast.results, fast.files) == (general.job, general.results, general.files)
    assert (fast.changes, fast.roster) == (general.changes, general.roster)


def _exchanges(ctx: JobContext) -> FileOf:
    """Usernames and External Assigned IDs passed from record to record, row by row: given
    up and taken (rows 2-3, 3-8), asked for before their holder gives them up (a swap,
    rows 4-5), and asked for after a row that wanted them was refused (rows 6-7)."""

    def file_of(roster: SmallDistrict, elsewhere: SmallDistrict) -> bytes:
        pupil = _pupil_ids(ctx)
        rows = [
            (pupil[0], "given-up-0", "G000"),
            (pupil[1], "PUPIL000", "P000"),
            (pupil[2], "pupil003", "P002"),
            (pupil[3], "pupil002", "P003"),
            (pupil[4], "solo", "P005"),
            (pupil[5], "SOLO", "P005"),
            (pupil[6], "pupil001", "P001"),
        ]
        lines = [HEADER] + [
            f"{record_id},Sam,Pupil,{username},,{external_id},4,North Elementary"
            for record_id, username, external_id in rows
        ]
        return "\r\n".join(lines).encode()

    return file_of


def test_keys_passed_between_records_get_the_answers_of_one_row_at_a_time_in_any_batch_size(
    ctx: JobContext, engine: Engine
) -> None:
    # given the reference: the general path, one row per batch, each committed before the
    # next is checked
    def importer(batch_rows: int) -> Any:
        sized = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=batch_rows)
        return _importer(sized, engine, with_pupils(7), _exchanges(ctx))

    reference = importer(1)(run_general_import)
    assert [outcome for _, outcome, *_ in reference.results] == (
        ["updated", "updated", "failed", "failed", "failed", "updated", "updated"]
    )
    assert reference.results[2][2] == ["Username: 'pupil003' is already used by another student."]
    assert reference.results[4][2] == [
        "External Assigned ID: 'P005' is already used by another student."
    ]

    for pipeline, batch_rows in [(run_general_import, 1000), (run_import, 1000), (run_import, 2)]:
        # when the rows are checked many to a batch, for real and as a dry run
        real = importer(batch_rows)(pipeline)
        dry = importer(batch_rows)(pipeline, dry_run=True)

        # then every row has the reference's answer, and the dry run foretold it
        case = (pipeline.__name__, batch_rows)
        assert (real.job, real.results, real.files) == (
            reference.job,
            reference.results,
            reference.files,
        ), case
        assert (real.changes, real.roster) == (reference.changes, reference.roster), case
        assert (dry.job[1], dry.results, dry.files) == (
            reference.job[1],
            reference.results,
            reference.files,
        ), case
        assert dry.changes == [], case


def test_threads_switch_quickly_while_batches_overlap_and_as_before_once_done(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an import in batches of 2, each write noting the thread switch interval
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=2)
    run = _importer(ctx, engine, with_pupils(6), _renames(ctx, clash_at=-1))
    before = sys.getswitchinterval()
    seen = _noted(monkeypatch, import_overlap, sys.getswitchinterval)

    # when
    fast = run(run_import)

    # then the writer got the GIL back quickly, and the process has its own interval again
    assert fast.job[0] == "completed"
    assert seen and set(seen) == {process_settings.SWITCH_INTERVAL_S}
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("path", ["fast", "general"])
def test_the_garbage_collector_runs_rarely_while_an_import_runs_and_as_before_once_done(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # given an import in batches of 2, each write noting the collector's thresholds
    ctx = JobContext(sessions=ctx.sessions, store=ctx.store, batch_rows=2)
    run = _importer(ctx, engine, with_pupils(6), _renames(ctx, clash_at=-1))
    before = gc.get_threshold()
    seen = _noted(monkeypatch, import_overlap if path == "fast" else imports, gc.get_threshold)

    # when
    result = run(run_import if path == "fast" else run_general_import)

    # then every batch ran with the import's thresholds, and the process has its own again
    assert result.job[0] == "completed"
    assert len(seen) == 3 and set(seen) == {process_settings.IMPORT_GC_THRESHOLDS}
    assert gc.get_threshold() == before != process_settings.IMPORT_GC_THRESHOLDS


def _noted(monkeypatch: pytest.MonkeyPatch, module: Any, read: Callable[[], Any]) -> list[Any]:
    """What `read` answers each time `module` applies a batch."""
    seen: list[Any] = []
    apply_batch = module.apply_batch

    def noting(*args: Any, **kwargs: Any) -> Any:
        seen.append(read())
        return apply_batch(*args, **kwargs)

    monkeypatch.setattr(module, "apply_batch", noting)
    return seen
