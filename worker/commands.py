"""What each `rosterjobs` subcommand does, given its parsed arguments."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jobs.errors import RequestRefused
from jobs.lifecycle import request_cancel
from jobs.requests import ExportRequest, ImportRequest, resolve_scope, text_problem
from jobs.views import job_object
from schemas.jobs import JobStatus
from schemas.oneroster import ONEROSTER
from schemas.tokens import issue_token
from storage import districts, job_records
from storage.db import unit_of_work, upgrade
from storage.models import Job
from storage.seed import seed_district
from worker import submit
from worker.logs import LEVEL_SETTING, configure_logging
from worker.progress import QueueWatch, redis_queue_watch, wait_for_job
from worker.runtime import Runtime, start
from worker.settings import Settings


class CommandError(Exception):
    """The command cannot do what was asked; the message says why."""


API_VERBOSITY = "ROSTERJOBS_API_VERBOSITY"
"""`rosterjobs api`'s `-v` count, for the app factory that uvicorn calls in the same process
(`api_runtime`), which takes no arguments."""


def runtime(args: argparse.Namespace, *, terminal_level: int = logging.WARNING) -> Runtime:
    """The runtime, then logging as this command wants it (`start` set it up as a worker
    process would): on a terminal, only lines at `terminal_level` and above unless `-v`, so
    the worker's INFO lines do not bury the command's own output."""
    return _started(verbosity=args.verbose, terminal_level=terminal_level)


def api_runtime(environ: Mapping[str, str] | None = None) -> Runtime:
    """The runtime of `rosterjobs api`, built by the app factory uvicorn calls
    (`api.app:app_from_env`): as `runtime` builds a command's, with the API's INFO lines
    shown on a terminal and the command's `-v` count from `API_VERBOSITY`."""
    raw = (os.environ if environ is None else environ).get(API_VERBOSITY, "").strip()
    verbosity = int(raw) if raw.isascii() and raw.isdigit() else 0
    return _started(verbosity=verbosity, terminal_level=logging.INFO)


def _started(*, verbosity: int, terminal_level: int) -> Runtime:
    rt = start(Settings.from_env())
    configure_logging(verbosity=verbosity, terminal_level=terminal_level)
    return rt


def db_upgrade(args: argparse.Namespace) -> int:
    rt = runtime(args)
    upgrade(rt.engine)
    print(f"database at {rt.engine.url.render_as_string(hide_password=True)} is up to date")
    return 0


def seed(args: argparse.Namespace) -> int:
    rt = runtime(args)
    upgrade(rt.engine)
    summary = seed_district(
        rt.engine,
        name=args.district,
        students=args.students,
        schools=args.schools,
        random_seed=args.random_seed,
        replace=args.replace,
    )
    if args.json:
        shown = {key: summary_value for key, summary_value in asdict(summary).items()}
        print(json.dumps(_listify(shown)))
    else:
        verb = "seeded" if summary.created else "already exists, left as it was:"
        print(
            f"district {args.district!r} {verb} id {summary.district_id}, "
            f"{summary.students} students; district admin {summary.district_admin}"
        )
    return 0


def export(args: argparse.Namespace) -> int:
    rt = runtime(args)
    _require_district(rt, args.district)
    if args.entity is None and args.file_format != ONEROSTER:
        raise CommandError("Name what to export with --entity (or give --format oneroster).")
    request = ExportRequest(
        district=args.district,
        username=args.username,
        entity=args.entity or "",
        columns=None if args.all_columns else _names(args.columns),
        grade=args.grade,
        school=args.school,
        class_group=args.class_group,
        product=args.product,
        search=args.search,
        ids=_ids(args.ids),
        format=args.file_format,
        include_inactive=args.include_inactive,
    )
    try:
        job_id = submit.export_job(rt, request)
    except RequestRefused as err:
        raise CommandError(err.message) from err
    return _run_and_report(rt, submit.EXPORT_ACTOR, job_id, args)


def import_file(args: argparse.Namespace) -> int:
    rt = runtime(args)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"No file {args.file!r}.")
    _require_district(rt, args.district)
    if args.entity is None and args.file_format != ONEROSTER:
        raise CommandError("Name what the file holds with --entity (or give --format oneroster).")
    request = ImportRequest(
        district=args.district,
        username=args.username,
        entity=ONEROSTER if args.file_format == ONEROSTER else args.entity,
        dry_run=args.dry_run,
        filename=path.name,
        format=None if args.file_format == ONEROSTER else args.file_format,
    )
    try:
        job_id = submit.import_job(rt, request, path)
    except RequestRefused as err:
        raise CommandError(err.message) from err
    return _run_and_report(rt, submit.IMPORT_ACTOR, job_id, args)


