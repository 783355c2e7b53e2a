"""The import's fast path on Postgres: `COPY` for a batch's writes, index probes for its reads.

The same writes as `storage.roster_writes` and the same answers as the general checks, in
fewer round trips: rows go in with `COPY … FROM STDIN` (psycopg 3), updates are sent as
arrays and applied with one `UPDATE … FROM unnest(…)` per set of columns changed, new
records are copied into one and inserted in row order (numbered as `insert_many` numbers
them), and link sets are deleted by one array of owners and copied in again. All of it
runs inside the session's transaction; a database error comes out as SQLAlchemy's own
(`IntegrityError` and the rest), as from any other statement, so callers handle it the same.
Postgres only: SQLite keeps the general writes.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import ARRAY, Integer, Table, any_, bindparam, delete, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.models import Base
from storage.roster_writes import by_columns, insert_many, table_of

COPY_AT_LEAST = 50
"""Fewer new records of one set of columns go by `executemany`: a temporary table costs more."""

EARLIER_ROW_COLUMNS = frozenset({"record_id", "claimed_name", "claimed_external_id"})

_temporary = itertools.count(1)
Updates = list[tuple[int, dict[str, Any]]]


def _driver(session: Session) -> psycopg.Connection[Any]:
    return cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """`COPY table (columns) FROM STDIN` with `rows`, in the session's transaction."""
    names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
    driver = _driver(session)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as err:
        raise DBAPIError.instance(statement.as_string(driver), None, err, psycopg.Error) from err


def update_unnested(
    session: Session, model: type[Base], rows: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """`roster_writes.update_many` in one statement per set of columns changed: the ids and
    each column's new values are sent as arrays and joined to the table by `unnest`.

    No temporary table: one round trip instead of four (create, `COPY`, update, drop), no
    catalog rows made and dropped per batch, and the planner sees how many rows there are
    (a temporary table without statistics looked like 1,850 rows, so the update hashed the
    whole roster table per batch: 27 of its 40 ms for 900 grades in a 100,000-student table)."""
    table = table_of(model)
    grouped: dict[tuple[str, ...], Updates] = {}
    for record_id, values in rows:
        if values:
            grouped.setdefault(tuple(sorted(values)), []).append((record_id, values))
    for columns, group in grouped.items():
        _update_from_arrays(session, table, columns, group)


def _update_from_arrays(
    session: Session,
    table: Table,
    columns: tuple[str, ...],
    group: list[tuple[int, dict[str, Any]]],
) -> None:
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"CAST(:v{index} AS {table.c[column].type.compile(dialect=dialect)}[])"
        for index, column in enumerate(columns)
    )
    listed = ", ".join(quote(column) for column in columns)
    assignments = ", ".join(f"{quote(c)} = u.{quote(c)}" for c in columns)
    params: dict[str, list[Any]] = {"ids": [record_id for record_id, _ in group]}
    for index, column in enumerate(columns):
        params[f"v{index}"] = [values[column] for _, values in group]
    session.execute(
        text(
            f"UPDATE {quote(table.name)} AS t SET {assignments} "
            f"FROM unnest(CAST(:ids AS integer[]), {arrays}) AS u(id, {listed}) "
            "WHERE t.id = u.id"
        ),
        params,
    )


