"""The export's fast path on Postgres: cells rendered by the database, streamed with `COPY`.

`COPY (SELECT …) TO STDOUT (FORMAT csv)` writes the rows as fast as the server reads them,
so the select must hand it each cell exactly as the general path writes it (a codec's
`to_cell`, then `schemas.cells.neutralise`, then Python's csv module):

- each codec's `to_cell` has its SQL twin in `cell_sql` (Yes/No, ISO dates, whole numbers,
  text as stored, an always empty Password); a codec without one keeps the export on the
  general path (`can_copy`);
- a cell that would be empty is NULL: COPY writes NULL unquoted, as csv writes an empty
  string, but quotes an empty string;
- COPY quotes a cell holding `,`, `"`, CR or LF and doubles its quotes, as csv's
  QUOTE_MINIMAL does; it ends each record with LF where csv writes CRLF, which the caller
  swaps (COPY sends one record per message, so each chunk read is one whole record);
- multi-valued cells are listed in the order `storage.listing.split_list` sorts them: by
  Python's `str.lower`, then by the name itself, code point by code point (`list_order`,
  the SQL twin of `storage.listing.list_sort_key`).
  ICU's root locale lower-cases as Python does (whole strings, so `İ` and a final `Σ` too),
  and the "C" collation compares code points whatever the database's own locale, so the
  order does not depend on how the server was set up. A server without ICU uses the
  general path.

The select is `export_select`: the table's rows in Database ID order, filtered by scope
and filters, each cell rendered by `cell_sql`. A list cell comes in one of two shapes:

- students' and educators' schools and classes: one derived table per list for the whole
  export (`storage.export_lists`: the district's names numbered once in the cell's order,
  the links sorted by owner and number, one `string_agg` per owner), joined on the
  row's id, so a million rows cost two sorts instead of a million probes and sorts;
- a class's school, educators, students and products: a correlated subquery per row
  (`ordered_names`), joined LATERAL; a district has far fewer classes than students.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    Text,
    and_,
    case,
    collate,
    func,
    literal,
    null,
    select,
    text,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import QueryableAttribute, Session

from schemas.cells import FORMULA_TRIGGERS, QUOTE
from schemas.codecs import (
    LIST_SEPARATOR,
    ChoiceCodec,
    DatabaseIdCodec,
    DateCodec,
    EmailCodec,
    ExternalIdCodec,
    GradeCodec,
    ListCodec,
    MinutesCodec,
    PasswordCodec,
    ProductListCodec,
    StatusCodec,
    StudentUsernameCodec,
    TextCodec,
    YesNoCodec,
)
from schemas.columns import Column

if TYPE_CHECKING:
    import psycopg

LOWER_COLLATION = "und-x-icu"
"""The collation whose `lower()` is Python's `str.lower`: on the development server (ICU 72,
Python 3.11) they agree on every code point; `tests/integration/test_export_fast_path.py`
checks the order on random names."""

_TEXT_CODECS = (
    TextCodec,
    StudentUsernameCodec,
    EmailCodec,
    ExternalIdCodec,
    GradeCodec,
    ChoiceCodec,
)
_NUMBER_CODECS = (DatabaseIdCodec, MinutesCodec)
_COPY = "COPY ({select}) TO STDOUT ({options})"


@dataclass(frozen=True)
class CopyShape:
    """How the COPY renders cells and records: `neutralised` as the CSV export writes them
    (a formula start behind a `'`), else exactly; `options` are COPY's."""

    neutralised: bool
    options: str


CSV_RECORDS = CopyShape(neutralised=True, options="FORMAT csv, ENCODING 'UTF8'")
"""Records exactly as the CSV export writes them (LF for CRLF)."""
CELL_RECORDS = CopyShape(
    neutralised=False,
    options="FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02', ENCODING 'UTF8'",
)
"""Exact cells separated by 0x01, each record ending with LF: a cell is quoted (with 0x02)
only when it holds 0x01, 0x02, CR or LF, so other records are the cells as they are."""


