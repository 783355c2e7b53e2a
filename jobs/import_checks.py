"""Match → references → rules → uniqueness → diff: a batch of drafts becomes decisions.

One query per step and batch (never one per row): the stored records the batch names, the
references its cells name, the holders of its unique values, and the rows of this job that
came before. The same checks run for a dry run; only `import_apply` writes.

Each row gets the answer it would get once the rows before it were applied, whatever the
batch size and in a dry run too: a unique key that an earlier valid row gave up is free, one
it took is refused, and a refused row takes none (`_check_unique`). The one difference left
is a row naming the Database ID of a record an earlier row of the same batch creates (or a
dry run would create): it is refused as unknown rather than as a duplicate of that row.

An import never changes what lies outside the requester's reach, neither adding nor
removing: a multi-valued cell replaces the part of the stored set inside the reach, and the
stored names outside it stay, listed or not (`_Linked`, `_check_products`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.csv_in import Header
from jobs.import_rows import RowDraft, RowOutcome, RowResult
from jobs.import_spec import EntitySpec, Link, Unique
from jobs.import_writes import RosterWrites, StatementWrites
from jobs.passwords import verify_password
from schemas.codecs import colon_hint
from schemas.columns import Column
from schemas.products import Product
from schemas.scope import Role, Scope
from storage import references
from storage.models import ImportRowResult, Student
from storage.references import Reference, name_key


@dataclass(frozen=True)
class ImportPlan:
    """Everything the checks need about the job: who asks, for what, with which columns."""

    job_id: str
    scope: Scope
    spec: EntitySpec
    header: Header
    columns: dict[str, Column]  # attr -> the file's column for it
    purchased: tuple[Product, ...]
    dry_run: bool
    taught_class_ids: frozenset[int] = frozenset()
    writes: RosterWrites = field(default_factory=StatementWrites)
    """How the batch reaches the database, and so how earlier rows are found: chosen once
    per run (`jobs.imports`), the same answers either way."""
    rows: tuple[int, int] | None = None
    """The job's row numbers this plan's rows have (lowest, highest): earlier rows are
    looked for among them only, as a job of several files gives each its own range
    (`jobs.oneroster_in`); None: every row of the job."""
    new_students_need_password: bool = True
    """False where students sign in through their school's system (a OneRoster import)."""


@dataclass(slots=True)
class Decision:
    draft: RowDraft
    stored: dict[str, Any] | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    link_ids: dict[str, set[Any]] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)
    outcome: RowOutcome = RowOutcome.FAILED
    created_id: int | None = None

    def header(self, plan: ImportPlan, attr: str) -> str:
        return self.header_of(plan, attr)

    @staticmethod
    def header_of(plan: ImportPlan, attr: str) -> str:
        column = plan.columns.get(attr)
        return column.header if column else attr

    @property
    def record_id(self) -> int | None:
        """The record the row names, or the one it created."""
        return self.created_id or self.draft.record_id

    def result(self) -> RowResult:
        """The row's result, as it is stored and reported."""
        return RowResult(self.draft.row, self.outcome, tuple(self.draft.errors), self.record_id)


PasswordChecks = Callable[[Sequence[tuple[str, str | None]]], list[bool]]
"""Verifies each `(password, stored hash)`; `jobs.password_pool` spreads them over processes."""


def verify_each(pairs: Sequence[tuple[str, str | None]]) -> list[bool]:
    return [verify_password(password, stored) for password, stored in pairs]


def decide_batch(
    session: Session,
    plan: ImportPlan,
    drafts: Sequence[RowDraft],
    *,
    verify: PasswordChecks = verify_each,
) -> list[Decision]:
    decisions = [Decision(draft) for draft in drafts]
    _match(session, plan, decisions)
    _resolve_links(session, plan, decisions)
    # the rules first: a row they refuse claims no unique key, as in a batch of its own
    locked = [p.access_attr for p in plan.purchased if p.access_locked]
    for decision in decisions:
        _check_rules(plan, decision, locked)
    _check_unique(session, plan, decisions)
    same_password = _same_passwords(session, plan, decisions, verify)
    for decision in decisions:
        _diff(plan, decision, same_password)
    return decisions


# --- match -------------------------------------------------------------------------------


