"""The `rosterjobs` command line: one entry point, a subcommand per task.

Settings come from the environment (see `worker.settings`); every subcommand that needs the
database, storage or broker starts the runtime once and passes it down.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from worker import commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except commands.CommandError as err:
        print(f"rosterjobs: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rosterjobs", description="Roster export/import jobs for the learning portal."
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _db(sub)
    _seed(sub)
    _export(sub)
    _import(sub)
    _jobs(sub)
    _worker(sub)
    _api(sub)
    _token(sub)
    _s3_events(sub)
    _demo(sub)
    return parser


def _db(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(title="actions", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (creates the schema)")
    upgrade.set_defaults(run=commands.db_upgrade)


def _seed(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = sub.add_parser("seed", help="create a synthetic district")
    seed.add_argument("--district", required=True, metavar="NAME")
    seed.add_argument("--students", required=True, type=_count, metavar="N")
    seed.add_argument("--schools", type=_count, metavar="S")
    seed.add_argument("--random-seed", type=int, default=0, metavar="X")
    seed.add_argument("--replace", action="store_true", help="delete and re-seed if it exists")
    seed.add_argument("--json", action="store_true", help="print the summary as JSON")
    seed.set_defaults(run=commands.seed)


def _requester(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--district", required=True, metavar="D", help="district id or name")
    parser.add_argument(
        "--as", dest="username", required=True, metavar="USERNAME", help="requesting educator"
    )
    parser.add_argument("--wait", action="store_true", help="wait, with a progress bar")
    parser.add_argument("--json", action="store_true", help="print the job object as JSON")


def _export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser("export", help="export a roster to CSV")
    _requester(export)
    export.add_argument("--entity", required=True, choices=("students", "educators", "classes"))
    columns = export.add_mutually_exclusive_group()
    columns.add_argument("--columns", metavar="LIST", help='optional columns, "A,B,…"')
    columns.add_argument("--all-columns", action="store_true", help="every optional column")
    export.add_argument("--grade")
    export.add_argument("--school", metavar="NAME")
    export.add_argument("--class", dest="class_group", metavar="NAME")
    export.add_argument("--product", metavar="NAME")
    export.add_argument("--search", metavar="TEXT", help="name, username or ID contains")
    export.add_argument("--ids", metavar="LIST", help="Database IDs, comma-separated")
    export.set_defaults(run=commands.export)


def _import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = sub.add_parser("import", help="import a CSV file into the roster")
    imports.add_argument("file", metavar="FILE")
    _requester(imports)
    imports.add_argument("--entity", required=True, choices=("students", "educators", "classes"))
    imports.add_argument("--dry-run", action="store_true", help="validate and report only")
    imports.set_defaults(run=commands.import_file)


def _jobs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser("jobs", help="list, show or cancel jobs")
    jobs_sub = jobs.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = jobs_sub.add_parser("list", help="newest jobs first")
    listing.add_argument("--district", metavar="D")
    listing.add_argument("--status")
    listing.add_argument("--kind", choices=("export", "import"))
    listing.add_argument("--limit", type=_count, default=20)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=commands.jobs_list)
    for name, run, text in (
        ("show", commands.jobs_show, "one job, with fresh links"),
        ("cancel", commands.jobs_cancel, "cancel a queued or running job"),
    ):
        action = jobs_sub.add_parser(name, help=text)
        action.add_argument("job_id", metavar="ID")
        action.add_argument("--json", action="store_true")
        action.set_defaults(run=run)


def _worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run dramatiq workers on the configured broker")
    worker.add_argument("--processes", type=_count, default=2)
    worker.add_argument("--threads", type=_count, default=2)
    worker.add_argument("--queues", nargs="+", metavar="Q", help="default: all queues")
    worker.set_defaults(run=commands.worker)


def _api(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = sub.add_parser("api", help="serve the portal's HTTP API (uvicorn)")
    api.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    api.add_argument("--port", type=_port, default=8000, help="default: 8000")
    api.set_defaults(run=commands.api)


def _token(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="print a bearer token for the HTTP API (for testing)")
    token.add_argument("--district", required=True, metavar="D", help="district id or name")
    token.add_argument(
        "--as", dest="username", required=True, metavar="USERNAME", help="the educator"
    )
    token.add_argument(
        "--ttl", type=_count, default=3600, metavar="SECONDS", help="lifetime (default 3600)"
    )
    token.set_defaults(run=commands.token)


def _s3_events(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = sub.add_parser(
        "s3-events", help="start imports when their upload lands in S3 (SQS notifications)"
    )
    events.add_argument("--queue-url", required=True, metavar="URL", help="the SQS queue")
    events.add_argument(
        "--setup",
        action="store_true",
        help="point the bucket's upload events at the queue, then exit",
    )
    events.add_argument("--once", action="store_true", help="one long poll, then exit")
    events.set_defaults(run=commands.s3_events)


def _demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="seed a demo district under ./var and export it")
    demo.add_argument("--students", type=_count, default=20_000)
    demo.set_defaults(run=commands.demo)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from err
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return value


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("must be a port number, 1 to 65535")
    return value


if __name__ == "__main__":
    sys.exit(main())
