"""Queries of the OneRoster export: each table's rows as the cells its CSV holds.

Every file of the set is one or two selects (`parts`) whose columns are the table's cells in
header order, each cell text or NULL (never an empty text: COPY would quote it, csv does
not), so the same select is either streamed and written by Python's csv module or run as a
`COPY … (FORMAT csv)` on Postgres, and both write the same bytes.

The rows are those of the requester's scope, by the same conditions as the CSV exports
(`storage.students.export_conditions`…): a school admin's schools, their students,
educators and classes; deactivated records only when the filter includes them. A student's
or educator's `orgSourcedIds` lists their schools inside the set (the district when they
have none), and an enrollment is written only when both its class and its user are in the
set, so every reference resolves within the files.

sourcedIds: the one an SIS gave the record (`sourced_id`), else the service's own,
`<kind>-<Database ID>`; a class's course is `course-<class id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, cast, func, literal, null, select
from sqlalchemy.orm import Session

from schemas.oneroster import ACTIVE, GRADE_CODES, TOBEDELETED
from schemas.scope import Role, RosterFilter, Scope
from storage import classes, educators, students
from storage.models import (
    ClassEducator,
    ClassGroup,
    ClassStudent,
    District,
    Educator,
    EducatorSchool,
    School,
    Student,
    StudentSchool,
)


@dataclass(frozen=True)
class SetContext:
    """What every row of one export shares: who asks, whether deactivated records come
    too, the rows' `dateLastModified`, and the district's and the session's sourcedIds."""

    scope: Scope
    include_inactive: bool
    modified: str
    district_sourced_id: str
    session_sourced_id: str

    @property
    def roster_filter(self) -> RosterFilter:
        return RosterFilter(include_inactive=self.include_inactive)


def district_sourced_id(session: Session, district_id: int) -> str:
    district = session.get(District, district_id)
    stored = district.sourced_id if district is not None else None
    return stored or f"district-{district_id}"


def sourced(model: Any, kind: str) -> ColumnElement[str]:
    """The record's sourcedId: the SIS's, else `<kind>-<id>`."""
    return func.coalesce(model.sourced_id, service_id(kind, model.id))


def service_id(kind: str, record_id: Any) -> ColumnElement[str]:
    return literal(f"{kind}-", String) + cast(record_id, String)


def fixed(value: str | None) -> ColumnElement[Any]:
    return null() if value is None else literal(value, String)


def status(model: Any) -> ColumnElement[str]:
    return case((model.active.is_(True), ACTIVE), else_=TOBEDELETED)


def _cells(*columns: Any) -> list[ColumnElement[Any]]:
    """The select list of a file's row: each cell NULL when empty (see the module's doc)."""
    return [func.nullif(column, "").label(f"c{n}") for n, column in enumerate(columns)]


def orgs(ctx: SetContext) -> list[Select[Any]]:
    """The district, then its schools in the set."""
    district = select(
        *_cells(
            fixed(ctx.district_sourced_id),
            fixed(ACTIVE),
            fixed(ctx.modified),
            District.name,
            fixed("district"),
            null(),
            null(),
        )
    ).where(District.id == ctx.scope.district_id)
    schools = select(
        *_cells(
            sourced(School, "school"),
            fixed(ACTIVE),
            fixed(ctx.modified),
            School.name,
            fixed("school"),
            null(),
            fixed(ctx.district_sourced_id),
        )
    ).where(*_schools_in_set(ctx.scope))
    return [district, schools.order_by(School.id)]


def _schools_in_set(scope: Scope) -> list[ColumnElement[bool]]:
    conditions = [School.district_id == scope.district_id]
    if scope.role is not Role.DISTRICT_ADMIN:
        conditions.append(School.id.in_(sorted(scope.school_ids)))
    return conditions


def academic_sessions(ctx: SetContext, year: int) -> list[Select[Any]]:
    """One `schoolYear` session, July to June, named by the year it ends in."""
    row = select(
        *_cells(
            fixed(ctx.session_sourced_id),
            fixed(ACTIVE),
            fixed(ctx.modified),
            fixed(f"{year - 1}-{year}"),
            fixed("schoolYear"),
            fixed(f"{year - 1}-07-01"),
            fixed(f"{year}-06-30"),
            null(),
            fixed(str(year)),
        )
    )
    return [row]


def _classes_in_set(ctx: SetContext) -> Select[Any]:
    conditions = classes.export_conditions(ctx.scope, ctx.roster_filter)
    return (
        select()
        .select_from(ClassGroup)
        .join(School, School.id == ClassGroup.school_id)
        .where(*conditions)
    )


def courses(ctx: SetContext) -> list[Select[Any]]:
    """One course per class, titled as the class."""
    row = _classes_in_set(ctx).add_columns(
        *_cells(
            service_id("course", ClassGroup.id),
            status(ClassGroup),
            fixed(ctx.modified),
            fixed(ctx.session_sourced_id),
            ClassGroup.name,
            ClassGroup.external_id,
            null(),
            sourced(School, "school"),
            null(),
            null(),
        )
    )
    return [row.order_by(ClassGroup.id)]


