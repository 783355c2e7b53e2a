"""The import file of the crash tests: a district's own export, edited as a teacher would.

Every seventh row is changed in one way: its grade, its last name (with an accent), its
English Learner answer, a bad grade (`13`), an unknown school, an External Assigned ID in
scientific notation, or a new password; the other rows come back unchanged. New students
(an empty Database ID, a password) are spread through the file, so some are committed
before the kill, some may be in the batch it interrupts and the rest come after. The last
rows are refused because of earlier ones, far above them in the file: a Database ID, a
username and an External Assigned ID that a row before the kill already used, and a new
student without a password.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

GRADES = ("PK", "K", *(str(grade) for grade in range(1, 13)))
EL_FLIPPED = {"Yes": "No", "No": "Yes", "": "Yes"}


@dataclass(frozen=True)
class ImportFile:
    """The edited file and what an import of it must report."""

    data: bytes
    rows: int
    expected: dict[str, int]
    passwords: dict[str, str] = field(default_factory=dict)
    """Password set by each applied row that has one, by username (case-folded)."""


@dataclass
class _Draft:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    )
    passwords: dict[str, str] = field(default_factory=dict)

    def add(self, cells: list[str], outcome: str) -> None:
        self.rows.append(cells)
        self.counts[outcome] += 1

    def cell(self, cells: list[str], name: str) -> str:
        return cells[self.header.index(name)]

    def set(self, cells: list[str], name: str, value: str) -> list[str]:
        cells = list(cells)
        cells[self.header.index(name)] = value
        return cells


def edited_export(exported: bytes, *, creates: int, password_changes: int) -> ImportFile:
    """`exported` (an all-columns students export) edited as the module docstring says."""
    table = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
    draft = _Draft(header=table[0])
    data = table[1:]
    create_after = {len(data) * (n + 1) // (creates + 1): n for n in range(creates)}
    sevens = len(data) // 7
    new_passwords = {6 + 7 * (sevens * n // password_changes) for n in range(password_changes)}
    for index, cells in enumerate(data):
        _edit(draft, index, cells, password=index in new_passwords)
        if index in create_after:
            _create(draft, cells, create_after[index])
    _refused_by_earlier_rows(draft, data)
    return ImportFile(_csv(draft), len(draft.rows), draft.counts, draft.passwords)


def _edit(draft: _Draft, index: int, cells: list[str], *, password: bool) -> None:
    kind = index % 7
    if kind == 1:
        grade = draft.cell(cells, "Grade")
        changed = GRADES[(GRADES.index(grade) + 1) % len(GRADES)]
        draft.add(draft.set(cells, "Grade", changed), "updated")
    elif kind == 2:
        draft.add(
            draft.set(cells, "Last Name", draft.cell(cells, "Last Name") + "-Peña"), "updated"
        )
    elif kind == 3:
        answer = EL_FLIPPED[draft.cell(cells, "English Learner")]
        draft.add(draft.set(cells, "English Learner", answer), "updated")
    elif kind == 4 and index % 2 == 0:
        draft.add(draft.set(cells, "Grade", "13"), "failed")
    elif kind == 5 and index % 3 == 2:
        draft.add(draft.set(cells, "Organizations", "Nowhere Elementary"), "failed")
    elif kind == 0 and index % 700 == 0:
        draft.add(draft.set(cells, "External Assigned ID", "1.23E+11"), "failed")
    elif password:
        secret = f"Sunrise-{index}"
        draft.passwords[draft.cell(cells, "Username").lower()] = secret
        draft.add(draft.set(cells, "Password", secret), "updated")
    else:
        draft.add(cells, "unchanged")


def _create(draft: _Draft, neighbour: list[str], number: int) -> None:
    """A new student in the neighbour's school and classes (valid cells to start from)."""
    username = f"new.crash{number:04d}"
    values = {
        "Database ID": "",
        "First Name": "Newton",
        "Last Name": f"Crash{number}",
        "Username": username,
        "Password": f"Welcome-{number}",
        "External Assigned ID": f"NEW{number:06d}",
    }
    cells = neighbour
    for name, value in values.items():
        cells = draft.set(cells, name, value)
    draft.passwords[username] = values["Password"]
    draft.add(cells, "created")


def _refused_by_earlier_rows(draft: _Draft, data: list[list[str]]) -> None:
    """Rows refused because of rows far above them (committed before any kill)."""
    template = data[-1]
    draft.add(data[3], "failed")  # duplicate of row 5
    clashes = [
        {"Username": "NEW.CRASH0000", "External Assigned ID": "NEW900000"},
        {"Username": "new.same.external", "External Assigned ID": "NEW000000"},
        {"Username": "new.no.password", "External Assigned ID": "NEW900001", "Password": ""},
    ]
    for clash in clashes:
        cells = draft.set(template, "Database ID", "")
        cells = draft.set(cells, "Password", "Welcome-x")
        for name, value in clash.items():
            cells = draft.set(cells, name, value)
        draft.add(cells, "failed")


def _csv(draft: _Draft) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(draft.header)
    writer.writerows(draft.rows)
    return out.getvalue().encode("utf-8-sig")
