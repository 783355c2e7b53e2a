"""District-scale measurements: `make bench` (not part of `make test`).

Builds or reuses a Postgres database `rosterjobs_bench` on the local server with two seeded
districts (100,000 and 1,000,000 students) and a SQLite file with a 100,000-student one
(`var/bench/sqlite-100k.db`), then runs each measurement in a child process of its own, so
that its peak RSS is its own. The baselines the issue names run in the same child as what
they are compared with:

- export: `COPY (SELECT students with their ';'-joined class names) TO STDOUT (FORMAT csv)`
  into a file;
- import of updates: `COPY` of the same valid rows into a temporary table, then one
  `UPDATE … FROM` (rolled back, so the roster stays as the import left it).

On Postgres the export children also count CPU seconds, of this process and of the
database backends its connections use (`application_name`), which a busy neighbour disturbs
far less than the wall time.

It prints a table and the targets, and writes the figures to `var/bench/results.json`, flat,
with units in the key names, saved after each group of measurements. Figures on a shared
machine are noisy: compare the ratios, which are measured in one child.

    python scripts/bench.py [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                            [--redis-url redis://127.0.0.1:6379/0] [--only exports,queue]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK = ROOT / "var" / "bench"
OBJECTS = WORK / "objects"
SQLITE_URL = f"sqlite:///{WORK / 'sqlite-100k.db'}"
DISTRICTS = {"100k": ("Bench 100k", 100_000), "1m": ("Bench 1M", 1_000_000)}
CREATES = "Bench creates"
QUEUE = "Bench queue"
NEW_EDUCATORS = 100_000
NEW_STUDENTS_WITH_PASSWORDS = 2_000
LATENCY_SAMPLES = 40
APPLICATION = f"rosterjobs-bench-{os.getpid()}"
TARGETS = (
    ("export_1m_ratio_vs_copy", "<=", 1.5),
    ("export_1m_peak_rss_mb", "<", 150),
    ("export_xlsx_1m_ratio_vs_csv", "<=", 3),
    ("export_xlsx_1m_peak_rss_mb", "<", 150),
    ("import_xlsx_100k_ratio_vs_csv", "<=", 1.5),
    ("import_xlsx_100k_peak_rss_mb", "<", 250),
    ("export_rss_growth_100k_to_1m_mb", "<", 20),
    ("import_100k_rows_per_s", ">=", 30_000),
    ("import_100k_ratio_vs_copy_update", "<=", 3),
    ("import_100k_peak_rss_mb", "<", 200),
    ("revert_100k_ratio_vs_import", "<=", 1),
    ("enqueue_to_start_p50_ms", "<", 50),
    ("export_oneroster_1m_ratio_vs_copy", "<=", 2),
    ("export_oneroster_1m_peak_rss_mb", "<", 150),
    ("import_oneroster_100k_peak_rss_mb", "<", 250),
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--database", default="rosterjobs_bench", help="the bench database on that server"
    )
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"comma-separated measurements to run, of {', '.join(GROUPS)} (default: all)",
    )
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child)
    started = time.perf_counter()
    OBJECTS.mkdir(parents=True, exist_ok=True)
    url = bench_database(args.admin_url, args.database)
    results = measure_all(url, args.redis_url, set(args.only.split(",")))
    results["bench_total_s"] = round(time.perf_counter() - started, 1)
    show(results)
    print(f"\nwritten to {save(results).relative_to(ROOT)}")
    return 0


def measure_all(url: str, redis_url: str, only: set[str]) -> dict[str, Any]:
    """Every group asked for, in `GROUPS` order; the figures so far are saved after each,
    so a run stopped early keeps what it measured."""
    unknown = only - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown measurements: {', '.join(sorted(unknown))}")
    results = seed_all(url) if only - SELF_SEEDED else {}
    for group, measure in GROUPS.items():
        if group in only:
            results |= measure(url, redis_url)
            save(results)
    return results


def save(results: dict[str, Any]) -> Path:
    out = WORK / "results.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True))
    return out


def exports(url: str, _redis_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for size, (name, _) in DISTRICTS.items():
        results |= prefixed(f"export_{size}", run_child(url, "export", name))
    results["export_rss_growth_100k_to_1m_mb"] = round(
        results["export_1m_peak_rss_mb"] - results["export_100k_peak_rss_mb"], 1
    )
    return results


def oneroster(url: str, _redis_url: str) -> dict[str, Any]:
    """`scripts/bench_oneroster.py`."""
    results = prefixed(
        "export_oneroster_1m", run_child(url, "export_oneroster", DISTRICTS["1m"][0])
    )
    imported = run_child(url, "import_oneroster", DISTRICTS["100k"][0])
    return results | prefixed("import_oneroster_100k", imported)


def export_to_s3(url: str, _redis_url: str) -> dict[str, Any]:
    return prefixed("export_100k_s3", run_child(url, "export_s3", DISTRICTS["100k"][0]))


def creates(url: str, _redis_url: str) -> dict[str, Any]:
    return prefixed("import_100k_creates", run_child(url, "creates"))


def passwords(url: str, _redis_url: str) -> dict[str, Any]:
    return prefixed("import_2k_passwords", run_child(url, "passwords"))


def sqlite(_url: str, _redis_url: str) -> dict[str, Any]:
    results = prefixed("sqlite_export_100k", run_child(SQLITE_URL, "export", DISTRICTS["100k"][0]))
    return results | imports_of_updates(SQLITE_URL, "sqlite_import_100k", dry_run=False)


def queue(url: str, redis_url: str) -> dict[str, Any]:
    latencies = run_child(url, "queue", redis_url)
    latencies["queue_client_peak_rss_mb"] = latencies.pop("peak_rss_mb")
    return latencies


def updates(url: str, _redis_url: str) -> dict[str, Any]:
    """The update import, then its revert (undo must not be slower than do)."""
    results = imports_of_updates(url, "import_100k")
    results |= prefixed("revert_100k", run_child(url, "revert", DISTRICTS["100k"][0]))
    results["revert_100k_ratio_vs_import"] = round(
        results["revert_100k_s"] / results["import_100k_s"], 2
    )
    return results


def xlsx(url: str, _redis_url: str) -> dict[str, Any]:
    """The XLSX export of both districts and the CSV export of the big one, then a CSV and
    an XLSX import of the same kind of change (every grade on by one, a tenth refused),
    each prepared from the roster as the one before left it."""
    results: dict[str, Any] = {}
    results |= prefixed("export_csv_1m", run_child(url, "export", DISTRICTS["1m"][0]))
    for size, (name, _) in DISTRICTS.items():
        results |= prefixed(f"export_xlsx_{size}", run_child(url, "export", name, "xlsx"))
    results["export_xlsx_1m_ratio_vs_csv"] = round(
        results["export_xlsx_1m_s"] / results["export_csv_1m_s"], 2
    )
    results["export_xlsx_rss_growth_100k_to_1m_mb"] = round(
        results["export_xlsx_1m_peak_rss_mb"] - results["export_xlsx_100k_peak_rss_mb"], 1
    )
    name = DISTRICTS["100k"][0]
    for kind in ("csv", "xlsx"):
        source = str(WORK / f"import_{kind}_100k.{kind}")
        run_child(url, "prepare_updates", name, source)
        results |= prefixed(f"import_{kind}_100k", run_child(url, "import", name, source, "plain"))
    results["import_xlsx_100k_ratio_vs_csv"] = round(
        results["import_xlsx_100k_s"] / results["import_csv_100k_s"], 2
    )
    return results


PDF_DISTRICT = ("Bench PDF 10k", 10_000)


def pdf(url: str, _redis_url: str) -> dict[str, Any]:
    """The printable roster at its default cap: 10,000 students, the required columns."""
    name, students = PDF_DISTRICT
    run_child(url, "seed", name, str(students))
    return prefixed("export_pdf_10k", run_child(url, "export_pdf", name))


GROUPS = {
    "exports": exports,
    "s3": export_to_s3,
    "queue": queue,
    "updates": updates,
    "creates": creates,
    "passwords": passwords,
    "sqlite": sqlite,
    "xlsx": xlsx,
    "pdf": pdf,
    "oneroster": oneroster,
}
SELF_SEEDED = {"pdf"}
"""Groups that seed the district they need themselves (not the 100k and 1M ones)."""


def seed_all(url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for size, (name, students) in DISTRICTS.items():
        results[f"seed_{size}_s"] = run_child(url, "seed", name, str(students))["s"]
    results["seed_sqlite_100k_s"] = run_child(SQLITE_URL, "seed", DISTRICTS["100k"][0], "100000")[
        "s"
    ]
    run_child(url, "seed", QUEUE, "20")
    run_child(url, "vacuum")
    return results


def imports_of_updates(url: str, prefix: str, *, dry_run: bool = True) -> dict[str, Any]:
    """The 100,000-row update file (10 % refused): as a dry run first (it writes nothing, so
    the real import that follows still finds every change to make), then for real."""
    name = DISTRICTS["100k"][0]
    source = str(WORK / f"{prefix}.csv")
    run_child(url, "prepare_updates", name, source)
    results: dict[str, Any] = {}
    if dry_run:
        results |= prefixed(f"{prefix}_dry_run", run_child(url, "import", name, source, "dry"))
    results |= prefixed(prefix, run_child(url, "import", name, source, "update"))
    return results


def bench_database(admin_url: str, name: str = "rosterjobs_bench") -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def run_child(url: str, *task: str) -> dict[str, Any]:
    print(f"… {' '.join(task)} ({make_url(url).get_backend_name()})", flush=True)
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
    print(f"  {result}", flush=True)
    return result


def prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{key}": value for key, value in values.items()}


# --- the report ---------------------------------------------------------------------------

ROWS = (
    ("export, 100,000 students, every column (folder)", "export_100k", "ratio_vs_copy"),
    ("export, 1,000,000 students, every column (folder)", "export_1m", "ratio_vs_copy"),
    ("export, 100,000 students, to S3 (moto server)", "export_100k_s3", None),
    ("OneRoster export, 1,000,000 students (folder)", "export_oneroster_1m", "ratio_vs_copy"),
    ("OneRoster import, 100,000 students, into an empty district", "import_oneroster_100k", None),
    ("import, 100,000 updates, 10 % refused", "import_100k", "ratio_vs_copy_update"),
    ("the same import as a dry run", "import_100k_dry_run", None),
    ("the same import reverted (records)", "revert_100k", None),
    ("import, 100,000 new educators (creates)", "import_100k_creates", None),
    ("import, 2,000 new students with passwords", "import_2k_passwords", None),
    ("SQLite: export, 100,000 students", "sqlite_export_100k", None),
    ("SQLite: import, 100,000 updates, 10 % refused", "sqlite_import_100k", None),
    ("XLSX: export, 100,000 students", "export_xlsx_100k", None),
    ("XLSX: export, 1,000,000 students (CSV in the same run below)", "export_xlsx_1m", None),
    ("CSV: export, 1,000,000 students (the XLSX export's baseline)", "export_csv_1m", None),
    ("XLSX: import, 100,000 updates, 10 % refused", "import_xlsx_100k", None),
    ("CSV: import, 100,000 updates (the XLSX import's baseline)", "import_csv_100k", None),
    ("PDF roster, 10,000 students, required columns", "export_pdf_10k", None),
)


def show(results: dict[str, Any]) -> None:
    print("\n| measurement | time | rows/s | peak RSS | against its baseline |")
    print("| --- | --- | --- | --- | --- |")
    for label, key, ratio in ROWS:
        if f"{key}_s" not in results:
            continue
        baseline = _baseline(results, key, ratio)
        print(
            f"| {label} | {results[f'{key}_s']:.1f} s | {results[f'{key}_rows_per_s']:,} "
            f"| {results[f'{key}_peak_rss_mb']:.0f} MB | {baseline} |"
        )
    if "enqueue_to_start_p50_ms" in results:
        show_latency(results)
    if "import_2k_passwords_hash_ms" in results:
        hash_ms = results["import_2k_passwords_hash_ms"]
        print(f"\npassword hash: {hash_ms:.0f} ms each on one core")
    show_targets(results)


def show_latency(results: dict[str, Any]) -> None:
    print(
        f"| queue: enqueue to start, idle worker on Redis | p50 "
        f"{results['enqueue_to_start_p50_ms']:.1f} ms, p99 {results['enqueue_to_start_p99_ms']:.1f}"
        f" ms | | | {LATENCY_SAMPLES} jobs |"
    )


def show_targets(results: dict[str, Any]) -> None:
    print("\ntargets:")
    for key, op, limit in TARGETS:
        if key not in results:
            continue
        value = results[key]
        met = {"<=": value <= limit, "<": value < limit, ">=": value >= limit}[op]
        print(f"  {key} = {value:,} (target {op} {limit:,}): {'met' if met else 'NOT met'}")


def _baseline(results: dict[str, Any], key: str, ratio: str | None) -> str:
    if ratio is None:
        return ""
    name = "COPY" if ratio == "ratio_vs_copy" else "COPY + UPDATE … FROM"
    baseline = results[f"{key}_{ratio.replace('ratio_vs_', '')}_baseline_s"]
    shown = f"{results[f'{key}_{ratio}']:.2f}× {name} ({baseline:.1f} s)"
    if f"{key}_cpu_{ratio}" in results:
        shown += f"; CPU {results[f'{key}_cpu_{ratio}']:.2f}×"
    if f"{key}_{ratio}_records" in results:
        recorded = results[f"{key}_copy_update_records_baseline_s"]
        shown += (
            f"; {results[f'{key}_{ratio}_records']:.2f}× that plus its row results and"
            f" history in SQL ({recorded:.1f} s)"
        )
    return shown


# --- children: one measurement each --------------------------------------------------------


def child(argv: list[str]) -> int:
    url, task, *rest = argv
    import logging

    logging.disable(logging.INFO)
    tasks = {
        "seed": child_seed,
        "vacuum": child_vacuum,
        "export": child_export,
        "export_s3": child_export_s3,
        "prepare_updates": child_prepare_updates,
        "import": child_import,
        "revert": child_revert,
        "creates": child_creates,
        "passwords": child_passwords,
        "queue": child_queue,
        "export_pdf": child_export_pdf,
        "export_oneroster": _oneroster_child("child_export_oneroster"),
        "import_oneroster": _oneroster_child("child_import_oneroster"),
    }
    extra = tasks[task](url, *rest)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(extra | {"peak_rss_mb": round(peak_mb, 1)}))
    return 0


def _oneroster_child(name: str) -> Any:
    def run(*args: str) -> dict[str, Any]:
        import bench_oneroster  # beside this script; it imports this module's helpers

        return getattr(bench_oneroster, name)(*args)  # type: ignore[no-any-return]

    return run


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def context(url: str, store: Any = None) -> Any:
    from jobs.csv_in import ImportLimits
    from jobs.lifecycle import JobContext
    from storage.db import make_engine, session_factory
    from storage.objects import FolderStore

    if is_postgres(url):  # names this process's connections, for `cpu_meter`
        url = (
            make_url(url)
            .update_query_dict({"application_name": APPLICATION})
            .render_as_string(hide_password=False)
        )
    engine = make_engine(url)
    # a whole 1,000,000-student export is ~300 MB: over the default import limit of 100 MiB
    limits = ImportLimits(max_bytes=2 * 1024**3)
    return JobContext(
        sessions=session_factory(engine),
        store=store or FolderStore(OBJECTS),
        batch_rows=1000,
        export_progress_s=1.0,  # the workers' defaults (worker.settings)
        import_limits=limits,
    )


def child_seed(url: str, name: str, students: str) -> dict[str, Any]:
    from storage.db import make_engine, upgrade
    from storage.seed import seed_district

    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    summary = seed_district(engine, name=name, students=int(students), random_seed=11)
    return {"s": round(time.perf_counter() - started, 2), "created": summary.created}


def child_vacuum(url: str) -> dict[str, Any]:
    """Every run starts from the same tables: the earlier runs' import row results and change
    history emptied (nothing reads them, and each run added 300,000 rows, so each run's
    writes went into larger indexes than the run before), then what autovacuum would soon
    do after a seed or the last run's imports (statistics, visibility maps)."""
    from storage.db import make_engine

    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("TRUNCATE import_row_results, import_changes")
        connection.exec_driver_sql("VACUUM (ANALYZE)")
    return {}