def can_copy(session: Session, columns: Sequence[Column]) -> bool:
    """Whether this session's database can write these columns exactly as the general path."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    if not all(_renders(column) for column in columns):
        return False
    found = session.scalar(
        text("SELECT 1 FROM pg_collation WHERE collname = :name"), {"name": LOWER_COLLATION}
    )
    return found is not None


def _renders(column: Column) -> bool:
    codec = column.codec
    if isinstance(codec, ListCodec):
        return codec.item is None or type(codec.item) in _TEXT_CODECS
    return type(codec) in (
        *_TEXT_CODECS,
        *_NUMBER_CODECS,
        PasswordCodec,
        YesNoCodec,
        StatusCodec,
        DateCodec,
        ProductListCodec,
    )


def cells(
    columns: Sequence[Column], sources: Mapping[str, Any], *, neutralise: bool = True
) -> list[ColumnElement[Any]]:
    """The select list of an export: each column's cell, made from `sources[column.attr]`
    (a table column, or a subquery for the attributes the table does not hold)."""
    return [
        cell_sql(column, sources, neutralise=neutralise).label(f"c{n}")
        for n, column in enumerate(columns)
    ]


def cell_sql(
    column: Column, sources: Mapping[str, Any], *, neutralise: bool = True
) -> ColumnElement[Any]:
    """The cell as the general path writes it (codec, then neutralise unless `neutralise`
    is False), NULL when empty.

    Lists arrive already joined (`ordered_names`, `storage.export_lists`); Yes/No, dates and
    the always empty Password can never start like a formula, so they skip the neutralising.
    """
    codec = column.codec
    if isinstance(codec, PasswordCodec):
        return null()
    value = sources[column.attr]
    if isinstance(codec, YesNoCodec | StatusCodec):
        return _two_words(codec, value)
    if isinstance(codec, DateCodec):
        return func.to_char(value, "YYYY-MM-DD")
    if not neutralise:
        text_value = sql_cast(value, Text) if isinstance(codec, _NUMBER_CODECS) else value
        return func.nullif(text_value, "")
    if isinstance(codec, _NUMBER_CODECS):
        return whole_number(value)
    return neutralised(value)


def _two_words(codec: YesNoCodec | StatusCodec, value: Any) -> ColumnElement[Any]:
    """A boolean's cell: Yes/No, or Active/Inactive for the Status column."""
    true, false = ("Yes", "No") if isinstance(codec, YesNoCodec) else ("Active", "Inactive")
    return case((value.is_(True), true), (value.is_(False), false))


def whole_number(value: Any) -> ColumnElement[Any]:
    """An integer's cell: its digits, neutralised. Only a minus sign can start it like a
    formula (never a quote or another trigger), so the sign decides."""
    digits = sql_cast(value, Text)
    return case((value < 0, literal(QUOTE) + digits), else_=digits)


def neutralised(cell: Any) -> ColumnElement[Any]:
    """`schemas.cells.neutralise` in SQL, NULL for an empty text: one more `'` before a run
    of `'` and a trigger.

    `ascii()` is the first character's code (0 for an empty text). Every trigger and the
    quote are below `A`, so the common cell, a name starting with a letter, is settled by
    one integer comparison before the other tests, and only the rest can be empty.
    """
    triggers = sorted(ord(trigger) for trigger in FORMULA_TRIGGERS)
    first = func.ascii(cell)
    quoted = literal(QUOTE) + cell
    return case(
        (first > max(*triggers, ord(QUOTE)), cell),
        (first.in_(triggers), quoted),
        (and_(first == ord(QUOTE), func.ascii(func.ltrim(cell, QUOTE)).in_(triggers)), quoted),
        else_=func.nullif(cell, ""),
    )


