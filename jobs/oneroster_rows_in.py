"""OneRoster rows as the entities' cells, and the rows the entities' checks do not cover.

Classes and users become rows of the Classes/Groups, Students and Educators files
(`entity_cells`), so every rule of the CSV import applies to them unchanged (scope,
uniqueness, codecs, dry run, history): a sourcedId becomes the Database ID it names
(`storage.oneroster_refs.resolve`), a reference becomes the name the CSV cell holds (a
school's name), `status` becomes the `Status` cell. Orgs (schools) and enrollments (class
membership) have no CSV file of their own; `org_results` and `enrollment_results` decide
and write them here, one result per row, under the same scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.import_rows import RowOutcome
from schemas.columns import Column, Entity, columns_for, required_columns
from schemas.oneroster import TOBEDELETED
from schemas.scope import Role, Scope
from storage import classes, educators, oneroster_refs, students
from storage.models import ClassEducator, ClassGroup, ClassStudent, Educator, School, Student

Row = tuple[int, dict[str, str]]
"""A row's number in the job (`jobs.oneroster_in.number`) and its cells by spec column."""

Problems = list[tuple[str, str]]
"""(the OneRoster column, the problem) of a translated row."""

STUDENT_ROLES = ("student",)
EDUCATOR_ROLES = {"teacher": "Teacher", "administrator": "Admin"}

KIND = {Entity.STUDENTS: "student", Entity.EDUCATORS: "educator", Entity.CLASSES: "class"}
MODEL: dict[Entity, Any] = {
    Entity.STUDENTS: Student,
    Entity.EDUCATORS: Educator,
    Entity.CLASSES: ClassGroup,
}


def deactivating(cells: dict[str, str]) -> bool:
    return cells.get("status", "").strip().lower() == TOBEDELETED


def status_cell(cells: dict[str, str]) -> str:
    return "Inactive" if deactivating(cells) else "Active"


def entity_columns(entity: Entity, *, deactivation: bool) -> tuple[Column, ...]:
    """The columns a translated row fills: the entity's required ones and Status; a row
    that only deactivates fills its Database ID and Status (the rest left as stored)."""
    status = next(c for c in _all_columns(entity) if c.attr == "active")
    required = required_columns(entity)
    if deactivation:
        return (required[0], status)
    extra = tuple(c for c in _all_columns(entity) if c.attr == "external_id" and not c.required)
    return (*required, *extra, status)


def _all_columns(entity: Entity) -> tuple[Column, ...]:
    return columns_for(entity, ())


@dataclass
class Translated:
    """A row as the entity's cells, with the problems found translating it."""

    row: int
    cells: list[str]
    problems: Problems = field(default_factory=list)


@dataclass
class References:
    """sourcedIds resolved for one batch: record ids by kind, school names by id."""

    ids: dict[str, dict[str, int]] = field(default_factory=dict)
    school_names: dict[int, str] = field(default_factory=dict)

    def find(self, kind: str, sourced_id: str) -> int | None:
        return self.ids.get(kind, {}).get(sourced_id)


def references(
    session: Session,
    district_id: int,
    wanted: dict[str, set[str]],
    matched: dict[str, dict[str, int]] | None = None,
) -> References:
    """Resolve the sourcedIds a batch names, by kind (`school`, `student`…): by the roster,
    else by what this run `matched` otherwise (`jobs.oneroster_apply.SectionContext`)."""
    models = {"school": School, "student": Student, "educator": Educator, "class": ClassGroup}
    found = References()
    for kind, sourced_ids in wanted.items():
        ids = oneroster_refs.resolve(session, models[kind], kind, district_id, sourced_ids)
        earlier = (matched or {}).get(kind, {})
        found.ids[kind] = {sid: earlier[sid] for sid in sourced_ids if sid in earlier} | ids
    school_ids = found.ids.get("school", {}).values()
    found.school_names = oneroster_refs.names_of(session, School.name, school_ids)
    return found


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(",") if part.strip()]


def wanted_by(entity: Entity, rows: Sequence[Row]) -> dict[str, set[str]]:
    """The sourcedIds the rows name, by kind: their own, and the schools they point at."""
    own = {cells["sourcedId"] for _, cells in rows}
    schools: set[str] = set()
    for _, cells in rows:
        if entity is Entity.CLASSES:
            schools.add(cells.get("schoolSourcedId", ""))
        else:
            schools.update(_split(cells.get("orgSourcedIds", "")))
    return {KIND[entity]: own, "school": schools - {""}}


