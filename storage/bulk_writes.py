"""The import's fast path on Postgres: `COPY` for a batch's writes, index probes for its reads.

The same writes as `storage.roster_writes` and the same answers as the general checks, in
fewer round trips: rows go in with `COPY … FROM STDIN` (psycopg 3), updates are copied into
a temporary table and applied with one `UPDATE … FROM` per set of columns changed. All of it
runs inside the session's transaction; a database error comes out as SQLAlchemy's own
(`IntegrityError` and the rest), as from any other statement, so callers handle it the same.
Postgres only: SQLite keeps the general writes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.models import Base
from storage.roster_writes import table_of, update_many

COPY_AT_LEAST = 50
"""Fewer updates of one set of columns go by `executemany`: a temporary table costs more."""

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


def update_copied(
    session: Session, model: type[Base], rows: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """`roster_writes.update_many`, each large set of columns through a temporary table."""
    table = table_of(model)
    grouped: dict[tuple[str, ...], Updates] = {}
    for record_id, values in rows:
        if values:
            grouped.setdefault(tuple(sorted(values)), []).append((record_id, values))
    for columns, group in grouped.items():
        if len(group) < COPY_AT_LEAST:
            update_many(session, model, group)
        else:
            _update_from(session, table, columns, group)


def _update_from(
    session: Session,
    table: Table,
    columns: tuple[str, ...],
    group: list[tuple[int, dict[str, Any]]],
) -> None:
    quote = session.get_bind().dialect.identifier_preparer.quote
    temporary = f"import_updates_{next(_temporary)}"
    listed = ", ".join(quote(column) for column in columns)
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {temporary} ON COMMIT DROP AS "
            f"SELECT id, {listed} FROM {quote(table.name)} WITH NO DATA"
        )
    )
    copy_rows(
        session,
        temporary,
        ("id", *columns),
        ((record_id, *(values[c] for c in columns)) for record_id, values in group),
    )
    assignments = ", ".join(f"{quote(c)} = u.{quote(c)}" for c in columns)
    session.execute(
        text(
            f"UPDATE {quote(table.name)} AS t SET {assignments} "
            f"FROM {temporary} AS u WHERE t.id = u.id"
        )
    )
    session.execute(text(f"DROP TABLE {temporary}"))


def first_rows(session: Session, job_id: str, column: str, keys: Sequence[Any]) -> dict[Any, int]:
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
    statement = text(
        f"SELECT k.key, (SELECT min(r.row_number) FROM import_row_results AS r "
        f"WHERE r.job_id = :job_id AND r.{column} = k.key) AS first "
        f"FROM unnest(CAST(:keys AS {kind}[])) AS k(key)"
    )
    found = session.execute(statement, {"job_id": job_id, "keys": list(keys)})
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
