"""A seeded synthetic district, checked in the database on SQLite and on Postgres."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from schemas.products import PRODUCT_SETTINGS, SESSION_TIME_MAX, SESSION_TIME_MIN, Product
from storage.models import (
    ClassEducator,
    ClassGroup,
    ClassProduct,
    ClassStudent,
    District,
    Educator,
    EducatorSchool,
    PurchasedProduct,
    School,
    Student,
    StudentSchool,
)
from storage.seed import SeedSummary, seed_district

STUDENTS = 600
DISTRICT = "Springfield Public Schools"
GRADES = {"PK", "K", *(str(grade) for grade in range(1, 13))}


def seed(engine: Engine, **overrides: Any) -> SeedSummary:
    arguments: dict[str, Any] = {"name": DISTRICT, "students": STUDENTS, "random_seed": 7}
    return seed_district(engine, **{**arguments, **overrides})


def students_of(session: Session, district_id: int) -> list[Student]:
    statement = select(Student).where(Student.district_id == district_id).order_by(Student.id)
    return list(session.scalars(statement))


def school_of_each_student(session: Session, district_id: int) -> dict[int, list[int]]:
    rows = session.execute(
        select(StudentSchool.student_id, StudentSchool.school_id)
        .join(Student, Student.id == StudentSchool.student_id)
        .where(Student.district_id == district_id)
    )
    schools: dict[int, list[int]] = {}
    for student_id, school_id in rows:
        schools.setdefault(student_id, []).append(school_id)
    return schools


def class_memberships(session: Session, district_id: int) -> list[tuple[int, int, int]]:
    """(class id, school id of the class, student id) of every class membership."""
    rows = session.execute(
        select(ClassStudent.class_id, ClassGroup.school_id, ClassStudent.student_id)
        .join(ClassGroup, ClassGroup.id == ClassStudent.class_id)
        .where(ClassGroup.district_id == district_id)
    )
    return [(class_id, school_id, student_id) for class_id, school_id, student_id in rows]


def identities(session: Session, district_id: int) -> list[tuple[str, str, str]]:
    """(username, external id, grade) of the district's students, in id order."""
    return [(s.username, s.external_id, s.grade) for s in students_of(session, district_id)]


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a re-seed could disturb, apart from the time a district was created."""
    return {
        "districts": session.execute(select(District.id, District.name)).all(),
        "students": session.execute(
            select(Student.id, Student.username, Student.external_id, Student.grade)
        ).all(),
        "educators": session.execute(select(Educator.id, Educator.username)).all(),
        "classes": session.execute(select(ClassGroup.id, ClassGroup.name)).all(),
        "class_students": session.scalar(select(func.count()).select_from(ClassStudent)),
        "student_schools": session.scalar(select(func.count()).select_from(StudentSchool)),
    }


def test_seeding_creates_exactly_the_requested_students_each_in_one_school_of_the_district(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given an empty roster
    # when a district of 600 students is seeded
    summary = seed(engine)

    # then it has exactly 600 students, each in exactly one of its schools
    assert summary.created and summary.students == STUDENTS
    with sessions() as session:
        students = students_of(session, summary.district_id)
        schools = set(
            session.scalars(select(School.id).where(School.district_id == summary.district_id))
        )
        school_of = school_of_each_student(session, summary.district_id)
    assert len(students) == STUDENTS
    assert all(len(school_of.get(s.id, [])) == 1 for s in students)
    assert {school for (school,) in school_of.values()} <= schools
    assert {s.grade for s in students} == GRADES
    assert all(s.password_hash is None for s in students)


def test_every_student_is_in_a_class_of_their_own_school(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district of several schools
    summary = seed(engine, schools=4)

    # when each student's classes are read
    with sessions() as session:
        school_of = school_of_each_student(session, summary.district_id)
        memberships = class_memberships(session, summary.district_id)

    # then every student has at least one class, and every class is in the student's school
    assert {student for _, _, student in memberships} == set(school_of)
    assert all(school_of[student] == [school] for _, school, student in memberships)


def test_classes_hold_twenty_to_thirty_students_and_students_about_one_and_a_half_classes(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    summary = seed(engine)

    # when class sizes are counted
    with sessions() as session:
        memberships = class_memberships(session, summary.district_id)
        classes = session.scalar(
            select(func.count()).where(ClassGroup.district_id == summary.district_id)
        )

    # then a class averages 20-30 students and a student about 1.5 classes
    sizes = Counter(class_id for class_id, _, _ in memberships)
    assert len(sizes) == classes
    assert 20 <= len(memberships) / len(sizes) <= 30
    assert 1.3 <= len(memberships) / STUDENTS <= 1.7


def test_usernames_are_unique_case_insensitively_and_educators_sign_in_with_lower_case_emails(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    summary = seed(engine)

    # when its usernames are read
    with sessions() as session:
        students = students_of(session, summary.district_id)
        educators = list(
            session.scalars(select(Educator).where(Educator.district_id == summary.district_id))
        )

    # then no two differ only by case, and each key is the lower-cased username
    student_keys = [s.username.lower() for s in students]
    assert len(set(student_keys)) == STUDENTS
    assert all(s.username_key == s.username.lower() and len(s.username) >= 3 for s in students)
    assert any(s.username != s.username_key for s in students)
    usernames = [e.username for e in educators]
    assert len(set(usernames)) == len(usernames)
    assert all(u == u.lower() and u.count("@") == 1 and u.isascii() for u in usernames)
    assert all(e.username_key == e.username for e in educators)


def test_one_district_admin_is_assigned_to_every_school_and_each_school_has_one_admin(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a district seeded with five schools
    summary = seed(engine, schools=5)

    # when its administrators' schools are read
    with sessions() as session:
        rows = session.execute(
            select(Educator.username, EducatorSchool.school_id)
            .join(EducatorSchool, EducatorSchool.educator_id == Educator.id)
            .where(Educator.district_id == summary.district_id, Educator.educator_type == "Admin")
        ).all()
        schools = set(
            session.scalars(select(School.id).where(School.district_id == summary.district_id))
        )

    # then the district admin has every school and each other admin exactly one, all different
    schools_of: dict[str, set[int]] = {}
    for username, school_id in rows:
        schools_of.setdefault(username, set()).add(school_id)
    assert len(schools) == 5
    assert schools_of.pop(summary.district_admin) == schools
    assert sorted(schools_of) == sorted(summary.school_admins)
    assert all(len(assigned) == 1 for assigned in schools_of.values())
    assert set().union(*schools_of.values()) == schools


def test_every_teacher_teaches_one_to_three_classes_of_the_school_they_are_assigned_to(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district of several schools
    summary = seed(engine, schools=3)

    # when teachers' schools and classes are read
    with sessions() as session:
        teachers = {
            educator_id: username
            for educator_id, username in session.execute(
                select(Educator.id, Educator.username).where(
                    Educator.district_id == summary.district_id, Educator.educator_type == "Teacher"
                )
            )
        }
        school_of = {
            educator_id: school_id
            for educator_id, school_id in session.execute(
                select(EducatorSchool.educator_id, EducatorSchool.school_id).where(
                    EducatorSchool.educator_id.in_(teachers)
                )
            )
        }
        taught = session.execute(
            select(ClassEducator.educator_id, ClassGroup.school_id)
            .join(ClassGroup, ClassGroup.id == ClassEducator.class_id)
            .where(ClassGroup.district_id == summary.district_id)
        ).all()

    # then each class has a teacher of its school, and each teacher one to three classes
    assert sorted(teachers.values()) == sorted(summary.teachers)
    assert all(school_of[teacher] == school for teacher, school in taught)
    per_teacher = Counter(teacher for teacher, _ in taught)
    assert set(per_teacher) == set(teachers)
    assert set(per_teacher.values()) <= {1, 2, 3}


def test_class_names_are_unique_in_the_district_and_name_the_grade_and_the_teacher(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    summary = seed(engine, schools=3)

    # when its classes are read
    with sessions() as session:
        classes = list(
            session.scalars(select(ClassGroup).where(ClassGroup.district_id == summary.district_id))
        )

    # then names are unique case-insensitively, keyed lower-case, like "Grade 3 - Rivera - Room 12"
    assert len({c.name_key for c in classes}) == len(classes)
    assert all(c.name_key == c.name.lower() for c in classes)
    assert all(" - Room " in c.name for c in classes)
    assert any(c.name.startswith("Kindergarten") for c in classes)


def test_names_include_accents_and_apostrophes(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    summary = seed(engine)

    # when students' and educators' names are read
    with sessions() as session:
        students = students_of(session, summary.district_id)
        educators = list(
            session.scalars(select(Educator).where(Educator.district_id == summary.district_id))
        )
    names = [n for p in [*students, *educators] for n in (p.first_name, p.last_name)]

    # then some are accented and some have apostrophes, while usernames stay ASCII
    assert any(not name.isascii() for name in names)
    assert any("'" in name for name in names)
    assert all(s.username.isascii() and s.username.isalnum() for s in students)


def test_products_are_purchased_and_settings_are_set_only_where_access_is_given(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    summary = seed(engine)

    # when its products and students are read
    with sessions() as session:
        purchased = set(
            session.scalars(
                select(PurchasedProduct.product).where(
                    PurchasedProduct.district_id == summary.district_id
                )
            )
        )
        students = students_of(session, summary.district_id)
        class_products = set(
            session.scalars(
                select(ClassProduct.product)
                .join(ClassGroup, ClassGroup.id == ClassProduct.class_id)
                .where(ClassGroup.district_id == summary.district_id)
            )
        )

    # then several products are bought, used by students and classes, never unbought ones
    assert len(purchased) >= 3
    assert class_products and class_products <= purchased
    for product in Product:
        given = sum(getattr(s, product.access_attr) for s in students)
        assert given > 0 if product.code in purchased else given == 0, product
    # and a setting has a valid value exactly where a product using it is given
    for setting in PRODUCT_SETTINGS:
        users = [p for p in PRODUCT_SETTINGS if p.attr == setting.attr]
        for student in students:
            value = getattr(student, setting.attr)
            has_access = any(getattr(student, p.product.access_attr) for p in users)
            assert (value is not None) == has_access, (setting.attr, student.id)
            if value is not None and setting.kind == "minutes":
                assert SESSION_TIME_MIN <= value <= SESSION_TIME_MAX
            if value is not None and setting.kind == "choice":
                assert value in setting.choices


def test_most_students_have_demographics_and_some_none_and_external_ids_keep_leading_zeros(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    summary = seed(engine)

    # when its students are read
    with sessions() as session:
        students = students_of(session, summary.district_id)

    # then demographics are filled for most but not all, and external ids look like SIS ids
    filled = [s for s in students if s.birth_date is not None]
    assert 0.7 * STUDENTS <= len(filled) < STUDENTS
    assert all(s.gender in {"F", "M", "X"} and s.home_language for s in filled)
    assert any(s.gender is None and s.home_language is None for s in students)
    external_ids = [s.external_id for s in students]
    assert len(set(external_ids)) == STUDENTS
    assert any(e.startswith("0") for e in external_ids)
    assert all(e.isdigit() for e in external_ids)


def test_the_same_random_seed_gives_the_same_district_and_another_seed_a_different_one(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a district seeded with random seed 7
    first = seed(engine)
    with sessions() as session:
        before = identities(session, first.district_id)

    # when it is replaced by a seeding with the same seed, then by one with another seed
    same = seed(engine, replace=True)
    with sessions() as session:
        again = identities(session, same.district_id)
    other = seed(engine, replace=True, random_seed=8)
    with sessions() as session:
        changed = identities(session, other.district_id)

    # then the same seed gives the same usernames, and another seed other usernames
    assert again == before
    assert (same.district_admin, same.school_admins, same.teachers) == (
        first.district_admin,
        first.school_admins,
        first.teachers,
    )
    assert [i[:2] for i in changed] != [i[:2] for i in before]
    assert other.district_admin != first.district_admin or other.teachers != first.teachers


def test_seeding_an_existing_district_again_returns_created_false_and_changes_nothing(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given a seeded district
    first = seed(engine, schools=2)
    with sessions() as session:
        before = snapshot(session)

    # when it is seeded again, even with other arguments and the name in other case
    second = seed(engine, name=DISTRICT.upper(), students=50, random_seed=99)

    # then the stored district's summary comes back and nothing changed
    with sessions() as session:
        assert snapshot(session) == before
    assert second == SeedSummary(
        first.district_id,
        first.district_admin,
        first.school_admins,
        first.teachers,
        STUDENTS,
        created=False,
    )


def test_replace_deletes_the_district_and_seeds_it_again_leaving_other_districts_alone(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # given two seeded districts
    old = seed(engine)
    neighbour = seed(engine, name="Shelbyville Unified", students=100)
    with sessions() as session:
        neighbour_students = students_of(session, neighbour.district_id)
        neighbour_classes = class_memberships(session, neighbour.district_id)

    # when the first is replaced by a smaller one
    new = seed(engine, students=250, replace=True)

    # then only the new district bears its name, with 250 students and nothing left of the old
    with sessions() as session:
        assert session.get(District, old.district_id) is None
        assert len(students_of(session, new.district_id)) == 250
        assert len(school_of_each_student(session, new.district_id)) == 250
        assert session.scalar(select(func.count()).select_from(StudentSchool)) == 350
        assert (
            session.scalar(select(func.count()).where(Student.district_id == old.district_id)) == 0
        )
        # and the other district is as it was
        assert [s.id for s in students_of(session, neighbour.district_id)] == [
            s.id for s in neighbour_students
        ]
        assert class_memberships(session, neighbour.district_id) == neighbour_classes
    assert new.created and new.district_id != old.district_id


def test_progress_is_reported_after_every_chunk_of_students(engine: Engine) -> None:
    # given a progress callback
    reported: list[int] = []

    # when a district of 12,000 students is seeded
    seed(engine, students=12_000, progress=reported.append)

    # then it heard of every chunk of 5,000 and of the last students
    assert reported == [5_000, 10_000, 12_000]


@pytest.mark.parametrize("schools", [1, 3, 7])
def test_every_grade_is_taught_and_schools_have_unique_names(
    engine: Engine, sessions: sessionmaker[Session], schools: int
) -> None:
    # given a district seeded with some number of schools
    summary = seed(engine, schools=schools)

    # when its schools and their students' grades are read
    with sessions() as session:
        names = list(
            session.scalars(select(School.name).where(School.district_id == summary.district_id))
        )
        grades = set(
            session.scalars(select(Student.grade).where(Student.district_id == summary.district_id))
        )

    # then every grade PK-12 has students, and school names are unique
    assert len(names) == len(set(names)) == schools
    assert grades == GRADES
    assert len(summary.school_admins) == schools