def entity_cells(
    entity: Entity, rows: Sequence[Row], refs: References, *, deactivation: bool
) -> list[Translated]:
    translate = _TRANSLATORS[entity]
    out = []
    for number, cells in rows:
        record_id = refs.find(KIND[entity], cells["sourcedId"])
        translated = Translated(number, [str(record_id or "")])
        if deactivation:
            if record_id is None:
                translated.problems.append(("sourcedId", unknown(KIND[entity], cells["sourcedId"])))
            translated.cells.append("Inactive")
        else:
            translated.cells += translate(cells, refs, translated.problems)
            translated.cells.append(status_cell(cells))
        out.append(translated)
    return out


def unknown(kind: str, sourced_id: str) -> str:
    return f"no {kind} {sourced_id!r} is in this file set or the roster."


def _school_names(cell: str, refs: References, problems: Problems, column: str) -> str:
    names = []
    for sourced_id in _split(cell):
        school_id = refs.find("school", sourced_id)
        if school_id is None:
            problems.append((column, unknown("school", sourced_id)))
        else:
            names.append(refs.school_names[school_id])
    return ";".join(names)


def _student(cells: dict[str, str], refs: References, problems: Problems) -> list[str]:
    identifier = cells.get("identifier") or _sis_id(cells.get("userIds", "")) or cells["sourcedId"]
    grade = (_split(cells.get("grades", "")) or [""])[0]
    orgs = _school_names(cells.get("orgSourcedIds", ""), refs, problems, "orgSourcedIds")
    # First Name, Last Name, Username, Password, External Assigned ID, Grade, Organizations
    return [
        cells.get("givenName", ""),
        cells.get("familyName", ""),
        cells.get("username", ""),
        cells.get("password", ""),
        identifier,
        grade,
        orgs,
    ]


def _sis_id(user_ids: str) -> str:
    """The id of `{SIS:123}` in a userIds cell (`{type:id}` pairs, comma-separated)."""
    for part in _split(user_ids):
        kind, _, value = part.strip("{}").partition(":")
        if kind.strip().upper() == "SIS" and value.strip():
            return value.strip()
    return ""


def _educator(cells: dict[str, str], refs: References, problems: Problems) -> list[str]:
    orgs = _school_names(cells.get("orgSourcedIds", ""), refs, problems, "orgSourcedIds")
    # First Name, Last Name, Username, Educator Type, Organizations, External Assigned ID
    return [
        cells.get("givenName", ""),
        cells.get("familyName", ""),
        cells.get("email") or cells.get("username", ""),
        EDUCATOR_ROLES.get(cells.get("role", "").strip().lower(), ""),
        orgs,
        cells.get("identifier", "") or _sis_id(cells.get("userIds", "")),
    ]


def _class(cells: dict[str, str], refs: References, problems: Problems) -> list[str]:
    school = _school_names(cells.get("schoolSourcedId", ""), refs, problems, "schoolSourcedId")
    # Class/Group Name, Organization, External Assigned ID
    return [cells.get("title", ""), school, cells.get("classCode", "")]


_TRANSLATORS: dict[
    Entity, Callable[[dict[str, str], References, list[tuple[str, str]]], list[str]]
] = {
    Entity.STUDENTS: _student,
    Entity.EDUCATORS: _educator,
    Entity.CLASSES: _class,
}


@dataclass(frozen=True)
class Result:
    """A row these rules decided: its number, outcome, problems and the record it names."""

    row: int
    outcome: RowOutcome
    errors: tuple[str, ...] = ()
    record_id: int | None = None


def user_model(role: str) -> tuple[Any, str, Any, str] | None:
    """(model, kind, link table, its column) of an enrollment's role; None for roles the
    roster does not hold (aide, parent…)."""
    role = role.strip().lower()
    if role in STUDENT_ROLES:
        return Student, "student", ClassStudent, "student_id"
    if role in EDUCATOR_ROLES:
        return Educator, "educator", ClassEducator, "educator_id"
    return None


def reachable_users(session: Session, scope: Scope, model: Any, ids: set[int]) -> frozenset[int]:
    if model is Student:
        return students.reachable(session, scope, ids)
    return educators.reachable(session, scope, ids)


def reachable_classes(session: Session, scope: Scope, ids: set[int]) -> set[int]:
    if scope.role is Role.DISTRICT_ADMIN or not ids:
        return set(ids)
    statement = select(ClassGroup.id).where(ClassGroup.id.in_(sorted(ids)), classes.in_scope(scope))
    return set(session.scalars(statement))
