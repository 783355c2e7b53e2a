"""The `rosterjobs` command line: one entry point, a subcommand per task.

Settings come from the environment (see `worker.settings`); every subcommand that needs the
database, storage or broker starts the runtime once and passes it down. Every option says
what it does and shows its default in `--help`; a usage error is one line on stderr, exit 2.
`-v`/`--verbose` (before or after the subcommand) shows the worker's and libraries' logs,
which a terminal otherwise keeps at WARNING (see `worker.logs`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TypeAlias

from jobs.formats import READERS, TABLES
from schemas.jobs import JobKind, JobStatus
from schemas.oneroster import ONEROSTER
from worker import commands, follow_ups
from worker.settings import SettingsError

ENTITIES = ("students", "educators", "classes")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (commands.CommandError, SettingsError) as err:
        print(f"rosterjobs: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: …)" to an option's help when there is a default worth showing: not
    for flags, and not when the option has none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.nargs == 0:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """Every parser of the CLI (subcommands inherit the class): defaults shown in help, and a
    usage error told in one line, as the API's 422 answers in one sentence."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`.\n")


Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rosterjobs", description="Roster export/import jobs for the learning portal."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    _verbosity(parser, default=0)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (_db, _seed, _export, _import, _jobs, _worker, _api, _token, _s3_events, _demo):
        add(sub)
    return parser


def version() -> str:
    """The installed package's version (pyproject.toml's, once installed)."""
    try:
        return importlib.metadata.version("rosterjobs")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _verbosity(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="show the worker's and libraries' logs (-v: INFO, -vv: DEBUG)",
    )