def _run_and_report(rt: Runtime, actor_name: str, job_id: str, args: Any) -> int:
    """Send the job; wait for its end with --wait (a bar on a terminal), or always with the
    in-process broker, where the job runs in this process."""
    submit.enqueue(rt, actor_name, job_id)
    if args.wait or rt.settings.embedded_broker:
        watch = _queue_watch(rt, actor_name)
        wait_for_job(rt.jobs, job_id, show_progress=args.wait, watch=watch)
    job = _job(rt, job_id)
    _print_job(rt, job, as_json=args.json)
    return 1 if job.status == JobStatus.FAILED.value else 0


def _queue_watch(rt: Runtime, actor_name: str) -> QueueWatch | None:
    """On Redis, what a waiting job's queue is and whether a worker serves it (the in-process
    broker's worker is this process)."""
    if rt.settings.embedded_broker:
        return None
    return redis_queue_watch(
        rt.jobs.sessions,
        rt.broker,
        rt.broker.get_actor(actor_name).queue_name,
        live_within_s=3 * rt.settings.heartbeat_seconds,
    )


def jobs_list(args: argparse.Namespace) -> int:
    rt = runtime(args)
    with rt.jobs.sessions() as session:
        district_id = _district_id(session, args.district) if args.district else None
        found = job_records.list_jobs(
            session,
            district_id=district_id,
            status=args.status,
            kind=args.kind,
            limit=args.limit,
        )
    if args.json:
        views = [job_object(job, rt.jobs.store, link_ttl=rt.settings.link_ttl) for job in found]
        print(json.dumps(views, indent=2))
        return 0
    for job in found:
        progress = f"{job.processed}/{job.total if job.total is not None else '?'}"
        print(
            f"{job.id}  {job.kind:6} {job.entity:9} {job.status:22} {progress:>15}  "
            f"{job.created_at:%Y-%m-%d %H:%M:%S}  {job.requested_by}"
        )
    return 0


def jobs_show(args: argparse.Namespace) -> int:
    rt = runtime(args)
    _print_job(rt, _job(rt, args.job_id), as_json=args.json)
    return 0


def jobs_cancel(args: argparse.Namespace) -> int:
    rt = runtime(args)
    _refuse_unstorable("The job id", args.job_id)
    with unit_of_work(rt.jobs.sessions) as session:
        job = job_records.get(session, args.job_id)
        if job is None:
            raise CommandError(_no_job(args.job_id))
        if not request_cancel(session, job):
            raise CommandError(f"The job has already finished ({job.status}).")
    _print_job(rt, _job(rt, args.job_id), as_json=args.json)
    return 0


def worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.embedded_broker:
        raise CommandError(
            "ROSTERJOBS_BROKER_URL is not set: with the in-process broker, jobs run inside "
            "the command that submits them. Set it to redis://host:6379/0 to run workers."
        )
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "--skip-logging",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "worker.runtime:setup",
        "worker.actors",
    ]
    if args.queues:
        argv += ["--queues", *args.queues]
    sys.stdout.flush()
    # dramatiq reads its idle poll interval from the environment when its worker module is
    # imported: an idle consumer sleeps up to this long between two looks at its queue
    # (its own default of 1 s puts most of a second between enqueue and start).
    env = {**os.environ, "dramatiq_worker_timeout": str(settings.worker_poll_ms)}
    if args.verbose:  # each worker process sets up its logging from the environment
        env[LEVEL_SETTING] = "DEBUG" if args.verbose > 1 else "INFO"
    os.execve(sys.executable, argv, env)
    return 0  # not reached: execv replaces this process


def api(args: argparse.Namespace) -> int:
    """Serve the HTTP API until interrupted; with the in-process broker, jobs run here.

    uvicorn builds the app in this process from its name (`api.app:app_from_env`, which
    calls `api_runtime`), so that nothing in `worker/` imports `api/`. A settings error
    raised while it does comes back out of `uvicorn.run`, to the CLI's one-line message.
    """
    import uvicorn

    os.environ[API_VERBOSITY] = str(args.verbose)
    # log_config=None: uvicorn's records go through our logging set-up (JSON lines);
    # no access log, because signed links carry their signature in the query string
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
    )
    return 0


def token(args: argparse.Namespace) -> int:
    """Print a token as the portal would sign it, for the educator named."""
    rt = runtime(args)
    longest = rt.settings.max_token_seconds
    if args.ttl > longest:
        raise CommandError(
            f"--ttl {args.ttl} is longer than the API accepts ({longest} seconds, "
            "ROSTERJOBS_MAX_TOKEN_SECONDS)."
        )
    _require_district(rt, args.district)
    with rt.jobs.sessions() as session:
        try:
            scope = resolve_scope(session, args.district, args.username)
        except RequestRefused as err:
            raise CommandError(err.message) from err
    secret = rt.settings.secret_key
    print(
        issue_token(
            secret, district_id=scope.district_id, username=scope.username, ttl_seconds=args.ttl
        )
    )
    return 0