def list_order(names: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """ORDER BY terms that sort names as `storage.listing.split_list` does (its key is
    `storage.listing.list_sort_key`)."""
    return collate(func.lower(collate(names, LOWER_COLLATION)), "C"), collate(names, "C")


def joined(names: Any, *order_by: Any) -> ColumnElement[Any]:
    """`string_agg` of `names` with the list separator, in the given order."""
    return func.string_agg(names, aggregate_order_by(literal(LIST_SEPARATOR), *order_by))


def ordered_names(
    names: QueryableAttribute[str],
    *,
    via: QueryableAttribute[Any],
    owner: QueryableAttribute[Any],
    owner_id: Any,
) -> Select[Any]:
    """The `names` of the records linked to `owner_id` through a link table (as in
    `storage.listing.linked_names`), joined in the cell's order: one row, one column."""
    target = names.class_
    return (
        select(joined(names, *list_order(names)))
        .select_from(via.class_)
        .join(target, via == target.id)
        .where(owner == owner_id)
    )


@dataclass(frozen=True)
class GroupedNames:
    """A list cell's derived table (`owner_id`, `names`) and how it joins the exported rows
    (built by `storage.export_lists.grouped_names`; defined here, where `export_select`
    joins it, so that the two modules do not import each other)."""

    table: Subquery
    on: ColumnElement[bool]

    @property
    def names(self) -> Any:
        return self.table.c.names


def export_select(
    model: type[Any],
    columns: Sequence[Column],
    linked: Mapping[str, Select[Any] | GroupedNames],
    *,
    shape: CopyShape = CSV_RECORDS,
) -> Select[Any]:
    """The select of an export's cells from `model`'s rows and, for the attributes the table
    does not hold, `linked`: a one-value select correlated with the row (`ordered_names`),
    joined LATERAL, so its value is computed once per row however often the cell's
    expression refers to it; or a list computed for every row at once
    (`storage.export_lists`), joined on the row's id. Only what the columns use is joined."""
    wanted = {column.attr for column in columns}
    sources: dict[str, Any] = dict(model.__table__.c)
    joins: list[tuple[FromClause, ColumnElement[bool]]] = []
    for attr, value in linked.items():
        if attr not in wanted:
            continue
        if isinstance(value, Select):
            lateral = value.subquery().lateral(f"{attr}_cell")
            sources[attr] = next(iter(lateral.c))
            joins.append((lateral, true()))
        else:
            sources[attr] = value.names
            joins.append((value.table, value.on))
    statement = select(*cells(columns, sources, neutralise=shape.neutralised)).select_from(model)
    for table, on in joins:
        statement = statement.outerjoin(table, on)
    return statement


@contextmanager
def copy_records(
    session: Session, statement: Select[Any], shape: CopyShape = CSV_RECORDS
) -> Iterator[Iterator[memoryview]]:
    """Run `statement` as a COPY in the session's transaction; yields its records, each
    one line ending with LF, as `shape` says. Leaving the block early cancels the COPY on
    the server, so the connection is fit for use again (a cancelled export, a failed
    write)."""
    query, params = _compiled(session, statement)
    driver = cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)
    with driver.cursor() as cursor:
        # a list's names reach its aggregate in the order their subquery sorted them
        # (`storage.export_lists`); a parallel plan could combine partial aggregates out of
        # that order on a server whose string_agg runs in parallel (Postgres 16 and later)
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        with cursor.copy(_COPY.format(select=query, options=shape.options), params) as copy:
            yield cast(Iterator[memoryview], iter(copy))


def _compiled(session: Session, statement: Select[Any]) -> tuple[str, dict[str, Any]]:
    """The statement's SQL with psycopg placeholders, and its parameters (bound client-side
    by psycopg, quoted as literals: COPY takes no server-side parameters)."""
    dialect = session.get_bind().dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.params)
    for key, bind in compiled.binds.items():
        # as an execution would send it (`storage.listing.among` binds its ids as one text)
        process = bind.type.bind_processor(dialect)
        if process is not None and key in params:
            params[key] = process(params[key])
    return str(compiled), params
