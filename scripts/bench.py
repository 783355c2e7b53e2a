"""District-scale measurements on Postgres: `make bench` (not part of `make test`).

Builds or reuses a database `rosterjobs_bench` on the local server with two seeded
districts (100,000 and 1,000,000 students), then runs each measurement in a child process
of its own so that its peak RSS is its own, and prints a table. Figures also go to
`var/bench/results.json` with units in the key names.

    python scripts/bench.py [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DISTRICTS = {"100k": ("Bench 100k", 100_000), "1m": ("Bench 1M", 1_000_000)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child)
    url = bench_database(args.admin_url)
    results: dict[str, Any] = {}
    for size, (name, students) in DISTRICTS.items():
        seeded = run_child(url, "seed", name, str(students))
        results[f"seed_{size}_s"] = seeded["seconds"]
    for size in DISTRICTS:
        results |= prefixed(f"export_{size}", run_child(url, "export", DISTRICTS[size][0]))
    updates = run_child(url, "import", DISTRICTS["100k"][0], "update")
    results |= prefixed("import_100k", updates)
    results |= prefixed(
        "import_100k_dry_run", run_child(url, "import", DISTRICTS["100k"][0], "dry")
    )
    results |= prefixed("import_1m_dry_run", run_child(url, "import", DISTRICTS["1m"][0], "dry"))
    show(results)
    out = ROOT / "var" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


def bench_database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = 'rosterjobs_bench'")
        )
        if not exists:
            connection.execute(text("CREATE DATABASE rosterjobs_bench"))
    admin.dispose()
    return (
        make_url(admin_url).set(database="rosterjobs_bench").render_as_string(hide_password=False)
    )


def run_child(url: str, *task: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, *task],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"{task} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{key}": value for key, value in values.items()}


def show(results: dict[str, Any]) -> None:
    width = max(len(key) for key in results)
    for key, value in sorted(results.items()):
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        print(f"{key:<{width}}  {shown:>14}")


# --- children: one measurement each ------------------------------------------------------


def child(argv: list[str]) -> int:
    url, task, *rest = argv
    import logging

    logging.disable(logging.INFO)
    started = time.perf_counter()
    extra = {"seed": child_seed, "export": child_export, "import": child_import}[task](url, *rest)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1)} | extra))
    return 0


def context(url: str, tmp: Path) -> Any:
    from jobs.csv_in import ImportLimits
    from jobs.lifecycle import JobContext
    from storage.db import make_engine, session_factory
    from storage.objects import FolderStore

    engine = make_engine(url)
    # a whole 1,000,000-student export is ~300 MB: over the default import limit of 100 MiB
    limits = ImportLimits(max_bytes=2 * 1024**3)
    return JobContext(
        sessions=session_factory(engine),
        store=FolderStore(tmp),
        batch_rows=1000,
        import_limits=limits,
    )


def child_seed(url: str, name: str, students: str) -> dict[str, Any]:
    from storage.db import make_engine, upgrade
    from storage.seed import seed_district

    engine = make_engine(url)
    upgrade(engine)
    summary = seed_district(engine, name=name, students=int(students), random_seed=11)
    return {"created": summary.created}


def _admin(ctx: Any, name: str) -> tuple[str, str]:
    from sqlalchemy import func, select

    from storage.districts import find_district
    from storage.models import Educator, EducatorSchool

    with ctx.sessions() as session:
        district = find_district(session, name)
        assert district is not None
        statement = (
            select(Educator.username)
            .join(EducatorSchool, EducatorSchool.educator_id == Educator.id)
            .where(Educator.district_id == district.id, Educator.educator_type == "Admin")
            .group_by(Educator.id, Educator.username)
            .order_by(func.count().desc(), Educator.id)
            .limit(1)
        )
        return str(district.id), str(session.scalar(statement))


def export_file(ctx: Any, name: str) -> tuple[str, int]:
    from jobs.export import run_export
    from jobs.lifecycle import run_job
    from jobs.requests import ExportRequest, submit_export
    from storage.db import unit_of_work
    from storage.models import Job

    district, admin = _admin(ctx, name)
    request = ExportRequest(district=district, username=admin, entity="students", columns=None)
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "completed", job and job.error
        return str(job.result_key), int(job.counts["rows"])


def child_export(url: str, name: str) -> dict[str, Any]:
    tmp = ROOT / "var" / "bench" / "objects"
    ctx = context(url, tmp)
    started = time.perf_counter()
    _, rows = export_file(ctx, name)
    seconds = time.perf_counter() - started
    return {"rows": rows, "rows_per_s": round(rows / seconds)}


def child_import(url: str, name: str, mode: str) -> dict[str, Any]:
    """Import the district's own export with 90 % of grades changed and 10 % refused
    (grade 13); `dry` validates only."""
    from jobs.imports import run_import
    from jobs.lifecycle import mark_queued, run_job
    from jobs.requests import ImportRequest, submit_import
    from storage.db import unit_of_work
    from storage.models import Job

    tmp = ROOT / "var" / "bench" / "objects"
    ctx = context(url, tmp)
    key, _ = export_file(ctx, name)
    source = tmp / "bench-import.csv"
    edit_export(tmp / key, source)
    district, admin = _admin(ctx, name)
    request = ImportRequest(
        district, admin, "students", dry_run=mode == "dry", filename="bench.csv"
    )
    with unit_of_work(ctx.sessions) as session:
        job = submit_import(session, request)
        job_id, input_key = job.id, job.input_key
    ctx.store.put_file(input_key, source)
    with unit_of_work(ctx.sessions) as session:
        mark_queued(session, session.get(Job, job_id))
    started = time.perf_counter()
    run_job(ctx, job_id, run_import)
    seconds = time.perf_counter() - started
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job.status == "completed_with_errors", job.error
        counts = dict(job.counts)
    rows = sum(counts.values())
    return {"rows": rows, "rows_per_s": round(rows / seconds), "failed_rows": counts["failed"]}


def edit_export(exported: Path, out: Path) -> None:
    grades = ["PK", "K", *map(str, range(1, 13))]
    with (
        exported.open(encoding="utf-8-sig", newline="") as source,
        out.open("w", encoding="utf-8", newline="") as target,
    ):
        reader, writer = csv.reader(source), csv.writer(target)
        header = next(reader)
        writer.writerow(header)
        grade = header.index("Grade")
        for n, row in enumerate(reader):
            if n % 10 == 9:
                row[grade] = "13"
            else:
                row[grade] = grades[(grades.index(row[grade]) + 1) % len(grades)]
            writer.writerow(row)


if __name__ == "__main__":
    sys.exit(main())
