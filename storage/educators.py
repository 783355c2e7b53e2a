"""Queries of educators: who is asking (their scope) and the educators export."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from schemas.columns import Column
from schemas.scope import Role, RosterFilter, Scope
from storage import references
from storage.districts import school_ids
from storage.export_copy import CSV_RECORDS, CopyShape
from storage.export_lists import copy_people
from storage.listing import People, among, contains, count_where, stream_people
from storage.models import ClassEducator, Educator, EducatorSchool

EDUCATORS = People(
    Educator,
    schools=(EducatorSchool.school_id, EducatorSchool.educator_id),
    classes=(ClassEducator.class_id, ClassEducator.educator_id),
)
"""Educators as the export reads them (`storage.listing.People`)."""


def find_educator(session: Session, district_id: int, username: str) -> Educator | None:
    statement = select(Educator).where(
        Educator.district_id == district_id, Educator.username_key == username.strip().lower()
    )
    return session.scalars(statement).first()


def scope_of(session: Session, educator: Educator) -> Scope:
    """The educator's role and reach, derived from the roster (never from a request)."""
    mine = frozenset(
        session.scalars(
            select(EducatorSchool.school_id).where(EducatorSchool.educator_id == educator.id)
        )
    )
    if educator.educator_type != "Admin":
        role = Role.TEACHER
    elif mine and mine >= school_ids(session, educator.district_id):
        role = Role.DISTRICT_ADMIN
    else:
        role = Role.SCHOOL_ADMIN
    return Scope(educator.district_id, educator.id, educator.username, role, mine)


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """Educators the requester may see. Teachers see none (they cannot export educators)."""
    if scope.role is Role.DISTRICT_ADMIN:
        return true()
    if scope.role is Role.SCHOOL_ADMIN:
        return exists().where(
            EducatorSchool.educator_id == Educator.id,
            EducatorSchool.school_id.in_(scope.school_ids),
        )
    return Educator.id.is_(None)


def reachable(session: Session, scope: Scope, ids: Collection[int]) -> frozenset[int]:
    """Which of these educators the requester may change: a school admin's educators are
    those of their schools; a teacher, who sees no educators, may name only themselves."""
    if scope.role is Role.DISTRICT_ADMIN:
        return frozenset(ids)
    if scope.role is Role.TEACHER:
        return frozenset(ids) & {scope.educator_id}
    return references.within(session, Educator.id, in_scope(scope), ids)


def matching(roster_filter: RosterFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if roster_filter.school_id is not None:
        conditions.append(
            exists().where(
                EducatorSchool.educator_id == Educator.id,
                EducatorSchool.school_id == roster_filter.school_id,
            )
        )
    if roster_filter.class_id is not None:
        conditions.append(
            exists().where(
                ClassEducator.educator_id == Educator.id,
                ClassEducator.class_id == roster_filter.class_id,
            )
        )
    if roster_filter.search:
        conditions.append(
            or_(
                contains(Educator.first_name, roster_filter.search),
                contains(Educator.last_name, roster_filter.search),
                contains(Educator.username, roster_filter.search),
            )
        )
    if roster_filter.ids:
        conditions.append(among(Educator.id, roster_filter.ids))
    return conditions


def export_conditions(scope: Scope, roster_filter: RosterFilter) -> list[ColumnElement[bool]]:
    """The rows an export lists (every format reads them): the district's, in the
    requester's scope, matching the filters, and active unless the filter includes the
    deactivated ones."""
    conditions = [Educator.district_id == scope.district_id, in_scope(scope)]
    if not roster_filter.include_inactive:
        conditions.append(Educator.active.is_(True))
    return [*conditions, *matching(roster_filter)]


def count_rows(session: Session, scope: Scope, roster_filter: RosterFilter) -> int:
    return count_where(session, Educator, export_conditions(scope, roster_filter))


def stream_rows(
    session: Session, scope: Scope, roster_filter: RosterFilter, *, batch_rows: int
) -> Iterator[dict[str, Any]]:
    """Educators with their school and class names, in Database ID order, streamed."""
    conditions = export_conditions(scope, roster_filter)
    return stream_people(session, EDUCATORS, conditions, batch_rows=batch_rows)


def copy_rows(
    session: Session,
    scope: Scope,
    roster_filter: RosterFilter,
    columns: Sequence[Column],
    shape: CopyShape = CSV_RECORDS,
) -> AbstractContextManager[Iterator[memoryview]]:
    """The same educators as `stream_rows`, as CSV records rendered by Postgres
    (`storage.export_copy`), their school and class names grouped for all of them at once
    (`storage.export_lists`)."""
    return copy_people(
        session,
        EDUCATORS,
        columns,
        scope=scope,
        conditions=export_conditions(scope, roster_filter),
        narrowed=bool(matching(roster_filter)),
        shape=shape,
    )
