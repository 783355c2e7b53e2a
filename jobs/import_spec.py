"""What differs between importing students, educators and classes/groups, declared once.

Each entity names its table, how to load the stored records a batch matches (the export's
rows, so an imported value is compared with exactly what the export wrote), its
multi-valued references and the columns that must be unique in the district.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.columns import Entity
from schemas.scope import RosterFilter, Scope
from storage import classes, educators, references, students
from storage.listing import LinkedNames, with_linked_names
from storage.models import (
    Base,
    ClassEducator,
    ClassGroup,
    ClassProduct,
    ClassStudent,
    Educator,
    EducatorSchool,
    School,
    Student,
    StudentSchool,
)
from storage.references import Reference

Resolver = Callable[[Session, int, set[str]], dict[str, Reference]]
Reachable = Callable[[Session, Scope, frozenset[int]], frozenset[int]]
"""Which of the named people (by id) the requester may change."""


@dataclass(frozen=True)
class Link:
    """A cell naming other records: `attr` of the row, stored in `table` as pairs
    (`owner_column` = this record, `other_column` = the named record)."""

    attr: str
    noun: str
    resolve: Resolver | None  # None: the cell holds values, not names (a class's products)
    table: type[Base] | None  # None: a foreign key of the record itself (a class's school)
    owner_column: str = ""
    other_column: str = ""
    reachable: Reachable | None = None  # people: asked of the roster (schools, classes: plan)


@dataclass(frozen=True)
class Unique:
    """A column whose value no two records of the district may share (case-insensitively)."""

    attr: str
    header: str
    key_column: Any
    claim: str  # the ImportRowResult column that records it: claimed_name | claimed_external_id


@dataclass(frozen=True)
class EntitySpec:
    entity: Entity
    noun: str
    model: type[Base]
    load: Loader
    links: tuple[Link, ...]
    unique: tuple[Unique, ...]
    keyed: dict[str, str]  # attr -> its lower-cased twin column (username -> username_key)

    @cached_property
    def link_attrs(self) -> frozenset[str]:
        """The attributes that are links, not columns of the record itself."""
        return frozenset(link.attr for link in self.links)

    @cached_property
    def link_tables(self) -> tuple[Link, ...]:
        """The links kept in a link table (a class's school is a column of its own)."""
        return tuple(link for link in self.links if link.table is not None)


Loader = Callable[[Session, Scope, tuple[int, ...]], Iterable[dict[str, Any]]]


def _stored(ids: tuple[int, ...]) -> RosterFilter:
    """The records an import row names, deactivated or not: a Database ID of a deactivated
    record still names it (it is edited, not created again)."""
    return RosterFilter(ids=ids, include_inactive=True)


def _loader(stream_rows: Any) -> Loader:
    def load(session: Session, scope: Scope, ids: tuple[int, ...]) -> Iterable[dict[str, Any]]:
        # a batch's ids bound the rows: read them at once (`storage.listing.stream`)
        return stream_rows(session, scope, _stored(ids), batch_rows=0)  # type: ignore[no-any-return]

    return load


_LINKED_NAMES = {"schools": School.name, "classes": ClassGroup.name}


def _people_loader(model: Any, export_conditions: Any, links: tuple[Link, ...]) -> Loader:
    """The export's rows of students or educators (`stream_rows`: every column but the
    password hash, with the school and class names), read for a batch in a few queries
    (`storage.listing.with_linked_names`), the lists through the entity's `links`."""
    columns = [column for column in model.__table__.c if column.name != "password_hash"]
    lists: dict[str, LinkedNames] = {
        link.attr: (
            getattr(link.table, link.owner_column),
            getattr(link.table, link.other_column),
            _LINKED_NAMES[link.attr],
        )
        for link in links
    }

    def load(session: Session, scope: Scope, ids: tuple[int, ...]) -> Iterable[dict[str, Any]]:
        conditions = export_conditions(scope, _stored(ids))
        return with_linked_names(session, select(*columns).where(*conditions), lists)

    return load


_STUDENT_LINKS = (
    Link("schools", "school", references.schools, StudentSchool, "student_id", "school_id"),
    Link("classes", "class/group", references.classes, ClassStudent, "student_id", "class_id"),
)
_EDUCATOR_LINKS = (
    Link("schools", "school", references.schools, EducatorSchool, "educator_id", "school_id"),
    Link("classes", "class/group", references.classes, ClassEducator, "educator_id", "class_id"),
)


SPECS: dict[Entity, EntitySpec] = {
    Entity.STUDENTS: EntitySpec(
        entity=Entity.STUDENTS,
        noun="student",
        model=Student,
        load=_people_loader(Student, students.export_conditions, _STUDENT_LINKS),
        links=_STUDENT_LINKS,
        unique=(
            Unique("username", "Username", Student.username_key, "claimed_name"),
            Unique(
                "external_id", "External Assigned ID", Student.external_id, "claimed_external_id"
            ),
        ),
        keyed={"username": "username_key"},
    ),
    Entity.EDUCATORS: EntitySpec(
        entity=Entity.EDUCATORS,
        noun="educator",
        model=Educator,
        load=_people_loader(Educator, educators.export_conditions, _EDUCATOR_LINKS),
        links=_EDUCATOR_LINKS,
        unique=(Unique("username", "Username", Educator.username_key, "claimed_name"),),
        keyed={"username": "username_key"},
    ),
    Entity.CLASSES: EntitySpec(
        entity=Entity.CLASSES,
        noun="class/group",
        model=ClassGroup,
        load=_loader(classes.stream_rows),
        links=(
            Link("school", "school", references.schools, None),
            Link(
                "educators",
                "educator",
                references.educators,
                ClassEducator,
                "class_id",
                "educator_id",
                educators.reachable,
            ),
            Link(
                "students",
                "student",
                references.students,
                ClassStudent,
                "class_id",
                "student_id",
                students.reachable,
            ),
            Link("products", "product", None, ClassProduct, "class_id", "product"),
        ),
        unique=(Unique("name", "Class/Group Name", ClassGroup.name_key, "claimed_name"),),
        keyed={"name": "name_key"},
    ),
}
