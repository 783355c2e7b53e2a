"""Queries of students: scope, export filters, the streamed export rows and their COPY."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, true
from sqlalchemy.orm import Session

from schemas.columns import Column
from schemas.scope import Role, RosterFilter, Scope
from storage import references
from storage.export_copy import CSV_RECORDS, CopyShape
from storage.export_lists import copy_people
from storage.listing import People, among, contains, count_where, stream_people
from storage.models import ClassEducator, ClassStudent, Student, StudentSchool

STUDENTS = People(
    Student,
    schools=(StudentSchool.school_id, StudentSchool.student_id),
    classes=(ClassStudent.class_id, ClassStudent.student_id),
    unexported=frozenset({"password_hash"}),
)
"""Students as the export reads them (`storage.listing.People`)."""


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """Students the requester may see: the district, their schools' students, or the
    students of the classes a teacher is assigned to."""
    if scope.role is Role.DISTRICT_ADMIN:
        return true()
    if scope.role is Role.SCHOOL_ADMIN:
        return exists().where(
            StudentSchool.student_id == Student.id, StudentSchool.school_id.in_(scope.school_ids)
        )
    return exists().where(
        ClassStudent.student_id == Student.id,
        ClassEducator.class_id == ClassStudent.class_id,
        ClassEducator.educator_id == scope.educator_id,
    )


def matching(roster_filter: RosterFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if roster_filter.grade is not None:
        conditions.append(Student.grade == roster_filter.grade)
    if roster_filter.school_id is not None:
        conditions.append(
            exists().where(
                StudentSchool.student_id == Student.id,
                StudentSchool.school_id == roster_filter.school_id,
            )
        )
    if roster_filter.class_id is not None:
        conditions.append(
            exists().where(
                ClassStudent.student_id == Student.id,
                ClassStudent.class_id == roster_filter.class_id,
            )
        )
    if roster_filter.product is not None:
        conditions.append(getattr(Student, roster_filter.product.access_attr).is_(True))
    if roster_filter.search:
        conditions.append(or_(*(contains(column, roster_filter.search) for column in _SEARCHED)))
    if roster_filter.ids:
        conditions.append(among(Student.id, roster_filter.ids))
    return conditions


_SEARCHED = (Student.first_name, Student.last_name, Student.username, Student.external_id)


def reachable(session: Session, scope: Scope, ids: Collection[int]) -> frozenset[int]:
    """Which of these students the requester may change: those their export would list."""
    if scope.role is Role.DISTRICT_ADMIN:
        return frozenset(ids)
    return references.within(session, Student.id, in_scope(scope), ids)


def export_conditions(scope: Scope, roster_filter: RosterFilter) -> list[ColumnElement[bool]]:
    """The rows an export lists (every format reads them): the district's, in the
    requester's scope, matching the filters, and active unless the filter includes the
    deactivated ones."""
    conditions = [Student.district_id == scope.district_id, in_scope(scope)]
    if not roster_filter.include_inactive:
        conditions.append(Student.active.is_(True))
    return [*conditions, *matching(roster_filter)]


def count_rows(session: Session, scope: Scope, roster_filter: RosterFilter) -> int:
    return count_where(session, Student, export_conditions(scope, roster_filter))


def stream_rows(
    session: Session, scope: Scope, roster_filter: RosterFilter, *, batch_rows: int
) -> Iterator[dict[str, Any]]:
    """Students with their school and class names, in Database ID order, streamed."""
    conditions = export_conditions(scope, roster_filter)
    return stream_people(session, STUDENTS, conditions, batch_rows=batch_rows)


def copy_rows(
    session: Session,
    scope: Scope,
    roster_filter: RosterFilter,
    columns: Sequence[Column],
    shape: CopyShape = CSV_RECORDS,
) -> AbstractContextManager[Iterator[memoryview]]:
    """The same students as `stream_rows`, as CSV records rendered by Postgres
    (`storage.export_copy`), their school and class names grouped for all of them at once
    (`storage.export_lists`)."""
    return copy_people(
        session,
        STUDENTS,
        columns,
        scope=scope,
        conditions=export_conditions(scope, roster_filter),
        narrowed=bool(matching(roster_filter)),
        shape=shape,
    )