def _command(sub: Subcommands, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand that runs, with a `-v` of its own: `-v` counts before or after the
    subcommand's name. (Without a default, the subcommand's `-v` leaves one given before the
    name in place; with one, it would overwrite it with 0.)"""
    command = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    _verbosity(command, default=argparse.SUPPRESS)
    return command


def _db(sub: Subcommands) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(title="actions", metavar="ACTION", required=True)
    upgrade = _command(db_sub, "upgrade", "apply migrations (creates the schema)")
    upgrade.set_defaults(run=commands.db_upgrade)


def _seed(sub: Subcommands) -> None:
    seed = _command(sub, "seed", "create a synthetic district")
    seed.add_argument("--district", required=True, metavar="NAME", help="the district's name")
    seed.add_argument(
        "--students", required=True, type=_count, metavar="N", help="how many students"
    )
    seed.add_argument(
        "--schools", type=_count, metavar="S", help="how many schools (default: one per 500)"
    )
    seed.add_argument(
        "--random-seed",
        type=int,
        default=0,
        metavar="X",
        help="the same seed makes the same district (names, grades, classes)",
    )
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


def _export(sub: Subcommands) -> None:
    export = _command(sub, "export", "export a roster to a file (CSV, XLSX or a printable PDF)")
    _requester(export)
    export.add_argument(
        "--entity", choices=ENTITIES, help="what to export (not with --format oneroster)"
    )
    export.add_argument(
        "--format",
        dest="file_format",
        choices=sorted({*TABLES, ONEROSTER}),
        default="csv",
        help="the file's format: %(choices)s (pdf: a printable roster, no Password column, "
        "at most ROSTERJOBS_PDF_MAX_ROWS rows; oneroster: a OneRoster 1.1 zip of everything "
        "in your scope, no --entity)",
    )
    columns = export.add_mutually_exclusive_group()
    columns.add_argument("--columns", metavar="LIST", help='optional columns, "A,B,…"')
    columns.add_argument("--all-columns", action="store_true", help="every optional column")
    export.add_argument("--grade", metavar="G", help="students of this grade only (PK, K, 1…12)")
    export.add_argument("--school", metavar="NAME", help="this school's rows only")
    export.add_argument(
        "--class", dest="class_group", metavar="NAME", help="this class/group's rows only"
    )
    export.add_argument(
        "--product",
        metavar="NAME",
        help="rows of this purchased product only (students with access to it, its classes)",
    )
    export.add_argument("--search", metavar="TEXT", help="name, username or ID contains")
    export.add_argument("--ids", metavar="LIST", help="Database IDs, comma-separated")
    export.add_argument(
        "--include-inactive",
        action="store_true",
        help="deactivated students, educators and classes too (left out otherwise)",
    )
    export.set_defaults(run=commands.export)


def _import(sub: Subcommands) -> None:
    imports = _command(sub, "import", "import a CSV or XLSX file into the roster")
    imports.add_argument("file", metavar="FILE", help="the CSV or XLSX file to import")
    _requester(imports)
    imports.add_argument(
        "--entity", choices=ENTITIES, help="what the file holds (not with --format oneroster)"
    )
    imports.add_argument(
        "--format",
        dest="file_format",
        choices=sorted({*(reader.name for reader in READERS), ONEROSTER}),
        help="refuse the file unless it is this format: %(choices)s (default: recognised "
        "from its content; oneroster, a OneRoster 1.1 zip of several entities, must be given "
        "and takes no --entity)",
    )
    imports.add_argument("--dry-run", action="store_true", help="validate and report only")
    imports.set_defaults(run=commands.import_file)


def _jobs(sub: Subcommands) -> None:
    jobs = sub.add_parser("jobs", help="list, show or cancel jobs")
    jobs_sub = jobs.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = _command(jobs_sub, "list", "newest jobs first")
    listing.add_argument("--district", metavar="D", help="this district's jobs only (id or name)")
    listing.add_argument(
        "--status",
        choices=[status.value for status in JobStatus],
        metavar="STATUS",
        help="jobs in this state only: %(choices)s",
    )
    listing.add_argument(
        "--kind",
        choices=[kind.value for kind in JobKind],
        metavar="KIND",
        help="jobs of this kind only: %(choices)s",
    )
    listing.add_argument("--limit", type=_count, default=20, metavar="N", help="at most N jobs")
    listing.add_argument("--json", action="store_true", help="print the job objects as JSON")
    listing.set_defaults(run=commands.jobs_list)
    for name, run, text in (
        ("show", commands.jobs_show, "one job, with fresh links"),
        ("cancel", commands.jobs_cancel, "cancel a queued or running job"),
    ):
        action = _command(jobs_sub, name, text)
        action.add_argument("job_id", metavar="ID", help="the job's id")
        action.add_argument("--json", action="store_true", help="print the job object as JSON")
        action.set_defaults(run=run)
    _follow_ups(jobs_sub)


def _follow_ups(jobs_sub: Subcommands) -> None:
    """`jobs commit` and `jobs revert`: a new job made from a finished one."""
    commit = _command(jobs_sub, "commit", "apply a finished dry run's upload for real")
    revert = _command(jobs_sub, "revert", "undo a finished import from its change history")
    for action, whose in ((commit, "the dry run's id"), (revert, "the import's id")):
        action.add_argument("job_id", metavar="ID", help=whose)
        action.add_argument(
            "--as", dest="username", required=True, metavar="USERNAME", help="requesting educator"
        )
        action.add_argument("--wait", action="store_true", help="wait, with a progress bar")
        action.add_argument("--json", action="store_true", help="print the job object as JSON")
    revert.add_argument(
        "--dry-run", action="store_true", help="report what the revert would do, change nothing"
    )
    commit.set_defaults(run=follow_ups.jobs_commit)
    revert.set_defaults(run=follow_ups.jobs_revert)


def _worker(sub: Subcommands) -> None:
    worker = _command(sub, "worker", "run dramatiq workers on the configured broker")
    worker.add_argument("--processes", type=_count, default=2, metavar="N", help="worker processes")
    worker.add_argument("--threads", type=_count, default=2, metavar="N", help="threads each")
    worker.add_argument(
        "--queues", nargs="+", metavar="Q", help="consume these queues only (default: all)"
    )
    worker.set_defaults(run=commands.worker)


def _api(sub: Subcommands) -> None:
    api = _command(sub, "api", "serve the portal's HTTP API (uvicorn)")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on")
    api.add_argument("--port", type=_port, default=8000, help="port to listen on")
    api.set_defaults(run=commands.api)


def _token(sub: Subcommands) -> None:
    token = _command(sub, "token", "print a bearer token for the HTTP API (for testing)")
    token.add_argument("--district", required=True, metavar="D", help="district id or name")
    token.add_argument(
        "--as", dest="username", required=True, metavar="USERNAME", help="the educator"
    )
    token.add_argument(
        "--ttl", type=_count, default=3600, metavar="SECONDS", help="the token's lifetime"
    )
    token.set_defaults(run=commands.token)


def _s3_events(sub: Subcommands) -> None:
    events = _command(
        sub, "s3-events", "start imports when their upload lands in S3 (SQS notifications)"
    )
    events.add_argument("--queue-url", required=True, metavar="URL", help="the SQS queue")
    events.add_argument(
        "--setup",
        action="store_true",
        help="point the bucket's upload events at the queue, then exit",
    )
    events.add_argument("--once", action="store_true", help="one long poll, then exit")
    events.set_defaults(run=commands.s3_events)


def _demo(sub: Subcommands) -> None:
    demo = _command(sub, "demo", "seed a demo district under ./var and export it")
    demo.add_argument(
        "--students", type=_count, default=20_000, metavar="N", help="the demo district's size"
    )
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