def _match(session: Session, plan: ImportPlan, decisions: list[Decision]) -> None:
    ids = tuple({d.draft.record_id for d in decisions if d.draft.record_id is not None})
    stored = {row["id"]: row for row in plan.spec.load(session, plan.scope, ids)} if ids else {}
    first_rows = _earlier_rows(session, plan, ImportRowResult.record_id, ids)
    for decision in decisions:
        record_id = decision.draft.record_id
        if record_id is None:
            continue
        if record_id in first_rows:
            decision.draft.refuse("Database ID", f"duplicate of row {first_rows[record_id]}.")
        elif record_id not in stored:
            decision.draft.refuse(
                "Database ID",
                f"no {plan.spec.noun} with Database ID {record_id} is in your roster.",
            )
        else:
            decision.stored = stored[record_id]
            _undo_lost_zeros(decision)
        first_rows.setdefault(record_id, decision.draft.row)


def _undo_lost_zeros(decision: Decision) -> None:
    """An External Assigned ID that a spreadsheet stripped of its leading zeros is the
    stored one, not a change (and not a clash with another record's shorter ID)."""
    new = decision.draft.values.get("external_id")
    old = (decision.stored or {}).get("external_id")
    if not (isinstance(new, str) and isinstance(old, str)) or new == old:
        return
    if new.isdigit() and old.isdigit() and old.lstrip("0") == new.lstrip("0"):
        decision.draft.values["external_id"] = old


def _earlier_rows(
    session: Session, plan: ImportPlan, column: Any, keys: Sequence[Any]
) -> dict[Any, int]:
    """The first row of this job, before this batch, that named each key."""
    if not keys:
        return {}
    return plan.writes.earlier_rows(session, plan.job_id, column, keys, rows=plan.rows)


# --- references --------------------------------------------------------------------------


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _resolve_links(session: Session, plan: ImportPlan, decisions: list[Decision]) -> None:
    for link in plan.spec.links:
        if link.attr not in plan.columns:
            continue
        if link.resolve is None:
            _check_products(plan, link, decisions)
            continue
        lists = {_names(d.draft.values.get(link.attr)) for d in decisions}
        if _keeps_outside(plan, link):  # the stored names outside the reach are kept
            lists |= {_names((d.stored or {}).get(link.attr)) for d in decisions}
        keys = {name: name_key(name) for names in lists for name in names}
        found = link.resolve(session, plan.scope.district_id, set(keys.values()))
        reach = _within_reach(session, plan, link, found.values())
        linked = _Linked(plan, link, found, keys, reach)
        for decision in decisions:
            linked.row(decision)


def _keeps_outside(plan: ImportPlan, link: Link) -> bool:
    """Whether a record's stored set of this link may hold names outside the requester's
    reach, which the row's cell then neither removes nor needs to list. A single school
    (a class's) is not a set: it is only ever replaced, and only from inside the reach."""
    return plan.scope.role is not Role.DISTRICT_ADMIN and link.table is not None


class _Linked:
    """One link's cells of a batch resolved: each row's ids, or its refusals. The answer
    for a list of names that did not depend on the row's stored record is kept for the
    rows that give the same list (most rows of a district name the same few schools).

    An import never changes what lies outside the requester's reach (`reach`, the ids of
    the named records they may change): a cell replaces the part of the stored set inside
    the reach, and the stored names outside it stay, listed in the cell or not."""

    def __init__(
        self,
        plan: ImportPlan,
        link: Link,
        found: dict[str, Reference],
        keys: dict[str, str],
        reach: frozenset[int],
    ) -> None:
        self._plan, self._link, self._found, self._keys = plan, link, found, keys
        self._reach = reach
        self._keeps = _keeps_outside(plan, link)
        self._header = Decision.header_of(plan, link.attr)
        self._known: dict[tuple[str, ...], tuple[frozenset[Any], tuple[str, ...]]] = {}

    def row(self, decision: Decision) -> None:
        attr = self._link.attr
        if attr not in decision.draft.values:
            return
        names = _names(decision.draft.values[attr])
        known = self._known.get(names)
        if known is None:
            ids, refusals, by_stored = self._resolved(decision, names)
            known = (frozenset(ids), tuple(refusals))
            if not by_stored:
                self._known[names] = known
        for message in known[1]:
            decision.draft.refuse(self._header, message)
        decision.link_ids[attr] = set(known[0])
        if self._keeps and decision.stored:
            self._keep_outside(decision, names)

    def _keep_outside(self, decision: Decision, names: tuple[str, ...]) -> None:
        """Add back the stored names outside the reach that the cell left out, so the
        record keeps them and the diff sees no change where only they differ."""
        attr = self._link.attr
        listed = {self._keys[name] for name in names}
        kept = [
            name
            for name in _names((decision.stored or {}).get(attr))
            if name_key(name) not in listed and self._outside(self._found.get(name_key(name)))
        ]
        if kept:
            decision.link_ids[attr] |= {self._found[name_key(name)].id for name in kept}
            decision.draft.values[attr] = (*names, *kept)

    def _outside(self, reference: Reference | None) -> bool:
        return reference is not None and reference.id not in self._reach

    def _resolved(
        self, decision: Decision, names: tuple[str, ...]
    ) -> tuple[set[Any], list[str], bool]:
        """The row's ids and refusals, and whether its stored record was asked."""
        link = self._link
        stored: set[str] | None = None  # the stored names' keys, read only when they matter
        ids: set[Any] = set()
        refusals: list[str] = []
        for name in names:
            key = self._keys[name]
            reference = self._found.get(key)
            if reference is None:
                hint = colon_hint(name)
                message = f"no {link.noun} named '{name}' in this district."
                refusals.append(f"{message} {hint}" if hint else message)
                continue
            if reference.id not in self._reach:
                if stored is None:
                    stored = {name_key(n) for n in _names((decision.stored or {}).get(link.attr))}
                if key not in stored:
                    refusals.append(_outside_message(self._plan, link, name))
                    continue
            ids.add(reference.id)
        return ids, refusals, stored is not None


