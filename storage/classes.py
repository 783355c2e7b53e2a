"""Queries of classes/groups: lookup by name, scope, export filters and export rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    column,
    exists,
    or_,
    select,
    true,
    values,
)
from sqlalchemy.orm import Session

from schemas.columns import Column
from schemas.products import Product
from schemas.scope import Role, RosterFilter, Scope
from storage.export_copy import (
    CSV_RECORDS,
    CopyShape,
    copy_records,
    export_select,
    joined,
    ordered_names,
)
from storage.listing import (
    aggregated,
    among,
    contains,
    count_where,
    linked_names,
    split_list,
    stream,
)
from storage.models import (
    ClassEducator,
    ClassGroup,
    ClassProduct,
    ClassStudent,
    Educator,
    School,
    Student,
)


def find_class(session: Session, district_id: int, name: str) -> ClassGroup | None:
    """A class/group of the district by name, case-insensitive."""
    statement = select(ClassGroup).where(
        ClassGroup.district_id == district_id, ClassGroup.name_key == name.strip().lower()
    )
    return session.scalars(statement).first()


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """Classes the requester may see: the district's, their schools', or a teacher's own."""
    if scope.role is Role.DISTRICT_ADMIN:
        return true()
    if scope.role is Role.SCHOOL_ADMIN:
        return ClassGroup.school_id.in_(scope.school_ids)
    return exists().where(
        ClassEducator.class_id == ClassGroup.id, ClassEducator.educator_id == scope.educator_id
    )


def matching(roster_filter: RosterFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if roster_filter.school_id is not None:
        conditions.append(ClassGroup.school_id == roster_filter.school_id)
    if roster_filter.class_id is not None:
        conditions.append(ClassGroup.id == roster_filter.class_id)
    if roster_filter.product is not None:
        conditions.append(
            exists().where(
                ClassProduct.class_id == ClassGroup.id,
                ClassProduct.product == roster_filter.product.code,
            )
        )
    if roster_filter.search:
        conditions.append(
            or_(
                contains(ClassGroup.name, roster_filter.search),
                contains(ClassGroup.external_id, roster_filter.search),
            )
        )
    if roster_filter.ids:
        conditions.append(among(ClassGroup.id, roster_filter.ids))
    return conditions


def export_conditions(scope: Scope, roster_filter: RosterFilter) -> list[ColumnElement[bool]]:
    """The rows an export lists (every format reads them): the district's, in the
    requester's scope, matching the filters, and active unless the filter includes the
    deactivated ones."""
    conditions = [ClassGroup.district_id == scope.district_id, in_scope(scope)]
    if not roster_filter.include_inactive:
        conditions.append(ClassGroup.active.is_(True))
    return [*conditions, *matching(roster_filter)]


def count_rows(session: Session, scope: Scope, roster_filter: RosterFilter) -> int:
    return count_where(session, ClassGroup, export_conditions(scope, roster_filter))


def stream_rows(
    session: Session, scope: Scope, roster_filter: RosterFilter, *, batch_rows: int
) -> Iterator[dict[str, Any]]:
    """Classes with their school, educators' and students' usernames and products, streamed."""
    school = select(School.name).where(School.id == ClassGroup.school_id).scalar_subquery()
    educators = linked_names(
        Educator.username,
        via=ClassEducator.educator_id,
        owner=ClassEducator.class_id,
        owner_id=ClassGroup.id,
    )
    students = linked_names(
        Student.username,
        via=ClassStudent.student_id,
        owner=ClassStudent.class_id,
        owner_id=ClassGroup.id,
    )
    products = aggregated(
        ClassProduct.product,
        select(ClassProduct.class_id).where(ClassProduct.class_id == ClassGroup.id),
    )
    statement = (
        select(
            *ClassGroup.__table__.c,
            school.label("school"),
            educators.label("educators"),
            students.label("students"),
            products.label("products"),
        )
        .where(*export_conditions(scope, roster_filter))
        .order_by(ClassGroup.id)
    )
    for row in stream(session, statement, batch_rows=batch_rows, lists=("educators", "students")):
        row["products"] = _product_names(row["products"])
        yield row


def _product_names(codes: str | None) -> tuple[Product, ...]:
    """Products from their codes, in the `Product` enum order (the cell order)."""
    present = set(split_list(codes))
    return tuple(product for product in Product if product.code in present)


def copy_rows(
    session: Session,
    scope: Scope,
    roster_filter: RosterFilter,
    columns: Sequence[Column],
    shape: CopyShape = CSV_RECORDS,
) -> AbstractContextManager[Iterator[memoryview]]:
    """The same classes as `stream_rows`, as CSV records rendered by Postgres
    (`storage.export_copy`)."""
    linked = {
        "school": select(School.name).where(School.id == ClassGroup.school_id),
        "educators": ordered_names(
            Educator.username,
            via=ClassEducator.educator_id,
            owner=ClassEducator.class_id,
            owner_id=ClassGroup.id,
        ),
        "students": ordered_names(
            Student.username,
            via=ClassStudent.student_id,
            owner=ClassStudent.class_id,
            owner_id=ClassGroup.id,
        ),
        "products": _joined_product_names(),
    }
    statement = (
        export_select(ClassGroup, columns, linked, shape=shape)
        .where(*export_conditions(scope, roster_filter))
        .order_by(ClassGroup.id)
    )
    return copy_records(session, statement, shape)


def _joined_product_names() -> Select[Any]:
    """The class's product names joined in the `Product` enum order, as `_product_names`
    and the Products codec write them; codes of no known product are left out."""
    known = values(
        column("code", String), column("name", String), column("position", Integer), name="known"
    ).data([(product.code, product.value, n) for n, product in enumerate(Product)])
    return (
        select(joined(known.c.name, known.c.position))
        .select_from(ClassProduct)
        .join(known, known.c.code == ClassProduct.product)
        .where(ClassProduct.class_id == ClassGroup.id)
    )
