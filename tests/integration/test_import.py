"""The import pipeline on SQLite and Postgres: round trips, row rules, reports, resume."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import jobs.import_overlap
import jobs.imports
from jobs import csv_in
from jobs.errors import TransientJobError
from jobs.formats import HEAD_BYTES
from jobs.import_report import write_reports
from jobs.imports import run_import
from jobs.lifecycle import JobContext, run_job
from jobs.passwords import verify_password
from schemas.columns import Entity
from storage.db import unit_of_work
from storage.models import ClassStudent, EducatorSchool, ImportChange, Student, StudentSchool
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.importing import change_count, export_bytes, finished, read_csv, run_import_of, submit

HEADER = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,Organizations"
)


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def rows_of(data: bytes) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return table[0], table[1:]


def as_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def student(sessions: sessionmaker[Session], username: str) -> Student:
    with sessions() as session:
        found = session.scalars(select(Student).where(Student.username == username)).one()
        session.expunge(found)
        return found


def test_an_unchanged_export_imports_as_all_unchanged_and_writes_nothing(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    exported = export_bytes(ctx, roster)

    # when
    run = run_import_of(ctx, roster, exported)

    # then
    assert run.job.status == "completed", run.job.error
    assert run.job.counts == {"created": 0, "updated": 0, "unchanged": 4, "failed": 0}
    assert [r["Result"] for r in run.results] == ["unchanged"] * 4
    assert run.job.error_report_key is None
    assert change_count(ctx.sessions) == 0


def test_edited_rows_are_exactly_the_updates_and_a_new_export_shows_them(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given: a teacher's edits in a spreadsheet: a grade, a name with an accent, a class added
    header, rows = rows_of(export_bytes(ctx, roster))
    col = {name: i for i, name in enumerate(header)}
    jose = next(r for r in rows if r[col["Username"]] == "jgarcia")
    zoe = next(r for r in rows if r[col["Username"]] == "zdangelo")
    anguyen = next(r for r in rows if r[col["Username"]] == "anguyen")
    jose[col["Grade"]] = "4"
    zoe[col["First Name"]] = "Zoé"
    anguyen[col["Classes/Groups"]] = "Grade 7 - Muñoz;grade 4 - muñoz"

    # when
    run = run_import_of(ctx, roster, as_csv(header, rows))

    # then
    assert run.job.counts == {"created": 0, "updated": 3, "unchanged": 1, "failed": 0}
    _, again = rows_of(export_bytes(ctx, roster))
    by_name = {r[col["Username"]]: r for r in again}
    assert by_name["jgarcia"][col["Grade"]] == "4"
    assert by_name["zdangelo"][col["First Name"]] == "Zoé"
    assert by_name["anguyen"][col["Classes/Groups"]] == "Grade 4 - Muñoz;Grade 7 - Muñoz"
    with ctx.sessions() as session:
        changes = session.scalars(select(ImportChange).order_by(ImportChange.row_number)).all()
        assert [(c.column, c.old_value, c.new_value) for c in changes] == [
            ("Grade", "3", "4"),
            ("First Name", "Zoë", "Zoé"),
            ("Classes/Groups", "Grade 7 - Muñoz", "Grade 7 - Muñoz;grade 4 - muñoz"),
        ]


def test_every_problem_of_a_row_is_reported_and_other_rows_still_apply(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    jose = roster.students[0]
    data = "\r\n".join(
        [
            HEADER,
            f"{jose.id},José,García,jgarcia,,000123,5,North Elementary",
            f"{roster.students[1].id},Zoë,D'Angelo,zd,abc,000124,13,North Elementary:South Middle",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.job.status == "completed_with_errors"
    assert (run.outcome(2), run.outcome(3)) == ("updated", "failed")
    problems = run.errors_of(3)
    assert "Username:" in problems and "Password:" in problems and "Grade:" in problems
    assert "Use ';' between values, not ':'" in problems
    assert student(ctx.sessions, "jgarcia").grade == "5"
    assert student(ctx.sessions, "zdangelo").grade == "K"


def test_the_errors_file_once_fixed_imports_with_no_failures(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a file with one bad row
    data = "\r\n".join(
        [
            HEADER,
            f"{roster.students[1].id},Zoë,D'Angelo,zdangelo,,000124,Kindergarden,North Elementary",
        ]
    )
    first = run_import_of(ctx, roster, data)
    assert first.job.counts["failed"] == 1
    errors_header = list(first.errors[0])
    assert errors_header[-1] == "Errors" and "Row" not in errors_header

    # when the teacher fixes the grade in the errors file and uploads it as it is
    fixed = [dict(row, Grade="1") for row in first.errors]
    second = run_import_of(ctx, roster, as_csv(errors_header, [list(r.values()) for r in fixed]))

    # then
    assert second.job.counts == {"created": 0, "updated": 1, "unchanged": 0, "failed": 0}
    assert student(ctx.sessions, "zdangelo").grade == "1"


def test_a_teachers_import_touching_a_student_outside_their_classes_refuses_that_row_only(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given the teacher of class A; Amélie is in South's class C
    amelie, jose = roster.students[3], roster.students[0]
    data = "\r\n".join(
        [
            HEADER,
            f"{amelie.id},Amélie,Nguyen,anguyen,,A-77,7,South Middle",
            f"{jose.id},José,García,jgarcia,,000123,2,North Elementary",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data, username=roster.teacher.username)

    # then
    assert (run.outcome(2), run.outcome(3)) == ("failed", "updated")
    assert f"no student with Database ID {amelie.id} is in your roster" in run.errors_of(2)
    assert student(ctx.sessions, "anguyen").last_name == "Nguyễn"


def test_a_school_admin_keeps_a_school_outside_their_own_only_on_a_record_that_has_it(
    ctx: JobContext, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given a North student also at South, and the admin of North alone
    with unit_of_work(sessions) as session:
        both = factories.student(session, roster.north, username="both")
        session.add(StudentSchool(student_id=both.id, school_id=roster.south.id))
    jose, zoe = roster.students[0], roster.students[1]
    schools = "North Elementary;South Middle"
    data = "\r\n".join(
        [
            HEADER,
            f"{jose.id},José,García,jgarcia,,000123,3,{schools}",
            f"{both.id},Sam,{both.last_name},both,,{both.external_id},3,{schools}",
            f"{zoe.id},Zoë,D'Angelo,zdangelo,,000124,K,{schools}",
        ]
    )

    # when the three rows, one batch, all list North and South
    run = run_import_of(
        replace(ctx, batch_rows=10), roster, data, username=roster.school_admin.username
    )

    # then only the record that already had South keeps it; the others may not add it
    assert [run.outcome(n) for n in (2, 3, 4)] == ["failed", "unchanged", "failed"]
    for row in (2, 4):
        assert run.errors_of(row) == "Organizations: 'South Middle' is outside your schools."


def test_an_id_of_another_district_gets_the_same_refusal_as_one_that_does_not_exist(
    ctx: JobContext, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given
    with unit_of_work(sessions) as session:
        other = factories.small_district(session, "Elsewhere")
    data = "\r\n".join(
        [
            HEADER,
            f"{other.students[0].id},José,García,jgarcia,,000123,3,North Elementary",
            "99999999,José,García,jgarcia,,000123,3,North Elementary",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    first, second = run.errors_of(2), run.errors_of(3)
    assert first.replace(str(other.students[0].id), "N") == second.replace("99999999", "N")


def test_a_new_student_is_created_with_a_hashed_password_never_shown_in_reports(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    data = "\r\n".join(
        [
            HEADER + ",Classes/Groups",
            ",Ana,O'Neil,aoneil,s3cret-pw,555,1,North Elementary,Grade 3 - O'Brien",
            ",Bo,Li,bli,,556,1,North Elementary,",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert (run.outcome(2), run.outcome(3)) == ("created", "failed")
    assert "Password: is required for a new student." in run.errors_of(3)
    created = student(ctx.sessions, "aoneil")
    assert created.password_hash and verify_password("s3cret-pw", created.password_hash)
    assert "s3cret-pw" not in str(run.results) and "s3cret-pw" not in str(run.errors)
    with ctx.sessions() as session:
        classes = session.scalars(
            select(ClassStudent.class_id).where(ClassStudent.student_id == created.id)
        ).all()
        assert classes == [roster.class_a.id]
        logged = session.scalars(select(ImportChange.new_value)).all()
        assert "s3cret-pw" not in logged and "(changed)" in logged


def test_a_repeated_database_id_is_refused_after_its_first_row_even_across_batches(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given (two rows a batch: rows 2-3, then 4)
    jose = roster.students[0]
    line = f"{jose.id},José,García,jgarcia,,000123,3,North Elementary"
    other = f"{roster.students[1].id},Zoë,D'Angelo,zdangelo,,000124,K,North Elementary"
    data = "\r\n".join([HEADER, line, other, line])

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.outcome(4) == "failed"
    assert "Database ID: duplicate of row 2." in run.errors_of(4)


def test_spreadsheet_damage_is_caught_not_applied(ctx: JobContext, roster: SmallDistrict) -> None:
    # given: lost leading zeros, a US date, an ID in scientific notation
    jose = roster.students[0]
    data = "\r\n".join(
        [
            HEADER + ",Birth Date",
            f"{jose.id},José,García,jgarcia,,123,3,North Elementary,4/9/2016",
            "1.23E+11,Zoë,D'Angelo,zdangelo,,000124,K,North Elementary,",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.outcome(2) == "unchanged"
    assert run.outcome(3) == "failed" and "scientific notation" in run.errors_of(3)
    assert student(ctx.sessions, "jgarcia").external_id == "000123"


def test_access_to_imagine_reading_cannot_be_removed_by_an_import(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    jose = roster.students[0]
    data = "\r\n".join(
        [
            HEADER + ",Imagine Reading: Access",
            f"{jose.id},José,García,jgarcia,,000123,3,North Elementary,No",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.outcome(2) == "failed"
    assert "cannot be removed by an import" in run.errors_of(2)
    assert student(ctx.sessions, "jgarcia").access_reading is True


def test_usernames_are_unique_against_the_roster_and_earlier_rows_of_the_file(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    data = "\r\n".join(
        [
            HEADER,
            ",New,One,JGARCIA,pass1,901,1,North Elementary",
            ",New,Two,fresh,pass2,902,1,North Elementary",
            ",New,Three,Fresh,pass3,903,1,North Elementary",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.outcome(2) == "failed" and "already used by another student" in run.errors_of(2)
    assert run.outcome(3) == "created"
    assert run.outcome(4) == "failed" and "already used in row 3 of this file" in run.errors_of(4)


def test_a_dry_run_reports_like_a_real_run_and_changes_nothing(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    jose = roster.students[0]
    data = "\r\n".join(
        [
            HEADER,
            f"{jose.id},José,García,jgarcia,,000123,6,North Elementary",
            ",New,Kid,newkid,pass,777,1,North Elementary",
            f"{jose.id},José,García,jgarcia,,000123,6,North Elementary",
        ]
    )

    # when
    dry = run_import_of(ctx, roster, data, dry_run=True)

    # then
    assert dry.job.dry_run and dry.job.counts == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "failed": 1,
    }
    assert student(ctx.sessions, "jgarcia").grade == "3"
    with ctx.sessions() as session:
        assert session.scalars(select(Student).where(Student.username == "newkid")).first() is None
    assert change_count(ctx.sessions) == 0


def test_keys_given_up_by_earlier_rows_are_free_to_take_in_a_real_run_and_a_dry_run_alike(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given, in batches of two: a username and External Assigned ID given up by row 2 and
    # taken by row 3 of the same batch, given up by row 3 and taken by row 6 of a later
    # batch; and a new student refused for its missing password (row 4), whose username
    # the next row of its batch then asks for
    jose, zoe, third = roster.students[0], roster.students[1], roster.students[2]
    data = "\r\n".join(
        [
            HEADER,
            f"{jose.id},José,García,jgarcia-old,,900123,3,North Elementary",
            f"{zoe.id},Zoë,D'Angelo,JGarcia,,000123,K,North Elementary",
            ",New,Kid,newkid,,777,1,North Elementary",
            ",New,Kid,NewKid,pass,778,1,North Elementary",
            f"{third.id},{third.first_name},{third.last_name},zdangelo,,000124,4,North Elementary",
        ]
    )

    # when
    dry = run_import_of(ctx, roster, data, dry_run=True)
    real = run_import_of(ctx, roster, data)

    # then each row has the answer it would have once the rows before it were applied
    assert [(r["Row"], r["Result"]) for r in real.results] == [
        ("2", "updated"),
        ("3", "updated"),
        ("4", "failed"),
        ("5", "created"),
        ("6", "updated"),
    ]
    assert real.errors_of(4) == "Password: is required for a new student."
    assert student(ctx.sessions, "JGarcia").id == zoe.id
    assert student(ctx.sessions, "zdangelo").id == third.id
    # and the dry run said so beforehand, row for row
    assert dry.results == real.results


def test_a_missing_required_column_fails_the_job_and_changes_nothing(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    data = "Database ID,First Name\r\n1,Someone\r\n"

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.job.status == "failed"
    assert run.job.error is not None and "Grade" in run.job.error
    assert change_count(ctx.sessions) == 0


def _resume_file(roster: SmallDistrict) -> str:
    lines = [HEADER]
    for n, s in enumerate(roster.students):
        cells = [s.id, s.first_name, f"Edited{n}", s.username, "", s.external_id, s.grade]
        lines.append(",".join(map(str, cells)) + ",North Elementary")
    lines += [f",Kid,N{n},kid{n},pass{n},80{n},2,North Elementary" for n in range(3)]
    return "\r\n".join(lines)


def test_an_import_interrupted_between_batches_resumes_with_the_same_outcome(
    ctx: JobContext,
    roster: SmallDistrict,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a fault after the second batch has committed
    data = _resume_file(roster).encode()
    job_id = submit(ctx, roster, data)
    real = jobs.imports.apply_batch
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise TransientJobError("The database did not answer")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    for path in (jobs.imports, jobs.import_overlap):  # the general path's and the fast path's
        monkeypatch.setattr(path, "apply_batch", flaky)

    # when the first delivery fails and the broker delivers again
    with pytest.raises(TransientJobError):
        run_job(ctx, job_id, run_import)
    interrupted = finished(ctx, job_id)
    reported_by_first = ctx.store.exists(f"imports/{roster.district.id}/{job_id}/result.csv")
    run_job(ctx, job_id, run_import)
    resumed = finished(ctx, job_id)

    # then
    assert (interrupted.job.status, interrupted.job.checkpoint) == ("queued", 5)
    # the first run's reports, begun as its batches committed, were dropped unfinished
    assert not reported_by_first
    assert resumed.job.status == "completed" and resumed.job.attempts == 2
    assert resumed.job.counts == {"created": 3, "updated": 4, "unchanged": 0, "failed": 0}
    assert [r["Result"] for r in resumed.results] == ["updated"] * 4 + ["created"] * 3
    with ctx.sessions() as session:
        kids = session.scalars(select(Student.username).where(Student.username.like("kid%"))).all()
        assert sorted(kids) == ["kid0", "kid1", "kid2"]
    # four last names and one school changed; seven values of each of three new students
    assert change_count(sessions, job_id) == 5 + 3 * 7
    assert read_csv(ctx.store, resumed.job.result_key)[0]["Row"] == "2"


def _reports_from_stored_results(ctx: JobContext, job_id: str) -> tuple[bytes, bytes | None]:
    """The job's two reports as the report pass writes them: the file read once more and
    joined with the stored results."""
    with ctx.sessions() as session:
        job = session.get(jobs.imports.Job, job_id)
        assert job is not None and job.input_key is not None
        header = csv_in.survey(
            jobs.imports._opener(ctx, job.input_key),
            entity=Entity.STUDENTS,
            purchased=(),
            limits=ctx.import_limits,
        ).header
        keys = write_reports(
            ctx.store,
            keys=("again/result.csv", "again/errors.csv"),
            header=header,
            rows=csv_in.read_rows(
                jobs.imports._opener(ctx, job.input_key),
                encoding="utf-8",
                limits=ctx.import_limits,
            ),
            results=jobs.imports._stored_results(session, job_id, 100),
        )
    return _read(ctx, keys.result_key), _read(ctx, keys.errors_key)


def _read(ctx: JobContext, key: str | None) -> bytes | None:
    if key is None:
        return None
    with ctx.store.open_read(key) as raw:
        return raw.read()


@pytest.mark.parametrize("dry_run", [False, True], ids=["applied", "dry-run"])
def test_a_fresh_import_reports_each_batch_as_it_commits_with_the_report_pass_s_bytes(
    ctx: JobContext, roster: SmallDistrict, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    # given a file of updates, new students and refused rows (over several batches)
    lines = _resume_file(roster).split("\r\n")
    lines += [",Bad,Grade,badgrade,pass9,809,13,North Elementary", f"{roster.students[0].id},x"]
    data = "\r\n".join(lines).encode()
    job_id = submit(ctx, roster, data, dry_run=dry_run)
    opened: list[tuple[str, list[int]]] = []  # each open's key, and the sizes asked of it
    real_open = ctx.store.open_read

    @contextmanager
    def counting(key: str) -> Iterator[object]:
        asked: list[int] = []
        opened.append((key, asked))
        with real_open(key) as raw:
            real_read = raw.read

            def reading(size: int = -1) -> bytes:
                asked.append(size)
                return real_read(size)

            raw.read = reading  # type: ignore[method-assign]
            yield raw

    monkeypatch.setattr(ctx.store, "open_read", counting)

    # when it is imported from its first row
    run_job(ctx, job_id, run_import)
    monkeypatch.undo()
    run = finished(ctx, job_id)

    # then the upload was read twice (the survey, the rows), not a third time for the
    # reports; the only other look is the reader's choice, one read of the first KB
    peeks = [asked for _, asked in opened if asked == [HEAD_BYTES]]
    assert len(peeks) == 1 and len(opened) == 3
    assert len({key for key, _ in opened}) == 1
    assert run.job.counts["failed"] == 2 and len(run.errors) == 2
    # and the reports are byte for byte those the report pass writes from the stored results
    assert _reports_from_stored_results(ctx, job_id) == (
        _read(ctx, run.job.result_key),
        _read(ctx, run.job.error_report_key),
    )


def test_a_fresh_import_without_refused_rows_leaves_no_errors_file(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when a file without a refused row is imported from its first row
    run = run_import_of(ctx, roster, _resume_file(roster))

    # then there is a result file and no errors file, as from the report pass
    assert run.job.status == "completed" and len(run.results) == 7
    assert run.job.error_report_key is None
    assert not ctx.store.exists(f"imports/{roster.district.id}/{run.job.id}/errors.csv")


def test_a_row_that_hits_a_constraint_at_write_time_is_refused_alone(
    ctx: JobContext, roster: SmallDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given another writer takes username "taken" between the checks and the write
    # (the uniqueness check is made blind to it, as it would be in that race)
    monkeypatch.setattr("storage.references.holders", lambda *args, **kwargs: {})
    data = "\r\n".join(
        [
            HEADER,
            ",Ana,Ruiz,aruiz,pass1,901,2,North Elementary",
            ",Bo,Li,JGarcia,pass2,902,2,North Elementary",
            ",Cy,Wu,cwu,pass3,903,2,North Elementary",
        ]
    )

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert [run.outcome(n) for n in (2, 3, 4)] == ["created", "failed", "created"]
    assert "could not be saved" in run.errors_of(3)
    assert run.job.counts == {"created": 2, "updated": 0, "unchanged": 0, "failed": 1}
    with ctx.sessions() as session:
        names = session.scalars(select(Student.username).where(Student.external_id.like("90%")))
        assert sorted(names) == ["aruiz", "cwu"]


def test_a_cancelled_import_keeps_what_it_committed_and_reports_the_rest_not_processed(
    ctx: JobContext, roster: SmallDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the user cancels while the first batch is being applied
    job_id = submit(ctx, roster, _resume_file(roster).encode())
    real = jobs.imports.apply_batch

    def cancel_during_first(session: Session, *args: object, **kwargs: object) -> object:
        job = session.get(jobs.imports.Job, job_id)
        assert job is not None
        job.cancel_requested = True
        return real(session, *args, **kwargs)  # type: ignore[arg-type]

    for path in (jobs.imports, jobs.import_overlap):  # the general path's and the fast path's
        monkeypatch.setattr(path, "apply_batch", cancel_during_first)

    # when
    run_job(ctx, job_id, run_import)
    run = finished(ctx, job_id)

    # then
    assert run.job.status == "cancelled"
    assert [r["Result"] for r in run.results] == ["updated"] * 2 + ["not processed"] * 5
    assert run.job.counts["not_processed"] == 5
    assert student(ctx.sessions, "jgarcia").last_name == "Edited0"
    assert student(ctx.sessions, "formula1").last_name == "-Smith"


def test_no_log_line_of_an_import_carries_names_usernames_or_passwords(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    data = "\r\n".join([HEADER, ",Ana,Zyx-Ruiz,azyxruiz,Sekr1t-pw,901,2,North Elementary"])

    # when
    with structlog.testing.capture_logs() as logs:
        run = run_import_of(ctx, roster, data)

    # then
    assert run.outcome(2) == "created"
    shown = repr(logs)
    assert "import.finished" in shown
    for secret in ("Zyx-Ruiz", "azyxruiz", "Sekr1t-pw", "José", "jgarcia"):
        assert secret not in shown


def test_school_names_with_accented_capitals_match_in_any_case(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a school whose name starts with a capital letter outside ASCII (the district
    # admin is assigned to every school, this one too: that is what makes them district admin)
    with unit_of_work(ctx.sessions) as session:
        ecole = factories.school(session, roster.district.id, "École Nord")
        session.add(EducatorSchool(educator_id=roster.district_admin.id, school_id=ecole.id))
    jose = roster.students[0]
    data = "\r\n".join([HEADER, f"{jose.id},José,García,jgarcia,,000123,3,ÉCOLE NORD"])

    # when
    run = run_import_of(ctx, roster, data)

    # then
    assert run.outcome(2) == "updated", run.errors_of(2)
    _, rows = rows_of(export_bytes(ctx, roster))
    assert [row[7] for row in rows if row[3] == "jgarcia"] == ["École Nord"]


def test_an_import_whose_upload_is_missing_fails_at_once_saying_so(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a queued import whose file was deleted from storage
    job_id = submit(ctx, roster, b"Database ID\r\n")
    with ctx.sessions() as session:
        key = session.get(jobs.imports.Job, job_id).input_key  # type: ignore[union-attr]
    ctx.store.delete(key or "")

    # when
    run_job(ctx, job_id, run_import)

    # then: failed on the first attempt, not retried as a storage fault
    run = finished(ctx, job_id)
    assert (run.job.status, run.job.attempts) == ("failed", 1)
    assert run.job.error == "The uploaded file is missing; upload it again."