def _within_reach(
    session: Session, plan: ImportPlan, link: Link, found: Iterable[Reference]
) -> frozenset[int]:
    """The ids among the named records that the requester may add to a record or remove
    from it: any for a district admin; a school admin's schools and their classes; a
    teacher's schools and the classes they teach; for people, those the requester's own
    export would list (`Link.reachable`)."""
    scope, references_found = plan.scope, list(found)
    if scope.role is Role.DISTRICT_ADMIN:
        return frozenset(r.id for r in references_found)
    if link.reachable is not None:
        return link.reachable(session, scope, frozenset(r.id for r in references_found))
    if link.noun == "class/group" and scope.role is Role.TEACHER:
        return frozenset(r.id for r in references_found if r.id in plan.taught_class_ids)
    return frozenset(r.id for r in references_found if r.school_id in scope.school_ids)


def _outside_message(plan: ImportPlan, link: Link, name: str) -> str:
    if link.reachable is not None:
        return f"{link.noun} '{name}' is outside your reach."
    reach = "classes/groups" if plan.scope.role is Role.TEACHER else "schools"
    return f"'{name}' is outside your {reach}."


def _check_products(plan: ImportPlan, link: Link, decisions: list[Decision]) -> None:
    """A class's products: only purchased ones may be added or removed. A product the
    district no longer has, stored on a class, lies outside every requester's reach: the
    cell neither removes it nor is refused for listing it."""
    for decision in decisions:
        products = decision.draft.values.get(link.attr)
        if products is None:
            continue
        stored = tuple((decision.stored or {}).get(link.attr) or ())
        for product in products:
            if product not in plan.purchased and product not in stored:
                decision.draft.refuse(
                    decision.header(plan, link.attr),
                    f"the district has not purchased {product.value}.",
                )
        kept = [p for p in stored if p not in plan.purchased and p not in products]
        if kept:
            decision.draft.values[link.attr] = products = (*products, *kept)
        decision.link_ids[link.attr] = {product.code for product in products}


# --- uniqueness --------------------------------------------------------------------------


def _unique_key(attr: str, value: str) -> str:
    return name_key(value) if attr in ("username", "name") else value


def _check_unique(session: Session, plan: ImportPlan, decisions: list[Decision]) -> None:
    """Each row's unique keys against the roster and the rows before it, as if each row
    were checked once the rows before it were applied: a key taken by an earlier valid row
    is refused, a key an earlier valid row gave up is free, and a row claims its keys only
    if it is valid once all of them are checked."""
    columns = [_unique_column(session, plan, unique, decisions) for unique in plan.spec.unique]
    for at, decision in enumerate(decisions):
        asked = [(column, key) for column in columns if (key := column.keys[at]) is not None]
        for column, key in asked:
            _refuse_taken(plan, column, decision, key)
        if not asked or decision.draft.errors:
            continue
        row, record_id = decision.draft.row, decision.draft.record_id
        for column, key in asked:
            decision.claims[column.unique.claim] = key
            column.earlier.setdefault(key, row)
            if record_id is not None:
                column.moved[record_id] = key


