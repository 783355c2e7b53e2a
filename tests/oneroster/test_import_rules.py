"""The OneRoster import's refusals and resumption: a bad set fails the job with one
sentence and applies nothing; a bad row is refused on its own, naming the file's column and
the sourcedId; a job stopped after every batch resumes to the uninterrupted result."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

import jobs.oneroster_in
from jobs.imports import run_general_import, run_import
from jobs.lifecycle import JobContext, WorkerStop, run_job
from storage.db import unit_of_work
from storage.models import Job, School, Student
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.importing import run_import_of
from tests.oneroster.helpers import export_set
from tests.oneroster.importing import finished_set, import_set, submit_set
from tests.oneroster.test_import import SIS, csv_rows, sis_set


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def count(sessions: sessionmaker[Session], model: object) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def test_a_bad_set_fails_the_job_with_one_sentence_and_applies_nothing(
    ctx: JobContext, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given a set whose manifest states version 1.2
    data = sis_set(SIS, version="1.2")
    schools, students = count(sessions, School), count(sessions, Student)

    # when
    done = import_set(ctx, roster.district.id, roster.district_admin.username, data)

    # then
    assert done.job.status == "failed"
    assert done.job.error == "The manifest states version 1.2; only OneRoster 1.1 is read."
    assert (count(sessions, School), count(sessions, Student)) == (schools, students)


def test_a_bad_row_is_refused_on_its_own_naming_the_column_and_the_sourced_id(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an enrollment of an unknown user, a repeated user and a bad grade
    files = dict(SIS)
    files["users.csv"] += "U-S1,active,,true,S-EAST,student,kim99,,Kim,Again,,,,,,,09,\n"
    files["users.csv"] += "U-S3,active,,true,S-EAST,student,pat03,,Pat,Grade,,900003,,,,,99,\n"
    files["enrollments.csv"] += "E5,active,,K-ALG1,S-EAST,U-NOBODY,student,false,,\n"

    # when
    done = import_set(ctx, roster.district.id, roster.district_admin.username, sis_set(files))

    # then
    assert done.job.status == "completed_with_errors"
    errors = {
        (name, row["sourcedId"]): row["Errors"]
        for name, rows in done.errors.items()
        for row in rows
    }
    assert errors[("enrollments.csv", "E5")] == (
        "userSourcedId: no student 'U-NOBODY' is in this file set or the roster."
    )
    assert errors[("users.csv", "U-S1")] == "sourcedId: duplicate of row 3."
    assert errors[("users.csv", "U-S3")].startswith("Grade: ")
    assert done.row("users.csv", "U-S2")["Result"] == "created"
    assert (done.job.counts_by_file or {})["users"]["failed"] == 2
    # the errors zip holds the refused rows as they came, with Errors
    header = "sourcedId,status,dateLastModified,class,school,user,role,primary,beginDate,endDate"
    assert list(done.errors["enrollments.csv"][0]) == [*header.split(","), "Errors"]


def test_a_teacher_cannot_import_a_oneroster_set(ctx: JobContext, roster: SmallDistrict) -> None:
    with pytest.raises(Exception, match="Teachers cannot import OneRoster files"):
        submit_set(ctx, roster.district.id, roster.teacher.username, sis_set(SIS))


def test_a_job_stopped_after_every_batch_resumes_to_the_uninterrupted_result(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two districts seeded the same way
    with unit_of_work(sessions) as session:
        twins = [factories.small_district(session, name) for name in ("Twin One", "Twin Two")]
    store = FolderStore(tmp_path / "objects")
    calm = JobContext(sessions=sessions, store=store, batch_rows=2)
    stop = WorkerStop()
    # the worker is asked to stop as each batch commits: the batch's own progress report
    # (the real check every batch makes) then hands the job back
    committed = jobs.oneroster_in.batch_committed

    def stop_after(ctx: JobContext, job_id: str, *, first: bool) -> None:
        stop.requested.set()
        committed(ctx, job_id, first=first)

    monkeypatch.setattr(jobs.oneroster_in, "batch_committed", stop_after)
    stopping = JobContext(
        sessions=sessions, store=store, batch_rows=2, stop=stop, send=lambda *_, **__: None
    )
    data = sis_set(SIS)

    # when one imports at once and the other's worker stops after every batch
    whole = import_set(calm, twins[0].district.id, twins[0].district_admin.username, data)
    job_id = submit_set(stopping, twins[1].district.id, twins[1].district_admin.username, data)
    runs = 0
    while (status := finished_set(stopping, job_id).job.status) not in (
        "completed",
        "failed",
        "completed_with_errors",
    ):
        stop.requested.clear()
        run_job(stopping, job_id, run_import)
        runs += 1
        assert runs < 40, status
    pieces = finished_set(stopping, job_id)

    # then
    assert runs > 5  # it really was resumed, many times
    assert pieces.job.status == whole.job.status
    assert pieces.job.counts == whole.job.counts
    assert pieces.job.counts_by_file == whole.job.counts_by_file
    assert pieces.results == whole.results
    for entity in ("students", "classes", "educators"):
        assert same_names(calm, twins[1], entity) == same_names(calm, twins[0], entity), entity


def same_names(ctx: JobContext, twin: SmallDistrict, entity: str) -> list[dict[str, str]]:
    """The twin's CSV rows with its district's id taken out of the factory's usernames."""
    mark = f"@{twin.district.id}."
    rows = csv_rows(ctx, twin, entity)
    return [{key: value.replace(mark, "@twin.") for key, value in row.items()} for row in rows]


