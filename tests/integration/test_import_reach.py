"""An import never changes what lies outside the requester's reach, neither adding nor
removing: a multi-valued cell replaces the part of the stored set inside the reach, and the
memberships outside it stay as they are, whether or not the cell lists them.

Every case runs on SQLite and Postgres, through the general path and through `run_import`
(the fast path on Postgres). The roster (`factories.small_district`): North holds classes A
(taught by the teacher) and B, South holds class C; the school admin has North alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.imports import run_general_import, run_import
from jobs.lifecycle import JobContext, Pipeline, run_job
from schemas.products import Product
from storage.db import unit_of_work
from storage.models import (
    ClassEducator,
    ClassGroup,
    ClassProduct,
    ClassStudent,
    EducatorSchool,
    School,
    Student,
    StudentSchool,
)
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.importing import ImportRun, change_count, finished, submit

STUDENTS = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
    "Organizations,Classes/Groups"
)
EDUCATORS = "Database ID,First Name,Last Name,Username,Educator Type,Organizations,Classes/Groups"
CLASSES = "Database ID,Class/Group Name,Organization,Educators,Students"
A, B, C = "Grade 3 - O'Brien", "Grade 4 - Muñoz", "Grade 7 - Muñoz"
NORTH, SOUTH = "North Elementary", "South Middle"
LANGUAGE_LITERACY, ESPANOL, SCIENCE = Product.LANGUAGE_LITERACY, Product.ESPANOL, Product.SCIENCE


@pytest.fixture(params=[run_general_import, run_import], ids=["general", "fast"])
def pipeline(request: pytest.FixtureRequest) -> Pipeline:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def imported(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, lines: list[str], **options: str
) -> ImportRun:
    job_id = submit(ctx, roster, "\r\n".join(lines).encode(), **options)  # type: ignore[arg-type]
    run_job(ctx, job_id, pipeline)
    return finished(ctx, job_id)


def names_of(sessions: sessionmaker[Session], statement: object) -> set[str]:
    with sessions() as session:
        return set(session.scalars(statement))  # type: ignore[call-overload]


def student_row(student: Student, schools: str, classes: str) -> str:
    return (
        f'{student.id},{student.first_name},"{student.last_name}",{student.username},,'
        f'{student.external_id},{student.grade},"{schools}","{classes}"'
    )


def classes_of_student(sessions: sessionmaker[Session], student_id: int) -> set[str]:
    return names_of(
        sessions,
        select(ClassGroup.name)
        .join(ClassStudent, ClassStudent.class_id == ClassGroup.id)
        .where(ClassStudent.student_id == student_id),
    )


def schools_of_student(sessions: sessionmaker[Session], student_id: int) -> set[str]:
    return names_of(
        sessions,
        select(School.name)
        .join(StudentSchool, StudentSchool.school_id == School.id)
        .where(StudentSchool.student_id == student_id),
    )


# --- students ------------------------------------------------------------------------------


def test_a_teacher_listing_only_their_class_leaves_a_students_other_classes_alone(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given Zoë in class A (the teacher's) and class B (another teacher's)
    zoe = roster.students[1]

    # when the teacher imports her row naming class A alone
    run = imported(
        ctx,
        pipeline,
        roster,
        [STUDENTS, student_row(zoe, NORTH, A)],
        username=roster.teacher.username,
    )

    # then nothing changed: class B lies outside the teacher's reach
    assert run.outcome(2) == "unchanged", run.errors_of(2)
    assert classes_of_student(sessions, zoe.id) == {A, B}
    assert change_count(sessions, run.job.id) == 0


def test_a_teacher_emptying_the_classes_cell_removes_only_their_own_class(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    zoe = roster.students[1]

    run = imported(
        ctx,
        pipeline,
        roster,
        [STUDENTS, student_row(zoe, NORTH, "")],
        username=roster.teacher.username,
    )

    assert run.outcome(2) == "updated", run.errors_of(2)
    assert classes_of_student(sessions, zoe.id) == {B}


def test_a_school_admin_keeps_a_students_school_and_class_of_another_school(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given a student of North and South, in class A (North) and class C (South)
    with unit_of_work(sessions) as session:
        both = factories.student(session, roster.north, [roster.class_a], username="both")
        session.add(StudentSchool(student_id=both.id, school_id=roster.south.id))
        session.add(ClassStudent(student_id=both.id, class_id=roster.class_c.id))

    # when North's admin imports the row naming only North and class A, then an edit of
    # the same row that moves the student from class A to class B
    same = imported(
        ctx,
        pipeline,
        roster,
        [STUDENTS, student_row(both, NORTH, A)],
        username=roster.school_admin.username,
    )
    moved = imported(
        ctx,
        pipeline,
        roster,
        [STUDENTS, student_row(both, NORTH, B)],
        username=roster.school_admin.username,
    )

    # then South and class C stay: the first row changes nothing, the second only A → B
    assert same.outcome(2) == "unchanged", same.errors_of(2)
    assert moved.outcome(2) == "updated", moved.errors_of(2)
    assert schools_of_student(sessions, both.id) == {NORTH, SOUTH}
    assert classes_of_student(sessions, both.id) == {B, C}


def test_a_school_admin_still_cannot_add_a_school_or_class_outside_their_own(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    jose = roster.students[0]

    run = imported(
        ctx,
        pipeline,
        roster,
        [STUDENTS, student_row(jose, f"{NORTH};{SOUTH}", f"{A};{C}")],
        username=roster.school_admin.username,
    )

    assert run.outcome(2) == "failed"
    assert f"Organizations: '{SOUTH}' is outside your schools." in run.errors_of(2)
    assert f"Classes/Groups: '{C}' is outside your schools." in run.errors_of(2)
    assert schools_of_student(sessions, jose.id) == {NORTH}
    assert classes_of_student(sessions, jose.id) == {A}


# --- educators -----------------------------------------------------------------------------


def test_a_school_admin_keeps_an_educators_school_and_class_of_another_school(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given José Muñoz, at North and South, teaching B (North) and C (South)
    other = roster.other_teacher
    row = f"{other.id},{other.first_name},{other.last_name},{other.username},Teacher,{NORTH},{B}"

    # when North's admin imports his row naming North and class B alone
    run = imported(
        ctx,
        pipeline,
        roster,
        [EDUCATORS, row],
        entity="educators",
        username=roster.school_admin.username,
    )

    # then he keeps South and class C
    assert run.outcome(2) == "unchanged", run.errors_of(2)
    schools = select(School.name).join(EducatorSchool, EducatorSchool.school_id == School.id)
    classes = select(ClassGroup.name).join(ClassEducator, ClassEducator.class_id == ClassGroup.id)
    assert names_of(sessions, schools.where(EducatorSchool.educator_id == other.id)) == {
        NORTH,
        SOUTH,
    }
    assert names_of(sessions, classes.where(ClassEducator.educator_id == other.id)) == {B, C}


# --- classes/groups ------------------------------------------------------------------------


def members_of(sessions: sessionmaker[Session], class_id: int) -> tuple[set[str], set[str]]:
    students = select(Student.username).join(ClassStudent, ClassStudent.student_id == Student.id)
    educators = select(ClassEducator.educator_id).where(ClassEducator.class_id == class_id)
    with sessions() as session:
        return (
            set(session.scalars(students.where(ClassStudent.class_id == class_id))),
            {str(e) for e in session.scalars(educators)},
        )


def test_a_school_admin_keeps_the_members_of_a_class_who_lie_outside_their_schools(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given class A (North) with a South-only student and a South-only educator in it
    with unit_of_work(sessions) as session:
        southern = factories.educator(session, roster.district.id, [roster.south])
        session.add(ClassEducator(class_id=roster.class_a.id, educator_id=southern.id))
        session.add(ClassStudent(class_id=roster.class_a.id, student_id=roster.students[3].id))
    teacher = roster.teacher.username
    row = f'{roster.class_a.id},"{A}",{NORTH},{teacher},"jgarcia;zdangelo"'

    # when North's admin imports class A naming only the members of North, then with
    # Zoë D'Angelo (of North) left out
    same = imported(
        ctx,
        pipeline,
        roster,
        [CLASSES, row],
        entity="classes",
        username=roster.school_admin.username,
    )
    fewer = imported(
        ctx,
        pipeline,
        roster,
        [CLASSES, f'{roster.class_a.id},"{A}",{NORTH},{teacher},jgarcia'],
        entity="classes",
        username=roster.school_admin.username,
    )

    # then the South members stay; only Zoë, inside the reach, leaves
    assert same.outcome(2) == "unchanged", same.errors_of(2)
    assert fewer.outcome(2) == "updated", fewer.errors_of(2)
    students, educators = members_of(sessions, roster.class_a.id)
    assert students == {"jgarcia", "anguyen"}
    assert educators == {str(roster.teacher.id), str(southern.id)}


def test_a_school_admin_cannot_add_a_student_of_another_school_to_a_class(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    other = roster.other_teacher.username
    row = f'{roster.class_b.id},"{B}",{NORTH},{other},"zdangelo;formula1;anguyen"'

    run = imported(
        ctx,
        pipeline,
        roster,
        [CLASSES, row],
        entity="classes",
        username=roster.school_admin.username,
    )

    assert run.outcome(2) == "failed"
    assert run.errors_of(2) == "Students: student 'anguyen' is outside your reach."
    assert members_of(sessions, roster.class_b.id)[0] == {"zdangelo", "formula1"}


def test_a_teacher_keeps_a_co_teacher_they_leave_out_and_cannot_add_another(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given class A taught by the teacher and a co-teacher
    with unit_of_work(sessions) as session:
        session.add(ClassEducator(class_id=roster.class_a.id, educator_id=roster.other_teacher.id))
    me = roster.teacher.username
    row = f'{roster.class_a.id},"{A}",{NORTH},{me},"jgarcia;zdangelo"'
    added = f'{roster.class_a.id},"{A}",{NORTH},"{me};{roster.school_admin.username}",jgarcia'

    # when the teacher lists herself alone, then tries to add the school admin
    kept = imported(ctx, pipeline, roster, [CLASSES, row], entity="classes", username=me)
    refused = imported(ctx, pipeline, roster, [CLASSES, added], entity="classes", username=me)

    # then the co-teacher stays, and the teacher may name no other educator
    assert kept.outcome(2) == "unchanged", kept.errors_of(2)
    assert refused.outcome(2) == "failed"
    assert refused.errors_of(2) == (
        f"Educators: educator '{roster.school_admin.username}' is outside your reach."
    )
    assert members_of(sessions, roster.class_a.id)[1] == {
        str(roster.teacher.id),
        str(roster.other_teacher.id),
    }


def test_a_product_the_district_no_longer_has_stays_on_a_class_and_cannot_be_added(
    ctx: JobContext, pipeline: Pipeline, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given class A holding Imagine Español, which the district has not purchased (lapsed)
    with unit_of_work(sessions) as session:
        session.add(ClassProduct(class_id=roster.class_a.id, product=Product.ESPANOL.code))
    header = f"{CLASSES},Products"
    teacher = roster.teacher.username
    start = f'{roster.class_a.id},"{A}",{NORTH},{teacher},"jgarcia;zdangelo"'
    ill, espanol, science = (p.value for p in (LANGUAGE_LITERACY, ESPANOL, SCIENCE))

    # when the district admin imports the class without Español, then listing it, then
    # adding Imagine Science (never purchased)
    without = imported(ctx, pipeline, roster, [header, f"{start},{ill}"], entity="classes")
    listed = imported(
        ctx, pipeline, roster, [header, f'{start},"{ill};{espanol}"'], entity="classes"
    )
    added = imported(
        ctx, pipeline, roster, [header, f'{start},"{ill};{science}"'], entity="classes"
    )

    # then Español stays either way, and Science is refused
    assert (without.outcome(2), listed.outcome(2)) == ("unchanged", "unchanged")
    assert added.errors_of(2) == f"Products: the district has not purchased {science}."
    with sessions() as session:
        stored = session.scalars(
            select(ClassProduct.product).where(ClassProduct.class_id == roster.class_a.id)
        )
        assert set(stored) == {LANGUAGE_LITERACY.code, ESPANOL.code}
