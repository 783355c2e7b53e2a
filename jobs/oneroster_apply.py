"""The OneRoster sections the entities' checks do not cover: orgs (schools) and enrollments
(class membership), decided and written a batch at a time, one result per row.

- orgs: the `district` row names the district (its sourcedId is stored); a `school` row
  matches a school by sourcedId, then by name, and renames it, or creates it (district
  admins only); a school admin's rows name their own schools only; other org types are
  skipped and counted in the warnings;
- enrollments: the class and the user must be named by the set or the roster and be
  inside the requester's reach; `student` rows are class students, `teacher` and
  `administrator` rows class educators, other roles skipped and counted; an active row adds
  the membership (`created`, `unchanged` if it is there), `tobedeleted` removes it.

A dry run decides exactly as a real run and writes nothing but the results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from jobs.import_rows import RowOutcome
from jobs.oneroster_rows_in import (
    Result,
    Row,
    deactivating,
    reachable_classes,
    reachable_users,
    references,
    user_model,
)
from jobs.oneroster_rows_in import (
    unknown as _unknown,
)
from schemas.scope import Role, Scope
from storage import oneroster_refs
from storage.models import Educator, ImportChange, School, Student


@dataclass
class SectionContext:
    job_id: str
    scope: Scope
    dry_run: bool
    skipped: Counter[str] = field(default_factory=Counter)
    matched: dict[str, dict[str, int]] = field(default_factory=dict)
    """sourcedIds this run matched otherwise than by sourcedId (a school by its name), by
    kind: later files' references to them resolve, in a dry run too."""


def org_results(session: Session, run: SectionContext, rows: Sequence[Row]) -> list[Result]:
    schools = [(n, c) for n, c in rows if c.get("type", "").strip().lower() == "school"]
    wanted = {"school": {cells["sourcedId"] for _, cells in schools}}
    refs = references(session, run.scope.district_id, wanted, run.matched)
    by_name = oneroster_refs.school_by_name(
        session, run.scope.district_id, [c["name"] for _, c in schools]
    )
    results = []
    for number, cells in rows:
        kind = cells.get("type", "").strip().lower()
        if kind == "district":
            results.append(_district(session, run, number, cells))
        elif kind == "school":
            school_id = refs.find("school", cells["sourcedId"])
            if school_id is None:
                school_id = _by_name(session, run, cells, by_name)
            results.append(
                _school(session, run, number, cells, school_id=school_id, names=refs.school_names)
            )
        else:
            run.skipped[f"org type {kind or '(none)'}"] += 1
            results.append(Result(number, RowOutcome.UNCHANGED))
    return results


def _by_name(
    session: Session, run: SectionContext, cells: dict[str, str], by_name: dict[str, int]
) -> int | None:
    """A school no sourcedId names, found by its name: it takes the row's sourcedId (if it
    has none), so the set's other files, and later sets, reach it by it."""
    school_id = by_name.get(cells["name"].strip().lower())
    if school_id is not None:
        run.matched.setdefault("school", {})[cells["sourcedId"]] = school_id
        if not run.dry_run:
            oneroster_refs.store_missing_sourced_id(session, School, school_id, cells["sourcedId"])
    return school_id


def _district(session: Session, run: SectionContext, number: int, cells: dict[str, str]) -> Result:
    if run.scope.role is Role.DISTRICT_ADMIN and not run.dry_run:
        oneroster_refs.set_district_sourced_id(session, run.scope.district_id, cells["sourcedId"])
    return Result(number, RowOutcome.UNCHANGED)


def _school(
    session: Session,
    run: SectionContext,
    number: int,
    cells: dict[str, str],
    *,
    school_id: int | None,
    names: dict[int, str],
) -> Result:
    name = cells["name"].strip()
    if not name or len(name) > 200:
        return _refused(number, "name: a school's name has 1 to 200 characters.")
    if deactivating(cells):
        return _refused(number, "status: a school is not deactivated by an import.", school_id)
    if school_id is None:
        return _new_school(session, run, number, name, cells["sourcedId"])
    if run.scope.role is not Role.DISTRICT_ADMIN and school_id not in run.scope.school_ids:
        return _refused(number, "sourcedId: this school is outside your schools.")
    old = names.get(school_id)
    if old is None or old == name:
        return Result(number, RowOutcome.UNCHANGED, record_id=school_id)
    if not run.dry_run:
        oneroster_refs.rename_school(session, school_id, name)
        _change(session, run, school_id, number, column="Organization", old=old, new=name)
    return Result(number, RowOutcome.UPDATED, record_id=school_id)


def _new_school(
    session: Session, run: SectionContext, number: int, name: str, sourced_id: str
) -> Result:
    if run.scope.role is not Role.DISTRICT_ADMIN:
        return _refused(number, "sourcedId: only a district administrator creates schools.")
    if run.dry_run:
        return Result(number, RowOutcome.CREATED)
    new_id = oneroster_refs.create_school(session, run.scope.district_id, name, sourced_id)
    _change(session, run, new_id, number, column="Organization", old=None, new=name)
    return Result(number, RowOutcome.CREATED, record_id=new_id)


def _refused(number: int, error: str, record_id: int | None = None) -> Result:
    return Result(number, RowOutcome.FAILED, (error,), record_id)