def admin_of(ctx: Any, name: str) -> tuple[str, str]:
    from sqlalchemy import func, select

    from storage.districts import find_district
    from storage.models import Educator, EducatorSchool

    with ctx.sessions() as session:
        district = find_district(session, name)
        assert district is not None, name
        statement = (
            select(Educator.username)
            .join(EducatorSchool, EducatorSchool.educator_id == Educator.id)
            .where(Educator.district_id == district.id, Educator.educator_type == "Admin")
            .group_by(Educator.id, Educator.username)
            .order_by(func.count().desc(), Educator.id)
            .limit(1)
        )
        return str(district.id), str(session.scalar(statement))


def export_file(ctx: Any, name: str, file_format: str = "csv") -> tuple[str, int]:
    from jobs.export import run_export
    from jobs.lifecycle import run_job
    from jobs.requests import ExportRequest, submit_export
    from storage.db import unit_of_work
    from storage.models import Job

    district, admin = admin_of(ctx, name)
    request = ExportRequest(
        district=district, username=admin, entity="students", columns=None, format=file_format
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "completed", job and job.error
        return str(job.result_key), int(job.counts["rows"])


def timed_export(ctx: Any, name: str, file_format: str = "csv") -> tuple[dict[str, Any], str]:
    with cpu_meter(ctx) as cpu:
        started = time.perf_counter()
        key, rows = export_file(ctx, name, file_format)
        seconds = time.perf_counter() - started
    result = {"s": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds)}
    return result | cpu, key


