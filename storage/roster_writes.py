"""Writes of an import: one record's values, its links to other records, its creation.

Values arrive keyed by the record's own attribute names; a username or class name also
sets its lower-cased twin (`username_key`, `name_key`) that uniqueness is checked on.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.orm import Session

from storage.models import Base


def table_of(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def with_keys(values: dict[str, Any], keyed: dict[str, str]) -> dict[str, Any]:
    """`values` plus the lower-cased twin of each keyed attribute present."""
    twins = {twin: values[attr].lower() for attr, twin in keyed.items() if values.get(attr)}
    return values | twins


def insert_record(session: Session, model: type[Base], values: dict[str, Any]) -> int:
    table = table_of(model)
    statement = insert(table).values(**values).returning(table.c.id)
    return int(session.execute(statement).scalar_one())


def update_record(
    session: Session, model: type[Base], record_id: int, values: dict[str, Any]
) -> None:
    if values:
        table = table_of(model)
        session.execute(update(table).where(table.c.id == record_id).values(**values))


def replace_links(
    session: Session,
    link: type[Base],
    *,
    owner_column: str,
    other_column: str,
    owner_id: int,
    others: Collection[Any],
) -> None:
    """Make the set of records linked to `owner_id` exactly `others`."""
    table = table_of(link)
    session.execute(delete(table).where(table.c[owner_column] == owner_id))
    if others:
        rows = [{owner_column: owner_id, other_column: other} for other in sorted(others)]
        session.execute(insert(table), rows)
