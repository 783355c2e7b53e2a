"""`rosterjobs demo`: the main jobs on the embedded defaults, start to end.

Seeds a demo district under ./var (once), exports its students with every column as the
district admin, edits the file as a teacher would in a spreadsheet (a grade, a name with an
accent, a class added) plus two bad rows, imports it, and prints the counts and where the
result and errors files are. Everything goes through the same queue, worker and pipelines
as any other job.
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
    edited = _edit(rt.jobs.store, exported, rt.settings.base_dir / "var" / "demo")
    print(f"edited 3 rows and added 2 bad rows: {edited}")
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


def _edit(store: ObjectStore, exported: dict[str, Any], folder: Path) -> Path:
    """The export with a teacher's edits: rows 2-4 changed, two bad rows appended."""
    key = f"exports/{exported['district_id']}/{exported['id']}/students.csv"
    with store.open_read(key) as raw:
        table = list(csv.reader(io.StringIO(raw.read().decode("utf-8-sig"), newline="")))
    header, rows = table[0], table[1:]
    col = {name: i for i, name in enumerate(header)}
    rows[0][col["Grade"]] = "5" if rows[0][col["Grade"]] != "5" else "6"
    rows[1][col["First Name"]] = "Zoë"
    _add_a_class(rows[2], rows, col)
    bad_grade = list(rows[3])
    bad_grade[col["Grade"]] = "13"
    bad_class = list(rows[4])
    bad_class[col["Classes/Groups"]] = "Room 999"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "students-edited.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([header, *rows[:3], bad_grade, bad_class])
    return path


def _add_a_class(row: list[str], rows: list[list[str]], col: dict[str, int]) -> None:
    """Add to `row` a class/group of another student of the same school."""
    mine = set(row[col["Classes/Groups"]].split(";"))
    for other in rows:
        if other[col["Organizations"]] == row[col["Organizations"]]:
            extra = set(other[col["Classes/Groups"]].split(";")) - mine
            if extra:
                row[col["Classes/Groups"]] = ";".join(sorted(mine | {min(extra)}))
                return
