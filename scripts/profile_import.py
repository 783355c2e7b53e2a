"""Where an import's time goes: the 100,000-row update file of `make bench`, under cProfile.

Builds or reuses a database `rosterjobs_profile` on the local Postgres server with a
100,000-student district, exports it, changes the grade of 90 % of the rows and refuses
10 % (grade 13), then imports that file and prints the wall time, rows/s, peak RSS and the
functions that took the most time. Not part of `make bench`.

    python scripts/profile_import.py [--dry-run] [--general] [--no-profile] [--xlsx] [--top 40]
        [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

`--general` runs the general path (the reference the fast path must equal). Each import
is a new job, so the roster moves on a grade per real run: the edit is relative to the
export it starts from, and every run has the same shape.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench  # noqa: E402  (scripts/bench.py: the same update file and district admin)

DISTRICT = "Profile 100k"
STUDENTS = 100_000
DATABASE = "rosterjobs_profile"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--general", action="store_true", help="the general (reference) path")
    parser.add_argument("--no-profile", action="store_true", help="time only, no cProfile")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--batch-rows", type=int, default=1000)
    parser.add_argument(
        "--stages", action="store_true", help="CPU seconds of this process per stage, no cProfile"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="COPY + UPDATE … FROM of the valid rows only"
    )
    parser.add_argument("--xlsx", action="store_true", help="the same file as a workbook")
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    ctx = context(profile_database(args.admin_url), args.batch_rows)
    source = update_file(ctx)
    if args.xlsx:
        bench.as_workbook(source, source.with_suffix(".xlsx"))
        source = source.with_suffix(".xlsx")
    if args.baseline:
        print(json.dumps(copy_update_baseline(ctx, source)))
        return 0
    profiler = None if args.no_profile or args.stages else cProfile.Profile()
    stages = time_stages() if args.stages else None
    statements = time_statements(ctx) if args.stages else None
    started, cpu = time.perf_counter(), time.process_time()
    counts = run(ctx, source, dry_run=args.dry_run, general=args.general, profiler=profiler)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = sum(counts.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}
    # the machine may be shared: the import's own CPU seconds (this process, not Postgres)
    figures |= {"python_cpu_s": round(cpu, 2), "load_average_1m": os.getloadavg()[0]}
    print(json.dumps(figures | {"peak_rss_mb": round(peak_mb, 1), "counts": counts}))
    if stages is not None:
        print(json.dumps({"stage_cpu_s": {k: round(v, 2) for k, v in stages.items()}}))
    if statements is not None:
        slowest = sorted(statements.items(), key=lambda item: -item[1])[:12]
        print(json.dumps({"statement_wall_s": {k: round(v, 2) for k, v in slowest}}))
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


def profile_database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        found = connection.scalar(text(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"))
        if not found:
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


def context(url: str, batch_rows: int) -> Any:
    from jobs.csv_in import ImportLimits
    from jobs.lifecycle import JobContext
    from storage.db import make_engine, session_factory, upgrade
    from storage.districts import find_district
    from storage.objects import FolderStore
    from storage.seed import seed_district

    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        seeded = find_district(session, DISTRICT) is not None
    if not seeded:
        print(f"seeding {STUDENTS:,} students (once)…", file=sys.stderr)
        seed_district(engine, name=DISTRICT, students=STUDENTS, random_seed=11)
    # every run leaves 90,000 dead student rows and 190,000 results and changes: emptied and
    # vacuumed, each run starts from the same tables
    bench.child_vacuum(url)
    return JobContext(
        sessions=session_factory(engine),
        store=FolderStore(ROOT / "var" / "profile" / "objects"),
        batch_rows=batch_rows,
        import_limits=ImportLimits(max_bytes=2 * 1024**3),
    )


def update_file(ctx: Any) -> Path:
    """The district's export, every column, with 90 % of grades moved on and 10 % refused."""
    key, _ = bench.export_file(ctx, DISTRICT)
    source = ROOT / "var" / "profile" / "update.csv"
    bench.edit_export(ROOT / "var" / "profile" / "objects" / key, source)
    return source


def time_statements(ctx: Any) -> dict[str, float]:
    """Wall seconds per kind of SQL statement (its first 70 characters), COPY excluded."""
    from sqlalchemy import event

    spent: dict[str, float] = {}
    engine = ctx.sessions.kw["bind"]

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        key = " ".join(statement.split())[:70]
        spent[key] = spent.get(key, 0.0) + time.perf_counter() - conn.info["started"]

    return spent


def time_stages() -> dict[str, float]:
    """Wrap the pipeline's stages to add up the CPU seconds each takes in this process
    (database time is not CPU time here: it shows as the gap to the wall time)."""
    from jobs import csv_in, import_apply, import_checks, import_fast, import_rows, imports

    spent: dict[str, float] = {}

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - started

        return wrapper

    imports.decide_batch = timed("checks (decide_batch)", import_checks.decide_batch)
    imports.apply_batch = timed("apply (apply_batch)", import_apply.apply_batch)
    imports.parse_row = timed("row stage (general parse_row)", import_rows.parse_row)
    decoder = import_fast.RememberingDecoder
    decoder.parse_row = timed("row stage (fast parse_row)", decoder.parse_row)  # type: ignore[method-assign]
    imports.write_reports = timed(
        "report (write_reports, with its file pass)", imports.write_reports
    )
    csv_in.survey = timed("survey (first file pass)", csv_in.survey)
    return spent


def copy_update_baseline(ctx: Any, source: Path) -> dict[str, Any]:
    """What the database itself can do: the file's valid grades `COPY`ed into a temporary
    table and applied with one `UPDATE … FROM`, then rolled back (the roster is kept)."""
    with source.open(encoding="utf-8", newline="") as text_file:
        reader = csv.reader(text_file)
        header = next(reader)
        record, grade = header.index("Database ID"), header.index("Grade")
        rows = [(int(r[record]), r[grade]) for r in reader if r[grade] != "13"]
    started = time.perf_counter()
    with ctx.sessions() as session:
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE baseline (id integer, grade varchar(2))")
            with cursor.copy("COPY baseline (id, grade) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                "UPDATE students SET grade = b.grade FROM baseline b WHERE students.id = b.id"
            )
        seconds = time.perf_counter() - started
        session.rollback()
    return {"baseline_rows": len(rows), "baseline_seconds": round(seconds, 2)}


def run(
    ctx: Any, source: Path, *, dry_run: bool, general: bool, profiler: cProfile.Profile | None
) -> dict[str, int]:
    from jobs import imports
    from jobs.lifecycle import run_job
    from storage.models import Job

    job_id = bench.submit_file(ctx, DISTRICT, source, "students", dry_run=dry_run)
    pipeline = imports.run_general_import if general else imports.run_import
    if profiler is not None:
        profiler.enable()
    run_job(ctx, job_id, pipeline)
    if profiler is not None:
        profiler.disable()
    with ctx.sessions() as session:
        done = session.get(Job, job_id)
        assert done is not None and done.status == "completed_with_errors", done and done.error
        return dict(done.counts)


if __name__ == "__main__":
    sys.exit(main())
