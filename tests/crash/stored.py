"""Reading a roster and an import's traces back, to compare an interrupted run with an
uninterrupted one on a twin roster.

Rows are streamed in a stable order (by username, then by what they name) and compared in
step, so a 200,000-student roster is never held twice in memory. A student created by the
import gets a Database ID that depends on the run (a killed batch uses up sequence values),
so created students are compared by username and their ids left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from jobs.passwords import verify_password
from storage.models import (
    ClassGroup,
    ClassStudent,
    ImportChange,
    ImportRowResult,
    School,
    Student,
    StudentSchool,
)

STORED = [
    column
    for column in Student.__table__.c
    if column.name not in ("id", "password_hash", "district_id")
]
"""Every stored field of a student but the ones that differ between two copies by design."""


def last_student_id(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.max(Student.id))) or 0


def students(engine: Engine, district_id: int, *, seeded_up_to: int) -> Iterator[tuple[Any, ...]]:
    """Each student's stored fields, whether it has a password, and its Database ID unless
    the import created it (ids above `seeded_up_to`)."""
    statement = (
        select(*STORED, Student.password_hash.is_not(None), Student.id)
        .where(Student.district_id == district_id)
        .order_by(Student.username_key)
    )
    with Session(engine) as session:
        for row in session.execute(statement.execution_options(yield_per=2000)):
            *fields, has_password, record_id = row
            yield (*fields, has_password, None if record_id > seeded_up_to else record_id)


def memberships(engine: Engine, district_id: int) -> Iterator[tuple[str, str, str]]:
    """(username, "school" or "class", name) for every school and class of every student."""
    schools = (
        select(Student.username_key, School.name)
        .join(StudentSchool, StudentSchool.student_id == Student.id)
        .join(School, School.id == StudentSchool.school_id)
        .order_by(Student.username_key, School.name)
    )
    classes = (
        select(Student.username_key, ClassGroup.name)
        .join(ClassStudent, ClassStudent.student_id == Student.id)
        .join(ClassGroup, ClassGroup.id == ClassStudent.class_id)
        .order_by(Student.username_key, ClassGroup.name)
    )
    with Session(engine) as session:
        for kind, statement in (("school", schools), ("class", classes)):
            ordered = statement.where(Student.district_id == district_id)
            for username, name in session.execute(ordered.execution_options(yield_per=5000)):
                yield username, kind, name


def changes(engine: Engine, job_id: str) -> Iterator[tuple[Any, ...]]:
    """The audit trail of an import: (row, column, old value, new value), in row order."""
    statement = (
        select(
            ImportChange.row_number,
            ImportChange.column,
            ImportChange.old_value,
            ImportChange.new_value,
        )
        .where(ImportChange.job_id == job_id)
        .order_by(ImportChange.row_number, ImportChange.column)
    )
    with Session(engine) as session:
        yield from session.execute(statement.execution_options(yield_per=5000))


def row_results(engine: Engine, job_id: str) -> Iterator[tuple[Any, ...]]:
    """What the import decided for each row: (row, outcome, errors), in row order."""
    statement = (
        select(ImportRowResult.row_number, ImportRowResult.outcome, ImportRowResult.errors)
        .where(ImportRowResult.job_id == job_id)
        .order_by(ImportRowResult.row_number)
    )
    with Session(engine) as session:
        for row, outcome, errors in session.execute(statement.execution_options(yield_per=5000)):
            yield row, outcome, tuple(errors or ())


def repeated_changes(engine: Engine, job_id: str) -> list[tuple[int, str, int]]:
    """(row, column, times) of every value the import recorded more than once."""
    statement = (
        select(ImportChange.row_number, ImportChange.column, func.count())
        .where(ImportChange.job_id == job_id)
        .group_by(ImportChange.row_number, ImportChange.column)
        .having(func.count() > 1)
    )
    with Session(engine) as session:
        return [(row, column, times) for row, column, times in session.execute(statement)]


def students_named(engine: Engine, district_id: int, usernames: Iterable[str]) -> dict[str, int]:
    """How many students of the district hold each username (case-folded)."""
    keys = [username.lower() for username in usernames]
    statement = (
        select(Student.username_key, func.count())
        .where(Student.district_id == district_id, Student.username_key.in_(keys))
        .group_by(Student.username_key)
    )
    with Session(engine) as session:
        found = dict(session.execute(statement).all())
    return {key: found.get(key, 0) for key in keys}


def wrong_passwords(engine: Engine, district_id: int, passwords: dict[str, str]) -> list[str]:
    """The usernames whose stored hash does not match the password the file gave them."""
    statement = select(Student.username_key, Student.password_hash).where(
        Student.district_id == district_id, Student.username_key.in_(list(passwords))
    )
    with Session(engine) as session:
        hashes = dict(session.execute(statement).all())
    return sorted(
        name for name, secret in passwords.items() if not verify_password(secret, hashes.get(name))
    )


def differences(
    ours: Iterable[tuple[Any, ...]], theirs: Iterable[tuple[Any, ...]], *, limit: int = 5
) -> list[tuple[Any, Any]]:
    """The first `limit` pairs of rows where two ordered streams differ (empty when they are
    equal; a stream that ends first pairs with None)."""
    pairs = itertools.zip_longest(ours, theirs)
    return list(itertools.islice(((a, b) for a, b in pairs if a != b), limit))
