"""How an import's batch reaches the database: chosen once per run (`jobs.imports`), the
same roster, row results and history either way.

- `StatementWrites`, every database, the reference: updates as one executemany per set of
  columns, inserts with RETURNING, link sets deleted and inserted, results and history as
  plain inserts; a job's earlier rows are found by one query per key column.
- `CopyWrites`, Postgres: updates from arrays (`UPDATE … FROM unnest(…)`); new records,
  link sets, row results and history through `COPY` (`storage.bulk_writes`); earlier rows
  found by one index probe per key, and only for the keys an earlier row of this run may
  have recorded (`EarlierKeys`, for a run that starts at the file's first row).

A row written alone after a batch hit a constraint always goes through `StatementWrites`,
each in a savepoint (`jobs.import_apply`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import JSON, insert, select
from sqlalchemy.orm import Session

from storage import bulk_writes, roster_writes
from storage.models import Base, ImportRowResult

Updates = Sequence[tuple[int, dict[str, Any]]]
Links = dict[int, Collection[Any]]


class RosterWrites(Protocol):
    """The writes of the apply stage, and the look-up of earlier rows that depends on how
    results were written."""

    def update_records(self, session: Session, model: type[Base], rows: Updates) -> None: ...

    def insert_records(
        self, session: Session, model: type[Base], rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """The new records' ids, in the order of `rows`."""
        ...

    def replace_links(
        self,
        session: Session,
        link: type[Base],
        *,
        owner_column: str,
        other_column: str,
        links: Links,
    ) -> None: ...

    def insert_rows(
        self,
        session: Session,
        model: type[Base],
        columns: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Row results or history: `rows` of `columns`' values."""
        ...

    def earlier_rows(
        self,
        session: Session,
        job_id: str,
        column: Any,
        keys: Sequence[Any],
        *,
        rows: tuple[int, int] | None = None,
    ) -> dict[Any, int]:
        """The first row of the job, before this batch, whose result names each key in
        `column` (an `ImportRowResult` column); among the `rows` range only, if given."""
        ...


class StatementWrites:
    """The general way, on any database: the reference the other is tested against."""

    def update_records(self, session: Session, model: type[Base], rows: Updates) -> None:
        roster_writes.update_many(session, model, rows)

    def insert_records(
        self, session: Session, model: type[Base], rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        return roster_writes.insert_many(session, model, rows)

    def replace_links(
        self,
        session: Session,
        link: type[Base],
        *,
        owner_column: str,
        other_column: str,
        links: Links,
    ) -> None:
        roster_writes.replace_links(
            session, link, owner_column=owner_column, other_column=other_column, links=links
        )

    def insert_rows(
        self,
        session: Session,
        model: type[Base],
        columns: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        if rows:
            table = roster_writes.table_of(model)
            session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])

    def earlier_rows(
        self,
        session: Session,
        job_id: str,
        column: Any,
        keys: Sequence[Any],
        *,
        rows: tuple[int, int] | None = None,
    ) -> dict[Any, int]:
        if not keys:
            return {}
        statement = (
            select(column, ImportRowResult.row_number)
            .where(ImportRowResult.job_id == job_id, column.in_(list(keys)))
            .order_by(ImportRowResult.row_number.desc())
        )
        if rows is not None:
            statement = statement.where(ImportRowResult.row_number.between(*rows))
        return {key: row for key, row in session.execute(statement)}


class CopyWrites:
    """Postgres's bulk paths. `earlier`: the keys this run's results recorded, for a run that
    starts at the file's first row (None: a resumed run looks every key up)."""

    def __init__(self, earlier: EarlierKeys | None) -> None:
        self._earlier = earlier

    def update_records(self, session: Session, model: type[Base], rows: Updates) -> None:
        bulk_writes.update_unnested(session, model, rows)

    def insert_records(
        self, session: Session, model: type[Base], rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        return bulk_writes.insert_copied(session, model, rows)

    def replace_links(
        self,
        session: Session,
        link: type[Base],
        *,
        owner_column: str,
        other_column: str,
        links: Links,
    ) -> None:
        bulk_writes.replace_links_copied(
            session, link, owner_column=owner_column, other_column=other_column, links=links
        )

    def insert_rows(
        self,
        session: Session,
        model: type[Base],
        columns: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        if not rows:
            return
        table = roster_writes.table_of(model)
        if self._earlier is not None and model is ImportRowResult:
            for column in bulk_writes.EARLIER_ROW_COLUMNS:
                at = columns.index(column)
                self._earlier.add(column, (row[at] for row in rows))
        json_at = [at for at, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
        if json_at:
            rows = [_with_json(row, json_at) for row in rows]
        bulk_writes.copy_rows(session, table.name, columns, rows)

    def earlier_rows(
        self,
        session: Session,
        job_id: str,
        column: Any,
        keys: Sequence[Any],
        *,
        rows: tuple[int, int] | None = None,
    ) -> dict[Any, int]:
        if keys and self._earlier is not None:
            keys = self._earlier.may_hold(column.key, keys)
        return bulk_writes.first_rows(session, job_id, column.key, keys, rows=rows)


_NO_ERRORS = json.dumps([])


def _with_json(row: tuple[Any, ...], json_at: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for at in json_at:
        value = values[at]
        values[at] = _NO_ERRORS if isinstance(value, list) and not value else json.dumps(value)
    return tuple(values)


class EarlierKeys:
    """Which keys the job's earlier rows may have recorded in their results, per column.

    A Bloom filter (two bits a key, a fixed 1 MiB a column whatever the file): "no" is
    certain, "maybe" is checked in the database. It holds every record id and claim this
    run recorded (`add`, called as the results are written), so it is only used for a job
    that starts at its first row: a resumed job's earlier results were written by another
    run, and every one of its keys is looked up.
    """

    BITS = 1 << 23

    def __init__(self) -> None:
        self._bits: dict[str, bytearray] = {}

    def add(self, column: str, keys: Iterable[object]) -> None:
        """Record `keys` (None is no key) in `column`."""
        bits = self._bits.get(column)
        if bits is None:
            bits = self._bits[column] = bytearray(self.BITS >> 3)
        size = self.BITS
        for key in keys:
            if key is None:
                continue
            hashed = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
            # the key's two bits: a record id's own number (no clash below `BITS`), a text's hash
            first, second = hashed % size, (hashed >> 32) % size
            bits[first >> 3] |= 1 << (first & 7)
            bits[second >> 3] |= 1 << (second & 7)

    def may_hold(self, column: str, keys: Iterable[Any]) -> list[Any]:
        """The `keys` that an earlier row may have recorded in `column` (in their order)."""
        bits = self._bits.get(column)
        if bits is None:
            return []
        size = self.BITS
        maybe = []
        for key in keys:
            hashed = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
            first, second = hashed % size, (hashed >> 32) % size
            if bits[first >> 3] >> (first & 7) & 1 and bits[second >> 3] >> (second & 7) & 1:
                maybe.append(key)
        return maybe