def test_a_school_admins_set_touches_only_their_schools(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given the district's own set, with South's student renamed, imported by North's admin
    found = export_set(ctx, roster)
    files = {name: data.decode() for name, data in found.raw.items() if name != "manifest.csv"}
    files["users.csv"] = files["users.csv"].replace("Amélie", "Amy").replace("José", "Joe", 1)

    # when
    done = import_set(ctx, roster.district.id, roster.school_admin.username, sis_set(files))

    # then José (North) is renamed, Amélie (South) is refused and stays as she was
    assert done.row("users.csv", f"student-{roster.students[0].id}")["Result"] == "updated"
    amelie = done.row("users.csv", f"student-{roster.students[3].id}")
    assert amelie["Result"] == "failed"
    assert "is in your roster" in amelie["Errors"]
    assert done.row("orgs.csv", f"school-{roster.south.id}")["Result"] == "failed"
    students = {r["Username"]: r for r in csv_rows(ctx, roster, "students")}
    assert students["anguyen"]["First Name"] == "Amélie"
    assert students["jgarcia"]["First Name"] == "Joe"


def test_a_dry_run_reports_what_the_real_run_does_and_writes_nothing(
    ctx: JobContext, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given the district's own set with one student renamed and one class deactivated
    found = export_set(ctx, roster)
    files = {name: data.decode() for name, data in found.raw.items() if name != "manifest.csv"}
    files["users.csv"] = files["users.csv"].replace("Amélie", "Amy")
    class_c = f"class-{roster.class_c.id},active"
    files["classes.csv"] = files["classes.csv"].replace(
        class_c, f"class-{roster.class_c.id},tobedeleted"
    )
    before = csv_rows(ctx, roster, "students"), csv_rows(ctx, roster, "classes")
    admin = roster.district_admin.username

    # when
    dry = import_set(ctx, roster.district.id, admin, sis_set(files), dry_run=True)

    # then nothing changed, and the real run reports the same
    assert (csv_rows(ctx, roster, "students"), csv_rows(ctx, roster, "classes")) == before
    real = import_set(ctx, roster.district.id, admin, sis_set(files))
    assert dry.results == real.results
    assert (
        dry.job.counts
        == real.job.counts
        == {"created": 0, "updated": 2, "unchanged": 24, "failed": 0}
    )
    assert "Grade 7 - Muñoz" not in {
        r["Class/Group Name"] for r in csv_rows(ctx, roster, "classes")
    }


def test_a_cancelled_import_keeps_what_it_committed_and_reports_the_rest_not_processed(
    ctx: JobContext, roster: SmallDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the user cancels as the first batch commits
    committed = jobs.oneroster_in.batch_committed

    def cancel_then(context: JobContext, job_id: str, *, first: bool) -> None:
        with unit_of_work(context.sessions) as session:
            session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
        committed(context, job_id, first=first)

    monkeypatch.setattr(jobs.oneroster_in, "batch_committed", cancel_then)

    # when
    done = import_set(ctx, roster.district.id, roster.district_admin.username, sis_set(SIS))

    # then the first batch of orgs.csv (two rows) stands, the rest is not processed
    assert done.job.status == "cancelled"
    assert done.outcomes("orgs.csv") == ["unchanged", "unchanged", "not processed"]
    assert done.outcomes("users.csv") == ["not processed"] * 6
    assert done.job.counts["not_processed"] == 14


def test_the_fast_and_general_paths_give_the_same_results(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # given two districts seeded the same way
    with unit_of_work(sessions) as session:
        twins = [factories.small_district(session, name) for name in ("Fast Twin", "Slow Twin")]
    ctx = JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)
    files = dict(SIS)
    files["users.csv"] += "U-S1,active,,true,S-EAST,student,kim99,,Kim,Again,,,,,,,09,\n"

    # when the same set goes through each path
    runs = []
    for twin, pipeline in zip(twins, (run_import, run_general_import), strict=True):
        job_id = submit_set(ctx, twin.district.id, twin.district_admin.username, sis_set(files))
        run_job(ctx, job_id, pipeline)
        runs.append(finished_set(ctx, job_id))

    # then
    fast, general = runs
    assert fast.results == general.results
    assert fast.job.counts == general.job.counts
    assert fast.job.counts_by_file == general.job.counts_by_file
    for entity in ("students", "classes", "educators"):
        assert same_names(ctx, twins[0], entity) == same_names(ctx, twins[1], entity), entity


def test_a_oneroster_set_uploaded_as_students_is_refused_saying_what_it_is(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given the district's own OneRoster export
    found = export_set(ctx, roster)
    with ctx.store.open_read(found.job.result_key or "") as raw:
        data = raw.read()

    # when it is imported as a students file
    done = run_import_of(ctx, roster, data)

    # then
    assert done.job.status == "failed"
    assert done.job.error == (
        "This file is a OneRoster file set; import it as oneroster (--format oneroster)."
    )
