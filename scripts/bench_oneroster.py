"""The OneRoster measurements of `scripts/bench.py` (its `oneroster` group), each run in a
child process of its own like the others.

- `export_oneroster_1m_*`: the OneRoster export of the 1,000,000-student district (as its
  best-reaching district admin) into the folder store, against the sum of the `COPY`
  baselines of its selects (the same selects `storage.oneroster_rows` writes, each copied
  to a file), run in the same child;
- `import_oneroster_100k_*`: the 100,000-student district's own OneRoster export imported
  into an empty district: rows per second over all files, peak RSS.
"""

from __future__ import annotations

import time
from typing import Any

from bench import OBJECTS, WORK, admin_of, context, cpu_meter, is_postgres, prefixed


def child_export_oneroster(url: str, name: str) -> dict[str, Any]:
    ctx = context(url)
    with cpu_meter(ctx) as cpu:
        started = time.perf_counter()
        key, counts = oneroster_file(ctx, name)
        seconds = time.perf_counter() - started
    path = OBJECTS / key
    result: dict[str, Any] = {
        "s": round(seconds, 2),
        "rows": counts["rows"],
        "rows_per_s": round(counts["rows"] / seconds),
        "users": counts["users"],
        "enrollments": counts["enrollments"],
        "zip_mb": round(path.stat().st_size / 1024**2, 1),
    } | cpu
    path.unlink()
    if is_postgres(url):
        with cpu_meter(ctx) as copy_cpu:
            baseline = copy_baseline(ctx, name)
        result |= {"copy_baseline_s": baseline, "ratio_vs_copy": round(seconds / baseline, 2)}
        result |= prefixed("copy_baseline", copy_cpu)
        if copy_cpu.get("cpu_s") and cpu.get("cpu_s"):
            result["cpu_ratio_vs_copy"] = round(cpu["cpu_s"] / copy_cpu["cpu_s"], 2)
    return result


def oneroster_file(ctx: Any, name: str) -> tuple[str, dict[str, int]]:
    from jobs.export import run_export
    from jobs.lifecycle import run_job
    from jobs.requests import ExportRequest, submit_export
    from storage.db import unit_of_work
    from storage.models import Job

    district, admin = admin_of(ctx, name)
    request = ExportRequest(district=district, username=admin, entity="", format="oneroster")
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "completed", job and job.error
        return str(job.result_key), dict(job.counts)


def copy_baseline(ctx: Any, name: str) -> float:
    """Each select of the set as `COPY … TO STDOUT (FORMAT csv)` into a file, one after
    the other: the same rows and cells, without the zip or any Python per row."""
    import datetime as dt

    from jobs.oneroster_out import file_parts
    from jobs.requests import ExportRequest, plan_oneroster
    from schemas.oneroster import school_year
    from storage.export_copy import copy_records
    from storage.oneroster_rows import SetContext

    district, admin = admin_of(ctx, name)
    request = ExportRequest(district=district, username=admin, entity="", format="oneroster")
    year = school_year(dt.date.today())
    target = WORK / "oneroster-copy-baseline.csv"
    started = time.perf_counter()
    with ctx.sessions() as session, target.open("wb") as out:
        scope = plan_oneroster(session, request)
        set_context = SetContext(scope, False, "2026-01-01T00:00:00Z", "d", f"session-{year}")
        for _, parts in file_parts(set_context, year):
            for part in parts:
                with copy_records(session, part) as records:
                    for record in records:
                        out.write(record)
    seconds = time.perf_counter() - started
    target.unlink()
    return round(seconds, 2)


TARGET = "Bench OneRoster target"


def child_import_oneroster(url: str, name: str) -> dict[str, Any]:
    """`import_oneroster_100k_*`: the district's own OneRoster export imported into an
    empty district (one school and its administrator), over every file of the set."""
    from bench import submit_file, timed_import

    ctx = context(url)
    key, _ = oneroster_file(ctx, name)
    source = OBJECTS / key
    empty_target(ctx)
    job_id = submit_file(ctx, TARGET, source, "oneroster", dry_run=False)
    result = timed_import(ctx, job_id)
    source.unlink()
    return result


def empty_target(ctx: Any) -> None:
    """The target district, emptied: one school, and its administrator."""
    from sqlalchemy import delete

    from storage.db import unit_of_work
    from storage.models import District, Educator, EducatorSchool, School

    with unit_of_work(ctx.sessions) as session:
        session.execute(delete(District).where(District.name == TARGET))
    with unit_of_work(ctx.sessions) as session:
        district = District(name=TARGET)
        session.add(district)
        session.flush()
        school = School(district_id=district.id, name="Landing School")
        admin = Educator(
            district_id=district.id,
            first_name="Bench",
            last_name="Admin",
            username="admin@target.example.org",
            username_key="admin@target.example.org",
            educator_type="Admin",
        )
        session.add_all([school, admin])
        session.flush()
        session.add(EducatorSchool(educator_id=admin.id, school_id=school.id))