def class_rows(ctx: SetContext) -> list[Select[Any]]:
    """Classes: `classCode` the External Assigned ID, `scheduled`, in the school year."""
    row = _classes_in_set(ctx).add_columns(
        *_cells(
            sourced(ClassGroup, "class"),
            status(ClassGroup),
            fixed(ctx.modified),
            ClassGroup.name,
            null(),
            service_id("course", ClassGroup.id),
            ClassGroup.external_id,
            fixed("scheduled"),
            null(),
            sourced(School, "school"),
            fixed(ctx.session_sourced_id),
            null(),
            null(),
            null(),
        )
    )
    return [row.order_by(ClassGroup.id)]


def users(ctx: SetContext) -> list[Select[Any]]:
    """Students (role `student`, CEDS grades), then educators (`teacher` or
    `administrator`, email = username). Passwords are never written."""
    return [_students(ctx), _educators(ctx)]


def _org_ids(ctx: SetContext, link: Any, owner: Any) -> Any:
    """(owner id, comma-joined sourcedIds of its schools in the set, by school id) for
    every owner at once: one derived table joined on the owner's id."""
    school = sourced(School, "school")
    ordered = (
        select(owner.label("owner_id"), school.label("org"))
        .select_from(link)
        .join(School, School.id == link.school_id)
        .where(*_schools_in_set(ctx.scope))
        .order_by(owner, School.id)
        .subquery()
    )
    return (
        select(ordered.c.owner_id, func.aggregate_strings(ordered.c.org, ",").label("orgs"))
        .group_by(ordered.c.owner_id)
        .subquery()
    )


def _grade() -> ColumnElement[Any]:
    return case(*((Student.grade == grade, code) for grade, code in GRADE_CODES.items()))


def _enabled(model: Any) -> ColumnElement[str]:
    return case((model.active.is_(True), "true"), else_="false")


def _sis_ids(external_id: Any) -> ColumnElement[Any]:
    """`{SIS:<External Assigned ID>}`, NULL without one."""
    ids: ColumnElement[Any] = literal("{SIS:", String) + func.nullif(external_id, "")
    return ids + literal("}", String)


def _students(ctx: SetContext) -> Select[Any]:
    orgs = _org_ids(ctx, StudentSchool, StudentSchool.student_id)
    row = select(
        *_cells(
            sourced(Student, "student"),
            status(Student),
            fixed(ctx.modified),
            _enabled(Student),
            func.coalesce(orgs.c.orgs, ctx.district_sourced_id),
            fixed("student"),
            Student.username,
            _sis_ids(Student.external_id),
            Student.first_name,
            Student.last_name,
            null(),
            Student.external_id,
            null(),
            null(),
            null(),
            null(),
            _grade(),
            null(),
        )
    ).select_from(Student)
    row = row.outerjoin(orgs, orgs.c.owner_id == Student.id)
    conditions = students.export_conditions(ctx.scope, ctx.roster_filter)
    return row.where(*conditions).order_by(Student.id)


def _educators(ctx: SetContext) -> Select[Any]:
    orgs = _org_ids(ctx, EducatorSchool, EducatorSchool.educator_id)
    role = case((Educator.educator_type == "Admin", "administrator"), else_="teacher")
    row = select(
        *_cells(
            sourced(Educator, "educator"),
            status(Educator),
            fixed(ctx.modified),
            _enabled(Educator),
            func.coalesce(orgs.c.orgs, ctx.district_sourced_id),
            role,
            Educator.username,
            _sis_ids(Educator.external_id),
            Educator.first_name,
            Educator.last_name,
            null(),
            Educator.external_id,
            Educator.username,
            null(),
            null(),
            null(),
            null(),
            null(),
        )
    ).select_from(Educator)
    row = row.outerjoin(orgs, orgs.c.owner_id == Educator.id)
    conditions = educators.export_conditions(ctx.scope, ctx.roster_filter)
    return row.where(*conditions).order_by(Educator.id)


def enrollments(ctx: SetContext) -> list[Select[Any]]:
    """Class membership: the classes' educators (`teacher`, primary), then their students;
    only where both the class and the user are in the set."""
    return [
        _enrolled(ctx, ClassEducator, Educator, "educator", "teacher"),
        _enrolled(ctx, ClassStudent, Student, "student", "student"),
    ]


def _enrolled(ctx: SetContext, link: Any, model: Any, kind: str, role: str) -> Select[Any]:
    user_id = getattr(link, f"{kind}_id")
    module = students if model is Student else educators
    enrollment_id = (
        service_id("enrollment", link.class_id)
        + literal(f"-{kind}-", String)
        + cast(user_id, String)
    )
    row = (
        _classes_in_set(ctx)
        .add_columns(
            *_cells(
                enrollment_id,
                fixed(ACTIVE),
                fixed(ctx.modified),
                sourced(ClassGroup, "class"),
                sourced(School, "school"),
                sourced(model, kind),
                fixed(role),
                fixed("true" if role == "teacher" else "false"),
                null(),
                null(),
            )
        )
        .join(link, link.class_id == ClassGroup.id)
        .join(model, model.id == user_id)
        .where(*module.export_conditions(ctx.scope, ctx.roster_filter))
    )
    return row.order_by(link.class_id, user_id)


def count_rows(session: Session, parts: list[Select[Any]]) -> int:
    """How many rows the parts of one file hold."""
    total = 0
    for part in parts:
        counted = select(func.count()).select_from(part.order_by(None).subquery())
        total += session.scalar(counted) or 0
    return total
