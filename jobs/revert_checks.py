"""What a revert does with each record an import touched, decided a batch at a time.

For a record the import updated, each value it changed is compared, as its column writes it
in a CSV cell, with the record as it is now:

- still what the import wrote: it goes back to the value before the import (a link set,
  such as `Organizations`, compared as a set of names; a password by its hash);
- already the value before the import (an earlier, cancelled revert put it back): nothing
  to do;
- anything else: someone changed it since. It is left as it is, and named on the record's
  row (a conflict).

A record the import created is deleted when nothing changed it since: every column is still
what the import wrote, or empty where the file had no column. Rules that hold for imports
hold here: access to Imagine Reading or Imagine Lectura is never removed (such a value is a
conflict with that reason), and a username, External Assigned ID or class/group name that
another record now holds is a conflict, not a clash at write time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from jobs.import_spec import EntitySpec
from schemas.codecs import CellError
from schemas.columns import Column, Entity, columns_for
from schemas.products import Product
from schemas.scope import Role, Scope
from storage import references
from storage.references import name_key
from storage.revert_history import RecordedChange

PASSWORD = "Password"
DATABASE_ID = "Database ID"
LOCKED = {product.access_attr: product for product in Product if product.access_locked}


class Result:
    REVERTED = "reverted"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass(slots=True)
class RecordRevert:
    """One record's revert: what goes back, what stays and why, and whether it is deleted.

    `restored` holds `(column, value now, value put back)` for the revert's own history."""

    record_id: int
    row: int
    created: bool
    changes: list[RecordedChange]
    scalars: dict[str, Any] = field(default_factory=dict)
    names: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    links: dict[str, set[Any]] = field(default_factory=dict)
    restored: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    delete: bool = False
    result: str = Result.REVERTED

    def keep(self, column: str, reason: str) -> None:
        self.kept.append(f"{column}: {reason}")

    def put_back(self) -> str:
        return "; ".join(column for column, _, _ in self.restored)

    def settle(self) -> None:
        if self.result != Result.FAILED and self.kept:
            self.result = Result.CONFLICT


@cache
def columns_by_header(entity: Entity) -> dict[str, Column]:
    """Every column of the entity, every product's included, by its header."""
    return {column.header: column for column in columns_for(entity, tuple(Product))}


def district_scope(district_id: int) -> Scope:
    """The whole district: a revert reads back every record the import wrote, wherever it is
    now (the requester's reach was checked when they asked)."""
    return Scope(district_id, 0, "", Role.DISTRICT_ADMIN, frozenset())


def cell(column: Column, value: Any) -> str:
    return column.codec.to_cell(value) if value is not None else ""


def same_cell(column: Column, a: str | None, b: str | None) -> bool:
    """Equal as the roster means it: a list cell as a case-insensitive set of names."""
    a, b = a or "", b or ""
    if column.multi or column.attr in ("products", "school"):
        return _name_set(a) == _name_set(b)
    return a == b


def _name_set(text: str) -> frozenset[str]:
    return frozenset(name_key(part) for part in text.split(";") if part.strip())


def decide(
    spec: EntitySpec,
    record: RecordRevert,
    current: dict[str, Any] | None,
    current_hash: str | None,
) -> None:
    """Decide the record's revert against the record as it is now (`current`: its export
    row; None when it no longer exists)."""
    if current is None:
        record.keep(DATABASE_ID, "the record no longer exists.")
    elif record.created:
        _decide_created(spec, record, current, current_hash)
    else:
        for change in record.changes:
            _decide_change(spec, record, change, current, current_hash)


def _decide_change(
    spec: EntitySpec,
    record: RecordRevert,
    change: RecordedChange,
    current: dict[str, Any],
    current_hash: str | None,
) -> None:
    if change.column == PASSWORD:
        _decide_password(record, change, current_hash)
        return
    column = columns_by_header(spec.entity).get(change.column)
    if column is None:
        record.keep(change.column, "not a column this service can put back.")
        return
    now = cell(column, current.get(column.attr))
    if same_cell(column, now, change.old):
        return  # already as it was before the import
    if not same_cell(column, now, change.new):
        record.keep(column.header, "changed since the import; left as it is.")
        return
    product = LOCKED.get(column.attr)
    if product is not None and change.new == "Yes":
        record.keep(
            column.header,
            f"access to {product.value} cannot be removed by a revert; contact Customer Care.",
        )
        return
    _restore(spec, record, column, now, change.old)


def _restore(
    spec: EntitySpec, record: RecordRevert, column: Column, now: str, old: str | None
) -> None:
    try:
        value = column.codec.from_value(old or "")
    except CellError as err:
        record.keep(column.header, f"the old value cannot be read back ({err.message})")
        return
    if value is None:
        value = column.empty
    if column.attr in spec.link_attrs:
        record.names[column.attr] = () if value is None else tuple(value)
        if column.attr == "school":
            record.names[column.attr] = (value,) if value else ()
    else:
        record.scalars[column.attr] = value
    record.restored.append((column.header, now or None, old))