@dataclass(slots=True)
class _UniqueColumn:
    """One unique column for a batch: each row's key (None: it asks for none), the record
    holding each key, the first row of the job that claimed each, and the key an earlier
    valid row of the job gave each record it updated."""

    unique: Unique
    keys: list[str | None]
    holders: dict[str, int]
    earlier: dict[Any, int]
    moved: dict[int, str]

    def holder(self, key: str) -> int | None:
        """The record holding `key` now, if any."""
        holder = self.holders.get(key)
        if holder is not None and self.moved.get(holder, key) != key:
            return None  # an earlier row gave the key up for another
        return holder


def _unique_column(
    session: Session, plan: ImportPlan, unique: Unique, decisions: list[Decision]
) -> _UniqueColumn:
    attr = unique.attr
    keys = [
        _unique_key(attr, value)
        if (value := d.draft.values.get(attr)) and not d.draft.id_refused
        else None
        for d in decisions
    ]
    asked = {key for key in keys if key is not None}
    holders = _own_keys(unique, decisions, keys)
    holders |= references.holders(
        session,
        unique.key_column,
        plan.spec.model.__table__.c.district_id,
        plan.scope.district_id,
        asked - holders.keys(),
    )
    claim_column = getattr(ImportRowResult, unique.claim)
    wanted_from = {
        holder
        for decision, key in zip(decisions, keys, strict=True)
        if key is not None
        and (holder := holders.get(key)) is not None
        and holder != decision.draft.record_id
    }
    return _UniqueColumn(
        unique,
        keys,
        holders,
        earlier=_earlier_rows(session, plan, claim_column, list(asked)),
        moved=_moved_earlier(session, plan, claim_column, wanted_from),
    )


def _moved_earlier(
    session: Session, plan: ImportPlan, claim_column: Any, record_ids: set[int]
) -> dict[int, str]:
    """In a dry run: the key that a valid row of an earlier batch gave each of `record_ids`,
    where one did. Nothing was written, so only the row results know that the record gave
    its old key up. A real run needs no look-up: once a batch is written, its records hold
    their new keys and `references.holders` already answers who holds what. Asked only for
    records holding a key that another row of the batch wants: rare in any file."""
    if not record_ids or not plan.dry_run:
        return {}
    statement = select(ImportRowResult.record_id, claim_column).where(
        ImportRowResult.job_id == plan.job_id,
        ImportRowResult.record_id.in_(sorted(record_ids)),
        ImportRowResult.outcome != RowOutcome.FAILED.value,
        claim_column.is_not(None),
    )
    if plan.rows is not None:
        statement = statement.where(ImportRowResult.row_number.between(*plan.rows))
    return {record_id: key for record_id, key in session.execute(statement)}


def _own_keys(unique: Unique, decisions: list[Decision], keys: list[str | None]) -> dict[str, int]:
    """Keys a row keeps from its own stored record: that record holds them, and the unique
    constraint on (district, key) says no other can, so they need no look-up (an update
    file keeps nearly every username and external ID)."""
    column = unique.key_column.key
    return {
        key: decision.draft.record_id
        for decision, key in zip(decisions, keys, strict=True)
        if key is not None
        and decision.stored is not None
        and decision.draft.record_id is not None
        and decision.stored.get(column) == key
    }


def _refuse_taken(plan: ImportPlan, column: _UniqueColumn, decision: Decision, key: str) -> None:
    """Refuse the row's key if an earlier row of the job or another record has it."""
    unique, value = column.unique, decision.draft.values[column.unique.attr]
    if key in column.earlier:
        message = f"'{value}' is already used in row {column.earlier[key]} of this file."
        decision.draft.refuse(unique.header, message)
        return
    holder = column.holder(key)
    if holder is not None and holder != decision.draft.record_id:
        message = f"'{value}' is already used by another {plan.spec.noun}."
        decision.draft.refuse(unique.header, message)


