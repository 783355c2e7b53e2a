"""Multi-valued cells of the export's COPY, computed for the whole export at once.

A correlated subquery per row (`storage.export_copy.ordered_names`) probes the link table
and sorts a student's few names once per student, lower-casing each name with ICU every
time it appears: at a million students that is most of the server's time. Here each list
is one derived table instead, joined to the exported rows on the owner's id:

    ranked: the district's records (schools, classes…), each numbered once in the cell's
            order (`export_copy.list_order`: ICU lower case, then code points);
    links:  the link rows (student → school…) joined to `ranked`, sorted by
            (owner, number), restricted to the exported owners unless the export is the
            whole district (then every link of the district's records, which costs less
            than the semi-join and gives the same cells);
    grouped: one row per owner, `string_agg` of its names fed in that sorted order.

The aggregate has no ORDER BY of its own: on Postgres 15 that sorts each owner's names
again, group by group, which adds about 40 % to a list's cost at a million students. It takes
them in the order its sorted subquery delivers instead, what the Postgres manual says
"will usually work": such a subquery is never flattened, and the aggregate above it,
grouped or hashed, reads it in order. `string_agg` combines partial aggregates from
Postgres 16 on, so the export's COPY runs with parallel workers off
(`export_copy.copy_records`): no plan can merge one owner's names from two workers. It is
the one assumption here that the SQL standard does not make, so
`tests/integration/test_export_fast_path.py` compares the cells with the general path's
on owners with no, one and many names, names differing only in case, and random names;
should it ever fail, `string_agg(name, ';' ORDER BY position)` is the fix.

Only records of the export's district are listed: every link the service makes stays in
its district (imports and the seed find names there), so the cells are those of the
general path, which lists whatever the link table holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, literal, select
from sqlalchemy.orm import QueryableAttribute, Session

from schemas.codecs import LIST_SEPARATOR
from schemas.columns import Column
from schemas.scope import Role, Scope
from storage.export_copy import (
    CSV_RECORDS,
    CopyShape,
    GroupedNames,
    copy_records,
    export_select,
    list_order,
)
from storage.listing import People


def grouped_names(
    names: QueryableAttribute[str],
    *,
    via: QueryableAttribute[Any],
    owner: QueryableAttribute[Any],
    owner_id: Any,
    district_id: int,
    owners: Select[Any] | None,
) -> GroupedNames:
    """The `names` of the records linked to each owner (as `ordered_names`, the same
    arguments), for all owners at once: `owners` selects the exported owners' ids, None
    when the export is the whole district."""
    ranked = _ranked(names, district_id)
    links = (
        select(owner.label("owner_id"), ranked.c.name)
        .select_from(via.class_)
        .join(ranked, via == ranked.c.id)
        .order_by(owner, ranked.c.position)
    )
    if owners is not None:
        links = links.where(owner.in_(owners.correlate(None)))
    ordered = links.subquery()
    table = (
        select(
            ordered.c.owner_id,
            func.string_agg(ordered.c.name, literal(LIST_SEPARATOR)).label("names"),
        )
        .group_by(ordered.c.owner_id)
        .subquery()
    )
    return GroupedNames(table, table.c.owner_id == owner_id)


def copy_people(
    session: Session,
    people: People,
    columns: Sequence[Column],
    *,
    scope: Scope,
    conditions: Sequence[ColumnElement[bool]],
    narrowed: bool,
    shape: CopyShape = CSV_RECORDS,
) -> AbstractContextManager[Iterator[memoryview]]:
    """The COPY of students' or educators' export rows (`people`, under `conditions`), their
    lists grouped for every exported row at once: for the whole district when a district
    admin exports without a filter (`narrowed`), else for the exported rows."""
    model = people.model
    whole_district = scope.role is Role.DISTRICT_ADMIN and not narrowed
    owners = None if whole_district else select(model.id).where(*conditions)
    lists = people.lists(partial(grouped_names, district_id=scope.district_id, owners=owners))
    statement = (
        export_select(model, columns, lists, shape=shape).where(*conditions).order_by(model.id)
    )
    return copy_records(session, statement, shape)


def _ranked(names: QueryableAttribute[str], district_id: int) -> Subquery:
    """The district's records of `names`' table, numbered in the cell's order: all of them,
    even for a teacher's few students (a district's 60,000 classes take about 0.1 s), as
    numbering only the linked ones would need the links twice."""
    target = names.class_
    position = func.row_number().over(order_by=list_order(names))
    return (
        select(target.id, names.label("name"), position.label("position"))
        .where(target.district_id == district_id)
        .subquery()
    )