def _decide_password(
    record: RecordRevert, change: RecordedChange, current_hash: str | None
) -> None:
    if current_hash == change.old_hash:
        return
    if change.new_hash is None or current_hash != change.new_hash:
        record.keep(PASSWORD, "changed since the import; left as it is.")
        return
    record.scalars["password_hash"] = change.old_hash
    record.restored.append((PASSWORD, "(changed)", "(changed)"))


def _decide_created(
    spec: EntitySpec, record: RecordRevert, current: dict[str, Any], current_hash: str | None
) -> None:
    """Delete the record when nothing changed it since the import created it."""
    written = {change.column: change for change in record.changes}
    changed = [
        column.header
        for column in _record_columns(spec.entity)
        if not _as_created(column, current, written.get(column.header))
    ]
    password = written.get(PASSWORD)
    if password is not None and password.new_hash and current_hash != password.new_hash:
        changed.append(PASSWORD)
    locked = [p for attr, p in LOCKED.items() if current.get(attr)]
    if locked:
        record.keep(
            f"{locked[0].value}: Access",
            f"access to {locked[0].value} cannot be removed by a revert, so the "
            "record the import created stays; contact Customer Care.",
        )
    elif changed:
        record.keep(
            ", ".join(changed),
            "changed since the import created the record, so the record stays.",
        )
    else:
        record.delete = True
        record.restored.append((DATABASE_ID, str(record.record_id), None))


@cache
def _record_columns(entity: Entity) -> tuple[Column, ...]:
    """One column per attribute (Session Time is shared), neither Database ID nor Password."""
    seen: dict[str, Column] = {}
    for column in columns_by_header(entity).values():
        if column.header not in (DATABASE_ID, PASSWORD):
            seen.setdefault(column.attr, column)
    return tuple(seen.values())


def _as_created(column: Column, current: dict[str, Any], change: RecordedChange | None) -> bool:
    now = cell(column, current.get(column.attr))
    if change is not None:
        return same_cell(column, now, change.new)
    return same_cell(column, now, cell(column, column.empty))


# --- what needs the roster: names to ids, unique keys ------------------------------------


def resolve_links(
    session: Session, spec: EntitySpec, district_id: int, records: Sequence[RecordRevert]
) -> None:
    """Turn the names each record gets back into ids; a name that no longer exists keeps
    that column as it is (a conflict)."""
    for link in spec.links:
        wanted = [r for r in records if link.attr in r.names]
        if not wanted:
            continue
        if link.resolve is None:  # a class's products: codes, not names
            for record in wanted:
                record.links[link.attr] = {p.code for p in record.names.pop(link.attr)}
            continue
        keys = {name_key(name) for r in wanted for name in r.names[link.attr]}
        found = link.resolve(session, district_id, keys)
        for record in wanted:
            _linked(spec, record, link.attr, found)


def _linked(
    spec: EntitySpec, record: RecordRevert, attr: str, found: dict[str, references.Reference]
) -> None:
    names = record.names.pop(attr)
    missing = [name for name in names if name_key(name) not in found]
    if missing:
        by_header = columns_by_header(spec.entity)
        header = next(c for c, _, _ in record.restored if by_header[c].attr == attr)
        record.restored = [entry for entry in record.restored if entry[0] != header]
        record.keep(header, f"'{missing[0]}' no longer exists; left as it is.")
        return
    ids = {found[name_key(name)].id for name in names}
    if attr == "school":
        record.scalars["school_id"] = next(iter(ids))
    else:
        record.links[attr] = ids


def check_unique(
    session: Session, spec: EntitySpec, district_id: int, records: Iterable[RecordRevert]
) -> None:
    """A unique value the revert would put back that another record now holds stays as it
    is (a conflict)."""
    records = list(records)
    district_column = spec.model.__table__.c.district_id
    for unique in spec.unique:
        asking = {
            r.record_id: _unique_key(unique.attr, r.scalars[unique.attr])
            for r in records
            if isinstance(r.scalars.get(unique.attr), str)
        }
        holders = references.holders(
            session, unique.key_column, district_column, district_id, set(asking.values())
        )
        for record in records:
            key = asking.get(record.record_id)
            holder = holders.get(key) if key is not None else None
            if holder is not None and holder != record.record_id:
                value = record.scalars.pop(unique.attr)
                record.restored = [e for e in record.restored if e[0] != unique.header]
                record.keep(unique.header, f"'{value}' is now used by another {spec.noun}.")


def _unique_key(attr: str, value: str) -> str:
    return name_key(value) if attr in ("username", "name") else value