def touched_keys(plan: ImportPlan, decisions: Sequence[Decision]) -> set[tuple[str, Any]]:
    """Every key the batch's checks looked up or its writes may change: the Database IDs
    named, and for each unique column the key each row asks for and the one its record
    held (as (claim column, key) pairs; `jobs.import_overlap` compares two batches')."""
    keys: set[tuple[str, Any]] = {
        ("record_id", d.draft.record_id) for d in decisions if d.draft.record_id is not None
    }
    for decision in decisions:
        keys.update(decision.claims.items())
    for unique in plan.spec.unique:
        attr = unique.attr
        # a row's value and its record's are mostly the same text: each keyed once
        values = {d.draft.values.get(attr) for d in decisions}
        values.update((d.stored or {}).get(attr) for d in decisions)
        keys.update(
            (unique.claim, _unique_key(attr, value))
            for value in values
            if isinstance(value, str) and value
        )
    return keys


# --- rules and diff ----------------------------------------------------------------------


def _same_passwords(
    session: Session, plan: ImportPlan, decisions: list[Decision], verify: PasswordChecks
) -> dict[int, bool]:
    """By row: whether the password a valid update gives is the one already stored."""
    asking = [d for d in decisions if _compares_password(d)]
    ids = [d.draft.record_id for d in asking]
    if not ids or plan.spec.model is not Student:
        return {}
    statement = select(Student.id, Student.password_hash).where(Student.id.in_(ids))
    hashes = {record_id: hashed for record_id, hashed in session.execute(statement)}
    for decision in asking:  # kept with the change, for a revert (`ImportChange.old_hash`)
        (decision.stored or {})["password_hash"] = hashes.get(decision.draft.record_id or 0)
    pairs = [(d.draft.password or "", hashes.get(d.draft.record_id or 0)) for d in asking]
    return {d.draft.row: same for d, same in zip(asking, verify(pairs), strict=True)}


def _compares_password(decision: Decision) -> bool:
    """What `_diff` will ask: a password on a row that updates a stored record."""
    draft = decision.draft
    valid_update = not draft.errors and not draft.creates and decision.stored is not None
    return valid_update and bool(draft.password) and bool(draft.record_id)


def _check_rules(plan: ImportPlan, decision: Decision, locked: Sequence[str]) -> None:
    """`locked`: the access attributes of the purchased products an import cannot remove."""
    draft, stored = decision.draft, decision.stored
    missing_password = not draft.password and "Password" not in draft.refused
    needs_password = plan.spec.model is Student and plan.new_students_need_password
    if draft.creates and needs_password and missing_password:
        draft.refuse("Password", "is required for a new student.")
    if not stored:
        return
    for attr in locked:
        if stored.get(attr) and draft.values.get(attr) is False:
            product = next(p for p in plan.purchased if p.access_attr == attr)
            draft.refuse(
                decision.header(plan, attr),
                f"access to {product.value} cannot be removed by an import; contact Customer Care.",
            )


def _diff(plan: ImportPlan, decision: Decision, same_password: dict[int, bool]) -> None:
    draft = decision.draft
    if draft.errors:
        decision.outcome = RowOutcome.FAILED
        return
    if draft.creates:
        decision.outcome = RowOutcome.CREATED
        return
    if decision.stored is None:
        decision.outcome = RowOutcome.FAILED
        return
    stored, values = decision.stored, draft.values
    # equal values are the same in every sense of `_same`: a quick answer for most cells
    for attr in [attr for attr, value in values.items() if stored.get(attr) != value]:
        old, new = stored.get(attr), values[attr]
        if not _same(attr, old, new):
            decision.changes[attr] = (old, new)
    if draft.password and not same_password.get(draft.row, False):
        decision.changes["password"] = (stored.get("password_hash"), None)
    decision.outcome = RowOutcome.UPDATED if decision.changes else RowOutcome.UNCHANGED


def _same(attr: str, old: Any, new: Any) -> bool:
    """Equal as the roster means it: name lists as case-insensitive sets, an empty cell as
    an empty list."""
    if isinstance(new, tuple) or isinstance(old, tuple):
        return _as_set(new) == _as_set(old)
    if attr == "school":
        return name_key(old or "") == name_key(new or "")
    return bool(old == new)


def _as_set(values: Any) -> frozenset[Any]:
    return frozenset(name_key(v) if isinstance(v, str) else v for v in (values or ()))


def count_outcomes(results: Sequence[tuple[str, int]]) -> dict[str, int]:
    """`created`, `updated`, `unchanged` and `failed`, zero when none."""
    counts = {o.value: 0 for o in RowOutcome if o is not RowOutcome.NOT_PROCESSED}
    for outcome, number in results:
        counts[outcome] = counts.get(outcome, 0) + number
    return counts