def s3_events(args: argparse.Namespace) -> int:
    """Consume S3 upload notifications from SQS (or, with --setup, configure them)."""
    from storage.s3 import make_sqs_client
    from worker.s3_events import UploadEventConsumer, run_until_signalled, set_up_notifications

    rt = runtime(args)
    bucket = rt.jobs.store.s3_location()
    if bucket is None:
        raise CommandError(
            "ROSTERJOBS_STORAGE_URL is not s3://…: with folder storage the API's upload link "
            "queues the import itself, and there are no S3 events to consume."
        )
    sqs = make_sqs_client()
    if args.setup:
        set_up_notifications(
            bucket.client, sqs, bucket=bucket.bucket, prefix=bucket.prefix, queue_url=args.queue_url
        )
        print(f"s3://{bucket.bucket}/{bucket.prefix} now sends upload events to {args.queue_url}")
        return 0
    if rt.settings.embedded_broker:
        raise CommandError("ROSTERJOBS_BROKER_URL is not set: queued imports would run nowhere.")
    jobs = rt.jobs
    consumer = UploadEventConsumer(
        sqs=sqs,
        queue_url=args.queue_url,
        jobs=rt.jobs,
        bucket=bucket.bucket,
        prefix=bucket.prefix,
        send_import=lambda job_id: jobs.send("import", job_id),
    )
    if args.once:
        consumer.poll_once()
    else:
        run_until_signalled(consumer)
    return 0


def demo(args: argparse.Namespace) -> int:
    from worker.demo import run_demo

    return run_demo(runtime(args), students=args.students)


def _job(rt: Runtime, job_id: str) -> Job:
    _refuse_unstorable("The job id", job_id)
    with rt.jobs.sessions() as session:
        job = job_records.get(session, job_id)
    if job is None:
        raise CommandError(_no_job(job_id))
    return job


def _print_job(rt: Runtime, job: Job, *, as_json: bool) -> None:
    view = job_object(job, rt.jobs.store, link_ttl=rt.settings.link_ttl)
    if as_json:
        print(json.dumps(view, indent=2))
        return
    total = view["progress"]["total"]
    print(f"job {job.id}: {job.kind} of {job.entity} {job.status}")
    print(f"  progress: {job.processed} of {total if total is not None else '?'} rows")
    if job.counts:
        print("  counts: " + ", ".join(f"{k} {v}" for k, v in job.counts.items()))
    for name, warning in (job.warnings or {}).items():
        shown = ", ".join(warning) if isinstance(warning, list) else warning
        print(f"  warning ({name.replace('_', ' ')}): {shown}")
    if job.source_job_id:
        print(f"  {'reverts' if job.kind == 'revert' else 'commits'}: job {job.source_job_id}")
    labels = (("download", "result_url"), ("errors file", "error_report_url"))
    if job.kind in ("import", "revert"):
        labels = (("result file", "result_url"), ("errors file", "error_report_url"))
    for label, key in labels:
        if view[key]:
            print(f"  {label}: {view[key]}")
    if job.error:
        print(f"  error: {job.error}")


def _district_id(session: Any, ref: str) -> int:
    _refuse_unstorable("The district", ref)
    district = districts.find_district(session, ref)
    if district is None:
        raise CommandError(_no_district(ref))
    return district.id


def _require_district(rt: Runtime, ref: str) -> None:
    """Refuse a district that does not exist in the words `jobs list` uses, before a request
    refuses it as "No educator … in district …" (which the API says on purpose, so that a
    token cannot probe for districts; the command line has nobody to hide them from)."""
    with rt.jobs.sessions() as session:
        _district_id(session, ref)


def _refuse_unstorable(label: str, text: str) -> None:
    """Refuse text no database can hold (an argument that is not UTF-8) before a query
    meets it, in the words of `jobs.requests`."""
    problem = text_problem(text)
    if problem is not None:
        raise CommandError(f"{label} {problem}.")


def _no_district(ref: str) -> str:
    """The one wording for a district not found, by id or by name."""
    if ref.strip().isdigit():
        return f"No district with id {ref.strip()}."
    return f"No district named {ref!r}."


def _no_job(job_id: str) -> str:
    """The API's wording ("No such job."), with the id asked for."""
    return f"No such job {job_id!r}."


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


def _ids(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in _names(text))
    except ValueError as err:
        raise CommandError(f"--ids takes Database IDs separated by commas, not {text!r}") from err


def _listify(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