def insert_copied(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> list[int]:
    """`roster_writes.insert_many` through `COPY`: each large set of columns is copied into a
    temporary table with each row's place, then inserted in that order with one
    `INSERT … SELECT … ORDER BY`, so the sequence numbers them exactly as `insert_many`
    would (its groups in the same order, each in row order). The model's scalar defaults
    are written as `insert` writes them; a model with a computed default keeps `insert_many`."""
    table = table_of(model)
    defaults = _scalar_defaults(table)
    if defaults is None:
        return insert_many(session, model, rows)
    ids: list[int] = [0] * len(rows)
    for columns, positions in by_columns(rows).items():
        group = [rows[i] for i in positions]
        if len(group) < COPY_AT_LEAST:
            new_ids = insert_many(session, model, group)
        else:
            new_ids = _insert_from(session, table, columns, group, defaults)
        for position, new_id in zip(positions, new_ids, strict=True):
            ids[position] = new_id
    return ids


def _scalar_defaults(table: Table) -> dict[str, Any] | None:
    """Column -> the constant `insert` writes when a row gives none (None: one is computed)."""
    defaults: dict[str, Any] = {}
    for column in table.c:
        default = column.default
        if default is None or column.primary_key:
            continue
        if not default.is_scalar:
            return None
        defaults[column.name] = default.arg  # type: ignore[attr-defined]
    return defaults


def _insert_from(
    session: Session,
    table: Table,
    columns: tuple[str, ...],
    group: list[dict[str, Any]],
    defaults: dict[str, Any],
) -> list[int]:
    quote = session.get_bind().dialect.identifier_preparer.quote
    added = tuple(column for column in defaults if column not in columns)
    names = (*columns, *added)
    listed = ", ".join(quote(column) for column in names)
    temporary = _empty_table_like(session, table, "import_creates", f"{listed}, 0 AS place")
    extra = tuple(defaults[column] for column in added)
    copy_rows(
        session,
        temporary,
        (*names, "place"),
        ((*(row[c] for c in columns), *extra, place) for place, row in enumerate(group)),
    )
    inserted = session.execute(
        text(
            f"INSERT INTO {quote(table.name)} ({listed}) "
            f"SELECT {listed} FROM {temporary} ORDER BY place RETURNING id"
        )
    )
    # one statement takes its numbers from the sequence in the order it inserts, rising
    new_ids = sorted(int(new_id) for new_id in inserted.scalars())
    session.execute(text(f"DROP TABLE {temporary}"))
    return new_ids


def replace_links_copied(
    session: Session,
    link: type[Base],
    *,
    owner_column: str,
    other_column: str,
    links: dict[int, Collection[Any]],
) -> None:
    """`roster_writes.replace_links`: the owners' links deleted with one array of their ids,
    the new ones copied."""
    if not links:
        return
    table = table_of(link)
    owners = bindparam("owners", list(links), type_=ARRAY(Integer))
    session.execute(delete(table).where(table.c[owner_column] == any_(owners)))
    copy_rows(
        session,
        table.name,
        (owner_column, other_column),
        ((owner, other) for owner, others in links.items() for other in sorted(others)),
    )


def _empty_table_like(session: Session, table: Table, prefix: str, selected: str) -> str:
    """A new temporary table, dropped at commit, with the `selected` columns of `table`."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    temporary = f"{prefix}_{next(_temporary)}"
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {temporary} ON COMMIT DROP AS "
            f"SELECT {selected} FROM {quote(table.name)} WITH NO DATA"
        )
    )
    return temporary


def first_rows(
    session: Session,
    job_id: str,
    column: str,
    keys: Sequence[Any],
    *,
    rows: tuple[int, int] | None = None,
) -> dict[Any, int]:
    """The first row of the job that named each key in `column` of its row results.

    One index probe per key on (job_id, column): the plan cannot fall back to reading every
    result of the job, which stale statistics make the planner choose for a table that grew
    by a whole file in the last minutes.
    """
    if column not in EARLIER_ROW_COLUMNS:
        raise ValueError(f"not a claim column of import_row_results: {column!r}")
    if not keys:
        return {}
    kind = "bigint" if column == "record_id" else "text"
    lowest, highest = rows if rows is not None else (0, 2**31 - 1)
    statement = text(
        f"SELECT k.key, (SELECT min(r.row_number) FROM import_row_results AS r "
        f"WHERE r.job_id = :job_id AND r.{column} = k.key "
        # `+ 0`: the range narrows what the index probe found, never picks the index
        f"AND r.row_number + 0 BETWEEN :lowest AND :highest) AS first "
        f"FROM unnest(CAST(:keys AS {kind}[])) AS k(key)"
    )
    bounds = {"lowest": lowest, "highest": highest}
    found = session.execute(statement, {"job_id": job_id, "keys": list(keys), **bounds})
    return {key: int(first) for key, first in found if first is not None}


def refresh_result_statistics(session: Session) -> None:
    """ANALYZE `import_row_results` once a job has results of its own in it (Postgres).

    The planner knows the table's job ids from its last ANALYZE. A running job's id is not
    among them, so it estimates that the job has one result; then any index starting with
    `job_id` looks as cheap as the one `first_rows` needs, and `min(row_number)` is planned
    as a walk of the primary key filtered by the key: a key no earlier row claimed (nearly
    every key) reads all of the job's results, per key, and a batch costs more the further
    the file goes (seconds per batch at 60,000 rows). With the job's own rows counted, the
    probe of (job_id, column) is the clear choice. An ANALYZE samples a bounded number of
    rows, whatever the table's size.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE import_row_results"))
