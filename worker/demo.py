"""`rosterjobs demo`: the main jobs on the embedded defaults, start to end.

Seeds a demo district under ./var (once), exports its students with every column as the
district admin, edits the file as a teacher would in a spreadsheet (a grade, a name with an
accent, a class added) plus two bad rows, imports it, and prints the counts and where the
result and errors files are. Everything goes through the same queue, worker and pipelines
as any other job.

Each edit is made against the value the export holds now, so it always changes something:
a rerun prints the same counts (updated 3, failed 2) as the first run, and says what it
changed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from jobs.requests import ExportRequest, ImportRequest
from jobs.views import job_object
from storage import job_records
from storage.db import upgrade
from storage.objects import ObjectStore
from storage.seed import SeedSummary, seed_district
from worker import submit
from worker.runtime import Runtime

DEMO_DISTRICT = "Demo District"


def run_demo(rt: Runtime, *, students: int) -> int:
    upgrade(rt.engine)
    print(f"seeding {DEMO_DISTRICT!r} with {students} students (once)…", flush=True)
    summary = seed_district(rt.engine, name=DEMO_DISTRICT, students=students, random_seed=7)
    exported = _export(rt, summary)
    if exported["status"] != "completed":
        print(f"export {exported['status']}: {exported['error']}")
        return 1
    print(f"exported {exported['counts'].get('rows', 0)} students")
    print(f"students CSV: {exported['result_url']}")
    edited, changes = _edit(rt.jobs.store, exported, rt.settings.base_dir / "var" / "demo")
    print(f"edited 3 rows and added 2 bad rows: {edited}")
    for change in changes:
        print(f"  {change}")
    imported = _import(rt, summary, edited)
    counts = ", ".join(f"{name} {n}" for name, n in imported["counts"].items())
    print(f"import {imported['status']}: {counts}")
    print(f"result file: {imported['result_url']}")
    print(f"errors file: {imported['error_report_url']}")
    return 0 if imported["status"] in ("completed", "completed_with_errors") else 1


def _export(rt: Runtime, summary: SeedSummary) -> dict[str, Any]:
    request = ExportRequest(
        district=str(summary.district_id),
        username=summary.district_admin,
        entity="students",
        columns=None,
    )
    job_id = submit.export_job(rt, request)
    print(f"exporting students as {summary.district_admin} (job {job_id})…", flush=True)
    submit.send(rt, submit.EXPORT_ACTOR, job_id, wait=True, show_progress=True)
    return _view(rt, job_id)


def _import(rt: Runtime, summary: SeedSummary, path: Path) -> dict[str, Any]:
    request = ImportRequest(
        district=str(summary.district_id),
        username=summary.district_admin,
        entity="students",
        filename=path.name,
    )
    job_id = submit.import_job(rt, request, path)
    print(f"importing {path.name} (job {job_id})…", flush=True)
    submit.send(rt, submit.IMPORT_ACTOR, job_id, wait=True, show_progress=True)
    return _view(rt, job_id)


def _view(rt: Runtime, job_id: str) -> dict[str, Any]:
    with rt.jobs.sessions() as session:
        job = job_records.get(session, job_id)
        assert job is not None
        return job_object(job, rt.jobs.store, link_ttl=rt.settings.link_ttl)


def _edit(store: ObjectStore, exported: dict[str, Any], folder: Path) -> tuple[Path, list[str]]:
    """The export with a teacher's edits, each made against the value it holds now (so a
    rerun changes as many rows as the first run): rows 2-4 changed, two bad rows appended.
    Answers the file and one line per edit."""
    key = f"exports/{exported['district_id']}/{exported['id']}/students.csv"
    with store.open_read(key) as raw:
        table = list(csv.reader(io.StringIO(raw.read().decode("utf-8-sig"), newline="")))
    header, rows = table[0], table[1:]
    col = {name: i for i, name in enumerate(header)}
    changes = [
        _set(rows[0], col, 2, "Grade", "5" if rows[0][col["Grade"]] != "5" else "6"),
        _set(rows[1], col, 3, "First Name", _ACCENTED[rows[1][col["First Name"]] == "Zoë"]),
        _set(rows[2], col, 4, "Classes/Groups", _other_classes(rows[2], rows, col)),
    ]
    bad_grade, bad_class = list(rows[3]), list(rows[4])
    changes.append(_set(bad_grade, col, 5, "Grade", "13") + " (refused: not a grade)")
    changes.append(
        _set(bad_class, col, 6, "Classes/Groups", "Room 999") + " (refused: no such class)"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "students-edited.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([header, *rows[:3], bad_grade, bad_class])
    return path, changes


_ACCENTED = ("Zoë", "Zoé")
"""The name the demo gives row 3: Zoë, or Zoé when it is Zoë already."""


def _set(row: list[str], col: dict[str, int], number: int, column: str, value: str) -> str:
    """Set `row`'s cell and say so, as `row N: Column 'old' → 'new'`."""
    old, row[col[column]] = row[col[column]], value
    return f"row {number}: {column} {old!r} → {value!r}"


def _other_classes(row: list[str], rows: list[list[str]], col: dict[str, int]) -> str:
    """`row`'s classes/groups with one more, a class of another student of the same school;
    when the row has them all already, without its last one."""
    mine = [name for name in row[col["Classes/Groups"]].split(";") if name]
    for other in rows:
        if other[col["Organizations"]] == row[col["Organizations"]]:
            extra = set(other[col["Classes/Groups"]].split(";")) - set(mine) - {""}
            if extra:
                return ";".join(sorted({*mine, min(extra)}))
    return ";".join(mine[:-1])