def _change(
    session: Session,
    run: SectionContext,
    record_id: int,
    number: int,
    *,
    column: str,
    old: str | None,
    new: str | None,
    entity: str = "schools",
) -> None:
    session.add(
        ImportChange(
            job_id=run.job_id,
            entity=entity,
            record_id=record_id,
            row_number=number,
            column=column,
            old_value=old,
            new_value=new,
        )
    )


@dataclass(frozen=True)
class _Enrollment:
    number: int
    class_id: int
    user_id: int
    link: Any
    other: str
    removes: bool


def enrollment_results(session: Session, run: SectionContext, rows: Sequence[Row]) -> list[Result]:
    wanted: dict[str, set[str]] = {"class": set(), "student": set(), "educator": set()}
    for _, cells in rows:
        wanted["class"].add(cells["classSourcedId"])
        role = user_model(cells.get("role", ""))
        if role is not None:
            wanted[role[1]].add(cells["userSourcedId"])
    refs = references(session, run.scope.district_id, wanted, run.matched)
    decided: dict[int, Result] = {}
    memberships: list[_Enrollment] = []
    for number, cells in rows:
        found = _enrollment(run, refs, number, cells)
        if isinstance(found, Result):
            decided[number] = found
        else:
            memberships.append(found)
    decided |= _reach(session, run, memberships)
    kept = [m for m in memberships if m.number not in decided]
    decided |= _apply_memberships(session, run, kept)
    return [decided[number] for number, _ in rows]


def _enrollment(
    run: SectionContext, refs: Any, number: int, cells: dict[str, str]
) -> Result | _Enrollment:
    role = user_model(cells.get("role", ""))
    if role is None:
        run.skipped[f"enrollment role {cells.get('role', '').strip().lower() or '(none)'}"] += 1
        return Result(number, RowOutcome.UNCHANGED)
    _, kind, link, other = role
    class_id = refs.find("class", cells["classSourcedId"])
    user_id = refs.find(kind, cells["userSourcedId"])
    errors = []
    if class_id is None:
        errors.append(f"classSourcedId: {_unknown('class', cells['classSourcedId'])}")
    if user_id is None:
        errors.append(f"userSourcedId: {_unknown(kind, cells['userSourcedId'])}")
    if class_id is None or user_id is None:
        return Result(number, RowOutcome.FAILED, tuple(errors))
    return _Enrollment(number, class_id, user_id, link, other, deactivating(cells))


def _reach(
    session: Session, run: SectionContext, memberships: list[_Enrollment]
) -> dict[int, Result]:
    classes_ok = reachable_classes(session, run.scope, {m.class_id for m in memberships})
    users_ok: dict[Any, frozenset[int]] = {}
    for model in (Student, Educator):
        ids = {
            m.user_id
            for m in memberships
            if m.other == ("student_id" if model is Student else "educator_id")
        }
        users_ok[model] = reachable_users(session, run.scope, model, ids)
    refused: dict[int, Result] = {}
    for m in memberships:
        model = Student if m.other == "student_id" else Educator
        if m.class_id not in classes_ok:
            refused[m.number] = _refused(
                m.number, "classSourcedId: this class is outside your reach."
            )
        elif m.user_id not in users_ok[model]:
            refused[m.number] = _refused(
                m.number, "userSourcedId: this user is outside your reach."
            )
    return refused


def _apply_memberships(
    session: Session, run: SectionContext, memberships: list[_Enrollment]
) -> dict[int, Result]:
    results: dict[int, Result] = {}
    for link, other in {(m.link, m.other) for m in memberships}:
        mine = [m for m in memberships if m.link is link]
        held = oneroster_refs.existing_links(
            session, link, other, {(m.class_id, m.user_id) for m in mine}
        )
        adds: set[tuple[int, int]] = set()
        removes: set[tuple[int, int]] = set()
        for m in mine:
            pair = (m.class_id, m.user_id)
            there = (pair in held or pair in adds) and pair not in removes
            if m.removes:
                outcome = RowOutcome.UPDATED if there else RowOutcome.UNCHANGED
                if there:
                    removes.add(pair)
                    adds.discard(pair)
            else:
                outcome = RowOutcome.UNCHANGED if there else RowOutcome.CREATED
                if not there:
                    adds.add(pair)
                    removes.discard(pair)
            results[m.number] = Result(m.number, outcome, record_id=m.class_id)
        if not run.dry_run:
            oneroster_refs.remove_links(session, link, other, removes & held)
            oneroster_refs.add_links(session, link, other, adds - held)
            _membership_changes(session, run, mine, results)
    return results


def _membership_changes(
    session: Session, run: SectionContext, mine: list[_Enrollment], results: dict[int, Result]
) -> None:
    column = "Students" if mine and mine[0].other == "student_id" else "Educators"
    model = Student if column == "Students" else Educator
    names = oneroster_refs.names_of(session, model.username, {m.user_id for m in mine})
    for m in mine:
        outcome = results[m.number].outcome
        if outcome is RowOutcome.CREATED:
            new, old = names.get(m.user_id), None
        elif outcome is RowOutcome.UPDATED:
            new, old = None, names.get(m.user_id)
        else:
            continue
        _change(
            session, run, m.class_id, m.number, column=column, old=old, new=new, entity="classes"
        )