def child_export(url: str, name: str, file_format: str = "csv") -> dict[str, Any]:
    ctx = context(url)
    result, key = timed_export(ctx, name, file_format)
    result["file_mb"] = round((OBJECTS / key).stat().st_size / 1024**2, 1)
    (OBJECTS / key).unlink()
    if is_postgres(url) and file_format == "csv":
        with cpu_meter(ctx) as cpu:
            baseline = copy_export_baseline(ctx, name)
        result |= {"copy_baseline_s": baseline, "ratio_vs_copy": round(result["s"] / baseline, 2)}
        result |= prefixed("copy_baseline", cpu)
        if cpu.get("cpu_s"):
            result["cpu_ratio_vs_copy"] = round(result["cpu_s"] / cpu["cpu_s"], 2)
    return result


@contextmanager
def cpu_meter(ctx: Any) -> Iterator[dict[str, float]]:
    """CPU seconds spent inside the block by this process and, when the server runs on this
    machine (its backends' /proc entries are readable), by the database's backends: on a
    shared machine the wall time depends on the neighbours, the CPU much less."""
    figures: dict[str, float] = {}
    client, server = _own_cpu(), _backends_cpu(ctx)
    yield figures
    figures["client_cpu_s"] = round(_own_cpu() - client, 2)
    if server is not None and (after := _backends_cpu(ctx)) is not None:
        spent = sum(cpu - server.get(pid, 0.0) for pid, cpu in after.items())
        figures["server_cpu_s"] = round(spent, 2)
        figures["cpu_s"] = round(figures["client_cpu_s"] + spent, 2)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backends_cpu(ctx: Any) -> dict[int, float] | None:
    if not is_postgres(str(ctx.sessions.kw["bind"].url)):
        return None
    with ctx.sessions() as session:
        pids = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION},
        ).all()
    tick = os.sysconf("SC_CLK_TCK")
    try:
        return {pid: _proc_cpu(pid) / tick for pid in pids}
    except OSError:
        return None


