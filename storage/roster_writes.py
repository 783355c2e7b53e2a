"""Writes of an import, a batch at a time: records' values, their links, their creation.

Values arrive keyed by the record's own attribute names; a username or class name also
sets its lower-cased twin (`username_key`, `name_key`) that uniqueness is checked on.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, update
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


def insert_many(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert `rows` (one statement per set of columns given); answers their ids in order."""
    table = table_of(model)
    ids: list[int] = [0] * len(rows)
    for columns, positions in by_columns(rows).items():
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        params = [{column: rows[i][column] for column in columns} for i in positions]
        new_ids = session.execute(statement, params).scalars().all()
        for position, new_id in zip(positions, new_ids, strict=True):
            ids[position] = int(new_id)
    return ids


def update_many(
    session: Session, model: type[Base], rows: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """Update each `(record id, values)`, one executemany per set of columns changed."""
    table = table_of(model)
    grouped = by_columns([values for _, values in rows])
    for columns, positions in grouped.items():
        if not columns:
            continue
        statement = (
            update(table)
            .where(table.c.id == bindparam("record_id_"))
            .values({column: bindparam(f"{column}_") for column in columns})
        )
        params = [
            {"record_id_": rows[i][0]} | {f"{column}_": rows[i][1][column] for column in columns}
            for i in positions
        ]
        session.execute(statement, params)


def replace_links(
    session: Session,
    link: type[Base],
    *,
    owner_column: str,
    other_column: str,
    links: dict[int, Collection[Any]],
) -> None:
    """Make the set of records linked to each owner exactly its set in `links`."""
    if not links:
        return
    table = table_of(link)
    session.execute(delete(table).where(table.c[owner_column].in_(list(links))))
    rows = [
        {owner_column: owner, other_column: other}
        for owner, others in links.items()
        for other in sorted(others)
    ]
    if rows:
        session.execute(insert(table), rows)


def by_columns(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], list[int]]:
    """Positions of `rows` grouped by the columns each sets."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for position, row in enumerate(rows):
        groups.setdefault(tuple(sorted(row)), []).append(position)
    return groups
