"""Names in multi-valued cells resolved to records of one district, a batch at a time.

Keys are case-folded names (schools, classes) or usernames (educators, students); each
resolver answers only the keys it found, so the caller can name the unknown ones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, func, select
from sqlalchemy.orm import Session

from storage.models import ClassEducator, ClassGroup, Educator, School, Student


@dataclass(frozen=True)
class Reference:
    """A record a cell named: its id, and the school it belongs to where that matters."""

    id: int
    school_id: int | None = None


def name_key(name: str) -> str:
    """How names and usernames are compared: lower-cased like the stored `*_key` columns."""
    return name.strip().lower()


def schools(session: Session, district_id: int, keys: Collection[str]) -> dict[str, Reference]:
    if not keys:
        return {}
    statement = select(School.id, School.name).where(
        School.district_id == district_id, func.lower(School.name).in_(list(keys))
    )
    return {
        name_key(name): Reference(school_id, school_id)
        for school_id, name in session.execute(statement)
    }


def classes(session: Session, district_id: int, keys: Collection[str]) -> dict[str, Reference]:
    if not keys:
        return {}
    statement = select(ClassGroup.id, ClassGroup.name_key, ClassGroup.school_id).where(
        ClassGroup.district_id == district_id, ClassGroup.name_key.in_(list(keys))
    )
    return {
        key: Reference(class_id, school_id)
        for class_id, key, school_id in session.execute(statement)
    }


def educators(session: Session, district_id: int, keys: Collection[str]) -> dict[str, Reference]:
    if not keys:
        return {}
    statement = select(Educator.id, Educator.username_key).where(
        Educator.district_id == district_id, Educator.username_key.in_(list(keys))
    )
    return {key: Reference(educator_id) for educator_id, key in session.execute(statement)}


def students(session: Session, district_id: int, keys: Collection[str]) -> dict[str, Reference]:
    if not keys:
        return {}
    statement = select(Student.id, Student.username_key).where(
        Student.district_id == district_id, Student.username_key.in_(list(keys))
    )
    return {key: Reference(student_id) for student_id, key in session.execute(statement)}


def taught_class_ids(session: Session, educator_id: int) -> frozenset[int]:
    """The classes a teacher is assigned to: the only ones they may add students to."""
    statement = select(ClassEducator.class_id).where(ClassEducator.educator_id == educator_id)
    return frozenset(session.scalars(statement))


def within(
    session: Session, id_column: Any, condition: Any, ids: Collection[int]
) -> frozenset[int]:
    """The ids among `ids` whose record meets `condition` (a requester's reach), asked in
    chunks so that a batch of classes naming thousands of members stays under the driver's
    parameter limit."""
    wanted, found = sorted(ids), set[int]()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(session.scalars(select(id_column).where(id_column.in_(chunk), condition)))
    return frozenset(found)


_CHUNK = 10_000


def holders(
    session: Session, key_column: Any, district_column: Any, district_id: int, keys: Collection[str]
) -> dict[str, int]:
    """Which record of the district already holds each of `keys` in a unique column."""
    if not keys:
        return {}
    id_column = key_column.class_.id
    statement = select(key_column, id_column).where(
        district_column == district_id, _one_of(session, key_column, keys)
    )
    return {key: record_id for key, record_id in session.execute(statement)}


def _one_of(session: Session, column: Any, keys: Collection[str]) -> Any:
    """`column IN (keys)`; on Postgres as `= ANY(array)`, one parameter whatever the count,
    so a batch's thousand keys are not a thousand placeholders to send and parse again."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(list(keys))
    return column == any_(bindparam("keys", list(keys), type_=ARRAY(String)))
