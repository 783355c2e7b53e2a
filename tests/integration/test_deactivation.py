"""Deactivated students, educators and classes leave exports, keep their keys and history,
and come back as they were when activated again (SQLite and Postgres; the Postgres export
takes the COPY path, SQLite the row stream)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from storage.db import unit_of_work
from storage.models import ClassGroup, Educator, Student
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.importing import read_csv, run_import_of
from tests.integration.test_export import export


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def set_active(ctx: JobContext, model: Any, record_id: int, active: bool) -> None:
    with unit_of_work(ctx.sessions) as session:
        session.execute(update(model).where(model.id == record_id).values(active=active))


def exported(ctx: JobContext, roster: SmallDistrict, entity: str, **fields: object) -> list[str]:
    job = export(ctx, roster, entity=entity, columns=None, **fields)
    assert job.status == "completed", job.error
    rows = read_csv(ctx.store, job.result_key)
    assert job.counts == {"rows": len(rows)}
    key = "Class/Group Name" if entity == "classes" else "Username"
    return [row[key] for row in rows]


def test_a_deactivated_student_leaves_the_export_unless_inactive_ones_are_asked_for(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given José is deactivated
    set_active(ctx, Student, roster.students[0].id, False)

    # when / then
    assert exported(ctx, roster, "students") == ["zdangelo", "formula1", "anguyen"]
    assert exported(ctx, roster, "students", include_inactive=True) == [
        "jgarcia",
        "zdangelo",
        "formula1",
        "anguyen",
    ]


def test_deactivated_educators_and_classes_leave_their_exports_too(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    set_active(ctx, Educator, roster.other_teacher.id, False)
    set_active(ctx, ClassGroup, roster.class_b.id, False)

    # when
    educators = exported(ctx, roster, "educators")
    classes = exported(ctx, roster, "classes")

    # then
    assert roster.other_teacher.username not in educators
    assert roster.teacher.username in educators
    assert classes == ["Grade 3 - O'Brien", "Grade 7 - Muñoz"]
    everyone = exported(ctx, roster, "educators", include_inactive=True)
    assert roster.other_teacher.username in everyone


def test_a_deactivated_students_username_and_id_stay_reserved(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given José is deactivated
    set_active(ctx, Student, roster.students[0].id, False)
    header = "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
    header += "Organizations\n"

    # when a new student is given his username, another his External Assigned ID
    run = run_import_of(
        ctx,
        roster,
        header
        + ",New,One,JGarcia,secret1,999001,3,North Elementary\n"
        + ",New,Two,newtwo,secret2,000123,3,North Elementary\n",
    )

    # then both are refused, naming the taken key
    assert run.job.counts["failed"] == 2, run.results
    assert "username" in run.errors_of(2).lower()
    assert "external assigned id" in run.errors_of(3).lower()


def test_a_deactivated_student_is_still_edited_by_database_id_and_comes_back_as_edited(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given José is deactivated
    jose = roster.students[0]
    set_active(ctx, Student, jose.id, False)
    header = "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
    header += "Organizations\n"

    # when his row is edited by its Database ID
    row = f"{jose.id},José,García-López,jgarcia,,000123,4,North Elementary\n"
    run = run_import_of(ctx, roster, header + row)

    # then it is updated (not refused as unknown, not created again)
    assert run.outcome(2) == "updated", run.results
    assert "jgarcia" not in exported(ctx, roster, "students")

    # and when he is activated again he is back, edited, with his classes kept
    set_active(ctx, Student, jose.id, True)
    job = export(ctx, roster, entity="students", columns=["Classes/Groups"])
    back = {r["Username"]: r for r in read_csv(ctx.store, job.result_key)}["jgarcia"]
    assert (back["Last Name"], back["Grade"]) == ("García-López", "4")
    assert back["Classes/Groups"] == "Grade 3 - O'Brien"


def test_a_deactivated_class_keeps_its_members_and_its_students_still_list_it(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given class A is deactivated
    set_active(ctx, ClassGroup, roster.class_a.id, False)

    # when the students are exported
    job = export(ctx, roster, entity="students", columns=["Classes/Groups"])

    # then their cells still name it (a round trip keeps the membership)
    rows = {r["Username"]: r for r in read_csv(ctx.store, job.result_key)}
    assert rows["zdangelo"]["Classes/Groups"] == "Grade 3 - O'Brien;Grade 4 - Muñoz"

    # and it comes back with its students and educators when activated again
    set_active(ctx, ClassGroup, roster.class_a.id, True)
    job = export(ctx, roster, entity="classes", columns=["Educators", "Students"])
    back = {r["Class/Group Name"]: r for r in read_csv(ctx.store, job.result_key)}
    assert back["Grade 3 - O'Brien"]["Students"] == "jgarcia;zdangelo"
    assert back["Grade 3 - O'Brien"]["Educators"] == roster.teacher.username


STATUS_HEADER = "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
STATUS_HEADER += "Organizations,Status\n"


def test_a_status_column_deactivates_and_activates_students_from_a_spreadsheet(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    jose = roster.students[0]
    row = f"{jose.id},José,García,jgarcia,,000123,3,North Elementary,"

    # when he is marked Inactive
    run = run_import_of(ctx, roster, STATUS_HEADER + row + "inactive\n")

    # then he leaves the export, and an export of inactive ones too shows him Inactive
    assert run.outcome(2) == "updated", run.results
    assert "jgarcia" not in exported(ctx, roster, "students")
    job = export(ctx, roster, entity="students", columns=["Status"], include_inactive=True)
    statuses = {r["Username"]: r["Status"] for r in read_csv(ctx.store, job.result_key)}
    assert statuses == {
        "jgarcia": "Inactive",
        "zdangelo": "Active",
        "formula1": "Active",
        "anguyen": "Active",
    }

    # and when the same row says Active again he is back
    again = run_import_of(ctx, roster, STATUS_HEADER + row + "Active\n")
    assert again.outcome(2) == "updated", again.results
    assert "jgarcia" in exported(ctx, roster, "students")


def test_a_status_other_than_active_or_inactive_is_refused_for_that_row_only(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    jose, zoe = roster.students[0], roster.students[1]
    rows = f"{jose.id},José,García,jgarcia,,000123,3,North Elementary,Gone\n"
    rows += f"{zoe.id},Zoë,D'Angelo,zdangelo,,000124,K,North Elementary,Inactive\n"

    # when
    run = run_import_of(ctx, roster, STATUS_HEADER + rows)

    # then
    assert run.outcome(2) == "failed"
    assert "Status: 'Gone' is not allowed; use Active or Inactive." in run.errors_of(2)
    assert run.outcome(3) == "updated"
    assert exported(ctx, roster, "students") == ["jgarcia", "formula1", "anguyen"]


def test_a_status_column_deactivates_a_class_group(ctx: JobContext, roster: SmallDistrict) -> None:
    # given
    header = "Database ID,Class/Group Name,Organization,Status\n"
    row = f"{roster.class_b.id},Grade 4 - Muñoz,North Elementary,Inactive\n"

    # when
    run = run_import_of(ctx, roster, header + row, entity="classes")

    # then
    assert run.outcome(2) == "updated", run.results
    assert exported(ctx, roster, "classes") == ["Grade 3 - O'Brien", "Grade 7 - Muñoz"]
