"""Queries of a OneRoster import: records by sourcedId, stored sourcedIds, schools, links.

A sourcedId names a record of the district by the one an SIS gave it (`sourced_id`, stored
by an earlier import), else by the service's own (`<kind>-<Database ID>`, the round trip of
its export: `storage.oneroster_rows`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from storage.models import District, Educator, EducatorSchool, School

_SERVICE_ID = re.compile(r"([a-z]+)-([1-9][0-9]{0,9})")


def service_id_of(sourced_id: str, kind: str) -> int | None:
    """The Database ID in a service sourcedId of this kind (`student-12` → 12), else None."""
    found = _SERVICE_ID.fullmatch(sourced_id)
    if found is None or found.group(1) != kind or int(found.group(2)) > 2**31 - 1:
        return None
    return int(found.group(2))


def resolve(
    session: Session, model: Any, kind: str, district_id: int, sourced_ids: Collection[str]
) -> dict[str, int]:
    """sourcedId → Database ID of the district's records of `model` it names."""
    wanted = sorted(set(sourced_ids))
    if not wanted:
        return {}
    statement = select(model.sourced_id, model.id).where(
        model.district_id == district_id, model.sourced_id.in_(wanted)
    )
    found: dict[str, int] = {sid: int(record_id) for sid, record_id in session.execute(statement)}
    service = {
        sid: record_id
        for sid in wanted
        if sid not in found and (record_id := service_id_of(sid, kind)) is not None
    }
    if service:
        existing = set(
            session.scalars(
                select(model.id).where(
                    model.district_id == district_id, model.id.in_(sorted(service.values()))
                )
            )
        )
        found |= {sid: record_id for sid, record_id in service.items() if record_id in existing}
    return found


def names_of(session: Session, column: Any, ids: Iterable[int]) -> dict[int, str]:
    """Database ID → a name column's value (a school's name, a username)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    model = column.class_
    statement = select(model.id, column).where(model.id.in_(wanted))
    return {int(record_id): str(name) for record_id, name in session.execute(statement)}


def store_sourced_ids(session: Session, model: Any, sourced: Mapping[int, str]) -> None:
    """Record the SIS's sourcedId of records an import created (one statement a batch)."""
    if sourced:
        rows = [{"id": record_id, "sourced_id": sid} for record_id, sid in sourced.items()]
        session.execute(update(model), rows)


def store_missing_sourced_id(session: Session, model: Any, record_id: int, sourced_id: str) -> None:
    """Give a record matched otherwise (a school by its name) the sourcedId, if it has none."""
    statement = update(model).where(model.id == record_id, model.sourced_id.is_(None))
    session.execute(statement.values(sourced_id=sourced_id))


def set_district_sourced_id(session: Session, district_id: int, sourced_id: str) -> None:
    statement = update(District).where(District.id == district_id, District.sourced_id.is_(None))
    session.execute(statement.values(sourced_id=sourced_id))


def school_by_name(session: Session, district_id: int, names: Collection[str]) -> dict[str, int]:
    """Lower-cased school name → id, for the given names."""
    wanted = sorted({name.lower() for name in names})
    if not wanted:
        return {}
    statement = select(School.name, School.id).where(School.district_id == district_id)
    return {
        name.lower(): int(i) for name, i in session.execute(statement) if name.lower() in wanted
    }


def create_school(session: Session, district_id: int, name: str, sourced_id: str) -> int:
    """A new school of the district, given to every district administrator (an `Admin`
    with every school), so that they stay district administrators."""
    admins = _district_admin_ids(session, district_id)
    school = School(district_id=district_id, name=name, sourced_id=sourced_id)
    session.add(school)
    session.flush()
    session.add_all(EducatorSchool(educator_id=admin, school_id=school.id) for admin in admins)
    return school.id


def _district_admin_ids(session: Session, district_id: int) -> list[int]:
    schools = select(func.count()).select_from(School).where(School.district_id == district_id)
    statement = (
        select(Educator.id)
        .join(EducatorSchool, EducatorSchool.educator_id == Educator.id)
        .where(Educator.district_id == district_id, Educator.educator_type == "Admin")
        .group_by(Educator.id)
        .having(func.count() == schools.scalar_subquery())
    )
    return list(session.scalars(statement))


def rename_school(session: Session, school_id: int, name: str) -> None:
    session.execute(update(School).where(School.id == school_id).values(name=name))


def existing_links(
    session: Session, link: Any, other: str, pairs: Collection[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which (class id, other id) pairs the link table holds."""
    if not pairs:
        return set()
    other_column = getattr(link, other)
    statement = select(link.class_id, other_column).where(
        tuple_(link.class_id, other_column).in_(sorted(pairs))
    )
    return {(int(a), int(b)) for a, b in session.execute(statement)}


def add_links(session: Session, link: Any, other: str, pairs: Collection[tuple[int, int]]) -> None:
    if pairs:
        rows = [{"class_id": a, other: b} for a, b in sorted(pairs)]
        session.execute(insert(link.__table__), rows)


def remove_links(
    session: Session, link: Any, other: str, pairs: Collection[tuple[int, int]]
) -> None:
    if pairs:
        other_column = getattr(link, other)
        session.execute(delete(link).where(tuple_(link.class_id, other_column).in_(sorted(pairs))))