def _proc_cpu(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def copy_export_baseline(ctx: Any, name: str) -> float:
    """The issue's export limit: students with their ';'-joined class names, COPY to a file."""
    district, _ = admin_of(ctx, name)
    query = (
        "COPY (SELECT s.*, (SELECT string_agg(c.name, ';') FROM class_students cs"
        " JOIN classes c ON c.id = cs.class_id WHERE cs.student_id = s.id) AS classes"
        " FROM students s WHERE s.district_id = %s ORDER BY s.id) TO STDOUT (FORMAT csv)"
    )
    target = WORK / "copy-baseline.csv"
    started = time.perf_counter()
    with ctx.sessions() as session, target.open("wb") as out:
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(query, (int(district),)) as copy:
            for chunk in copy:
                out.write(chunk)
    seconds = time.perf_counter() - started
    target.unlink()
    return round(seconds, 2)


def child_export_s3(url: str, name: str) -> dict[str, Any]:
    """The same export to S3 through moto's server (over HTTP, in this process)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from storage.s3 import S3Store, make_s3_client

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        session = boto3.session.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
        )
        client = make_s3_client(f"http://{host}:{port}", "us-east-1", session=session)
        client.create_bucket(Bucket="bench-exports")
        result, _ = timed_export(context(url, S3Store(client, "bench-exports")), name)
    finally:
        server.stop()
    return result


def child_prepare_updates(url: str, name: str, target: str) -> dict[str, Any]:
    """The district's own export with every grade moved on by one, and every tenth row
    refused (grade 13); beside it, the valid rows alone, for the baseline. A target named
    `.xlsx` is that file as a workbook (written as the XLSX export writes)."""
    ctx = context(url)
    key, _ = export_file(ctx, name)
    out = Path(target)
    edit_export(OBJECTS / key, out.with_suffix(".csv"))
    (OBJECTS / key).unlink()
    if out.suffix == ".xlsx":
        as_workbook(out.with_suffix(".csv"), out)
    return {}


def as_workbook(source: Path, out: Path) -> None:
    from jobs.tables import TableLayout
    from jobs.xlsx_out import XLSX
    from schemas.cells import unneutralise

    with (
        source.open(encoding="utf-8-sig", newline="") as rows,
        out.open("wb") as raw,
        XLSX.rows_into(raw, TableLayout(sheet="Students")) as sheet,
    ):
        for row in csv.reader(rows):
            sheet.writerow([unneutralise(cell) for cell in row])


def edit_export(exported: Path, out: Path) -> None:
    grades = ["PK", "K", *map(str, range(1, 13))]
    valid_rows = out.with_suffix(".valid.csv")
    with (
        exported.open(encoding="utf-8-sig", newline="") as source,
        out.open("w", encoding="utf-8", newline="") as target,
        valid_rows.open("w", encoding="utf-8", newline="") as valid,
    ):
        reader, writer, valid_writer = csv.reader(source), csv.writer(target), csv.writer(valid)
        header = next(reader)
        writer.writerow(header)
        grade = header.index("Grade")
        for n, row in enumerate(reader):
            if n % 10 == 9:
                row[grade] = "13"
            else:
                row[grade] = grades[(grades.index(row[grade]) + 1) % len(grades)]
                valid_writer.writerow(row)
            writer.writerow(row)


def submit_file(ctx: Any, name: str, source: Path, entity: str, *, dry_run: bool) -> str:
    from jobs.lifecycle import mark_queued
    from jobs.requests import ImportRequest, submit_import
    from storage.db import unit_of_work
    from storage.models import Job

    district, admin = admin_of(ctx, name)
    request = ImportRequest(district, admin, entity, dry_run=dry_run, filename=source.name)
    with unit_of_work(ctx.sessions) as session:
        job = submit_import(session, request)
        job_id, input_key = job.id, job.input_key
    ctx.store.put_file(input_key, source)
    with unit_of_work(ctx.sessions) as session:
        mark_queued(session, session.get(Job, job_id))
    return str(job_id)


def timed_import(ctx: Any, job_id: str) -> dict[str, Any]:
    from jobs.imports import run_import
    from jobs.lifecycle import run_job
    from storage.models import Job

    with cpu_meter(ctx) as cpu:
        started = time.perf_counter()
        run_job(ctx, job_id, run_import)
        seconds = time.perf_counter() - started
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status.startswith("completed"), job and job.error
        counts = dict(job.counts)
    rows = sum(counts.values())
    return (
        {"s": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds)}
        | {f"{outcome}_rows": count for outcome, count in counts.items()}
        | cpu
    )


def child_import(url: str, name: str, source: str, mode: str) -> dict[str, Any]:
    ctx = context(url)
    job_id = submit_file(ctx, name, Path(source), "students", dry_run=mode == "dry")
    result = timed_import(ctx, job_id)
    if mode == "update" and is_postgres(url):
        with cpu_meter(ctx) as cpu:
            baseline = copy_update_baseline(ctx, Path(source).with_suffix(".valid.csv"))
        result |= {
            "copy_update_baseline_s": baseline,
            "ratio_vs_copy_update": round(result["s"] / baseline, 2),
        }
        result |= prefixed("copy_update_baseline", cpu)
        if cpu.get("cpu_s"):
            result["cpu_ratio_vs_copy_update"] = round(result["cpu_s"] / cpu["cpu_s"], 2)
        recorded = copy_update_baseline(
            ctx, Path(source).with_suffix(".valid.csv"), records_of=job_id
        )
        result |= {
            "copy_update_records_baseline_s": recorded,
            "ratio_vs_copy_update_records": round(result["s"] / recorded, 2),
        }
    return result


def child_revert(url: str, name: str) -> dict[str, Any]:
    """The revert of the district's latest real import (the update file's), timed as a
    worker runs it; its rate counts the records it put back."""
    from sqlalchemy import select

    from jobs.commit import requester_of, source_job
    from jobs.lifecycle import run_job
    from jobs.revert import run_revert
    from jobs.revert_requests import submit_revert
    from storage.db import unit_of_work
    from storage.models import Job

    ctx = context(url)
    district, admin = admin_of(ctx, name)
    with unit_of_work(ctx.sessions) as session:
        latest = session.scalars(
            select(Job.id)
            .where(Job.district_id == int(district), Job.kind == "import", ~Job.dry_run)
            .order_by(Job.finished_at.desc())
            .limit(1)
        ).one()
        source = source_job(session, latest)
        job_id = submit_revert(
            session, source, requester_of(session, source, admin), dry_run=False
        ).id
    with cpu_meter(ctx) as cpu:
        started = time.perf_counter()
        run_job(ctx, job_id, run_revert)
        seconds = time.perf_counter() - started
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status.startswith("completed"), job and job.error
        counts = dict(job.counts)
    rows = sum(counts.values())
    return {"s": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds)} | cpu


def copy_update_baseline(ctx: Any, valid_rows: Path, *, records_of: str | None = None) -> float:
    """The issue's import limit: the valid rows COPYed into a temporary table, then one
    `UPDATE … FROM`; rolled back, so the roster stays as the import left it.

    `records_of` (a job id) also writes, in SQL, what the import records of each valid row:
    its row result and its change of grade, as `INSERT … SELECT` from the same table (the
    database's own cost of the import's bookkeeping, with no Python a row)."""
    with valid_rows.open("rb") as source:
        width = len(next(csv.reader([source.readline().decode()])))
        source.seek(0)
        columns = ", ".join(f"c{n} text" for n in range(width))
        started = time.perf_counter()
        with ctx.sessions() as session:
            driver = session.connection().connection.driver_connection
            with driver.cursor() as cursor:
                cursor.execute(f"CREATE TEMP TABLE updates ({columns}) ON COMMIT DROP")
                with cursor.copy("COPY updates FROM STDIN (FORMAT csv)") as copy:
                    while block := source.read(1 << 20):
                        copy.write(block)
                if records_of is not None:
                    _record_in_sql(cursor, records_of)
                cursor.execute(
                    "UPDATE students SET first_name = u.c1, last_name = u.c2, username = u.c3,"
                    " username_key = lower(u.c3), external_id = u.c5, grade = u.c6"
                    " FROM updates u WHERE students.id = u.c0::integer"
                )
            seconds = time.perf_counter() - started
            session.rollback()
    return round(seconds, 2)


def _record_in_sql(cursor: Any, job_id: str) -> None:
    """Row results (numbered past the job's own) and the old and new grade of each row."""
    cursor.execute(
        "CREATE TEMP TABLE numbered ON COMMIT DROP AS"
        " SELECT 10000000 + row_number() OVER () AS n, u.c0::integer AS id, u.* FROM updates u"
    )
    cursor.execute(
        "INSERT INTO import_row_results (job_id, row_number, outcome, errors, record_id,"
        " claimed_name, claimed_external_id)"
        " SELECT %s, n, 'updated', '[]', id, lower(c3), c5 FROM numbered",
        (job_id,),
    )
    cursor.execute(
        'INSERT INTO import_changes (job_id, entity, record_id, row_number, "column",'
        " old_value, new_value)"
        " SELECT %s, 'students', s.id, n, 'Grade', s.grade, c6"
        " FROM numbered JOIN students s ON s.id = numbered.id",
        (job_id,),
    )


def child_creates(url: str) -> dict[str, Any]:
    """100,000 new educators in a district seeded afresh (so runs do not pile them up).
    Educators, because a new student needs a password, timed on its own below."""
    ctx = context(url)
    fresh_district(url)
    school = school_of(ctx, CREATES)
    source = WORK / "new-educators.csv"
    write_rows(
        source,
        ["Database ID", "First Name", "Last Name", "Username", "Educator Type", "Organizations"],
        (
            ["", "Ana", f"Lee{n}", f"new.educator{n}@creates.example.org", "Teacher", school]
            for n in range(NEW_EDUCATORS)
        ),
    )
    return timed_import(ctx, submit_file(ctx, CREATES, source, "educators", dry_run=False))


def child_passwords(url: str) -> dict[str, Any]:
    """2,000 new students, each with a password; one hash is also timed alone."""
    from jobs.passwords import hash_password

    ctx = context(url)
    school = school_of(ctx, CREATES)
    header = ["Database ID", "First Name", "Last Name", "Username", "Password"]
    header += ["External Assigned ID", "Grade", "Organizations"]
    source = WORK / "new-students.csv"
    run = uuid.uuid4().hex[:6]
    write_rows(
        source,
        header,
        (
            ["", "Sam", f"Pw{n}", f"pw{run}{n}", f"secret-{n}", f"PW{run}{n}", "3", school]
            for n in range(NEW_STUDENTS_WITH_PASSWORDS)
        ),
    )
    started = time.perf_counter()
    for _ in range(10):
        hash_password("one secret")
    hash_ms = round((time.perf_counter() - started) * 100, 1)
    result = timed_import(ctx, submit_file(ctx, CREATES, source, "students", dry_run=False))
    return result | {"hash_ms": hash_ms}


def fresh_district(url: str) -> None:
    from storage.db import make_engine
    from storage.seed import seed_district

    seed_district(make_engine(url), name=CREATES, students=100, replace=True, random_seed=3)


def school_of(ctx: Any, name: str) -> str:
    from sqlalchemy import select

    from storage.districts import find_district
    from storage.models import School

    with ctx.sessions() as session:
        district = find_district(session, name)
        assert district is not None
        statement = select(School.name).where(School.district_id == district.id).limit(1)
        return str(session.scalar(statement))


def write_rows(path: Path, header: list[str], rows: Any) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def child_queue(url: str, redis_url: str) -> dict[str, Any]:
    """Enqueue-to-start latency of small exports, one at a time, with an idle
    `rosterjobs worker` on Redis in a namespace of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROSTERJOBS_")}
    env |= {
        "ROSTERJOBS_DATABASE_URL": url,
        "ROSTERJOBS_BROKER_URL": redis_url,
        "ROSTERJOBS_QUEUE_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
        "ROSTERJOBS_STORAGE_URL": str(OBJECTS),
        "ROSTERJOBS_SECRET_KEY": "bench-secret-key-not-for-production",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "rosterjobs"), "worker", "--processes", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        latencies = enqueue_samples(env)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        forget_namespace(redis_url, env["ROSTERJOBS_QUEUE_NAMESPACE"])
    ordered = sorted(latencies)
    return {
        "enqueue_to_start_p50_ms": round(statistics.median(ordered), 1),
        "enqueue_to_start_p99_ms": round(
            ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)], 1
        ),
    }


def enqueue_samples(env: dict[str, str]) -> list[float]:
    import datetime as dt

    from jobs.requests import ExportRequest
    from worker.runtime import start
    from worker.settings import Settings
    from worker.submit import EXPORT_ACTOR, enqueue, export_job

    rt = start(Settings.from_env(env, cwd=ROOT))
    district, admin = admin_of(rt.jobs, QUEUE)
    request = ExportRequest(district=district, username=admin, entity="students")
    latencies = []
    for n in range(LATENCY_SAMPLES + 1):
        job_id = export_job(rt, request)
        sent = dt.datetime.now(dt.UTC)
        enqueue(rt, EXPORT_ACTOR, job_id)
        started_at = wait_finished(rt.jobs, job_id)
        if n:  # the first one wakes the worker up
            latencies.append((started_at - sent).total_seconds() * 1000)
        time.sleep(0.2)
    return latencies


def wait_finished(ctx: Any, job_id: str) -> Any:
    from storage.models import Job

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with ctx.sessions() as session:
            job = session.get(Job, job_id)
            if job is not None and job.finished_at is not None:
                assert job.started_at is not None
                return job.started_at
        time.sleep(0.02)
    raise SystemExit(f"job {job_id} did not finish: is the worker running?")


def forget_namespace(redis_url: str, namespace: str) -> None:
    """Delete this run's own queue keys (and only those)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)


def child_export_pdf(url: str, name: str) -> dict[str, Any]:
    """One PDF export job, run here: its time, rows, pages and file size (peak RSS is the
    child's, as for every measurement)."""
    from jobs.export import run_export
    from jobs.lifecycle import run_job
    from jobs.requests import ExportRequest, submit_export
    from storage.db import unit_of_work
    from storage.models import Job

    ctx = context(url)
    district, admin = admin_of(ctx, name)
    request = ExportRequest(district=district, username=admin, entity="students", format="pdf")
    started = time.perf_counter()
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    seconds = time.perf_counter() - started
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "completed", job and job.error
        path, rows = OBJECTS / str(job.result_key), int(job.counts["rows"])
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    size_mb = path.stat().st_size / 1e6
    path.unlink()
    return {
        "s": round(seconds, 2),
        "rows": rows,
        "rows_per_s": round(rows / seconds),
        "pages": int(pages.group(1)) if pages else None,
        "file_mb": round(size_mb, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
