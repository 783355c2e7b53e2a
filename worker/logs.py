"""Logging: structlog for our events, the standard library's records (dramatiq, SQLAlchemy,
botocore) rendered the same way. Console lines on a terminal, JSON lines otherwise.

Each process decides once, at its edge, how it logs (`log_choice`): a terminal gets console
lines, anything else JSON lines, unless `ROSTERJOBS_LOG_FORMAT` (`json` or `console`) says
otherwise; `ROSTERJOBS_LOG_LEVEL` (`DEBUG`, `INFO`, `WARNING`, `ERROR`) sets the level, and
the CLI's `-v` brings it down to INFO, `-vv` to DEBUG. Alembic's migration lines are held
back unless verbose; on a terminal so is the API's `api.request` line per request, unless
asked for.

A progress bar (`worker.progress`) redraws one terminal line in place; `LIVE_LINE` is that
line, and a log line written while it shows clears it first, so the two never share a line.

Events have stable names (`export.started`, `job.retry_scheduled`) and carry the job id,
district and attempt bound by the job lifecycle; roster contents are never logged. Nor are
a traceback's local variables: a frame holds the settings (secret key, ops token), a
request's headers or a batch of rows (passwords), so tracebacks show code, never values.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import structlog

from worker.settings import SettingsError

SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

JSON_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)
"""A JSON line's `exception`: each frame's file, line and function, without its locals
(structlog's `dict_tracebacks` records them all, secrets and rows included)."""
CONSOLE_TRACEBACKS = structlog.dev.plain_traceback
"""Python's own traceback, without locals (with Rich installed, the console's default shows
them)."""


def configure_logging(
    *,
    json: bool | None = None,
    level: int | None = None,
    verbosity: int = 0,
    terminal_level: int = logging.INFO,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send every log line to stderr, as `log_choice` decides; `json` and `level`, when
    given, win over it. Called at each process edge (`worker.runtime.start`), and by the
    CLI once more with its own `terminal_level` and `-v` count, after that start."""
    choice = log_choice(verbosity=verbosity, terminal_level=terminal_level, environ=environ)
    as_json = choice.as_json if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=CONSOLE_TRACEBACKS)
    )
    final = [JSON_TRACEBACKS, renderer] if as_json else [renderer]
    handler = _BesideTheBar(sys.stderr)
    handler.addFilter(_DropEvents(choice.dropped_events))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(choice.level if level is None else level)
    _hold_back(choice.quiet)
    structlog.configure(
        processors=[*SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


FORMAT_SETTING = "ROSTERJOBS_LOG_FORMAT"
LEVEL_SETTING = "ROSTERJOBS_LOG_LEVEL"
LEVELS = {name: getattr(logging, name) for name in ("DEBUG", "INFO", "WARNING", "ERROR")}
LIBRARY_LOGGERS = frozenset({"botocore", "boto3", "s3transfer", "urllib3", "smart_open"})
"""Held at WARNING always: their INFO lines are about connections, not jobs."""
MIGRATION_LOGGERS = frozenset({"alembic"})
"""Held at WARNING unless verbose: six lines of migration chatter before every `seed`."""
REQUEST_EVENTS = frozenset({"api.request"})
"""Dropped on a terminal unless asked for: one line per HTTP request drowns the rest."""


@dataclass(frozen=True)
class LogChoice:
    """How one process logs, decided once at its edge."""

    as_json: bool
    level: int
    quiet: frozenset[str]
    """Loggers held at WARNING whatever `level` says."""
    dropped_events: frozenset[str]
    """Event names never written."""


def log_choice(
    *,
    verbosity: int = 0,
    terminal_level: int = logging.INFO,
    environ: Mapping[str, str] | None = None,
    terminal: bool | None = None,
) -> LogChoice:
    """Console lines at `terminal_level` when stderr is a terminal (the CLI's commands pass
    WARNING: the person at it reads the command's own lines, not the worker's), JSON lines
    at INFO otherwise. The settings win over both; `-v` (`verbosity` 1) brings the level
    down to INFO and shows the migrations and requests, `-vv` to DEBUG. Asking for INFO in
    the setting shows the requests, DEBUG the migrations too. Raises `SettingsError` for a
    setting it cannot read."""
    env = os.environ if environ is None else environ
    on_terminal = sys.stderr.isatty() if terminal is None else terminal
    asked = _level_setting(env)
    usual = terminal_level if on_terminal else logging.INFO
    level = usual if asked is None else asked
    if verbosity > 0:
        level = min(level, logging.DEBUG if verbosity > 1 else logging.INFO)
    detailed = verbosity > 0 or (asked is not None and asked <= logging.DEBUG)
    requests = not on_terminal or verbosity > 0 or (asked is not None and asked <= logging.INFO)
    return LogChoice(
        as_json=_format_setting(env, default=not on_terminal),
        level=level,
        quiet=LIBRARY_LOGGERS if detailed else LIBRARY_LOGGERS | MIGRATION_LOGGERS,
        dropped_events=frozenset() if requests else REQUEST_EVENTS,
    )


def _level_setting(env: Mapping[str, str]) -> int | None:
    raw = (env.get(LEVEL_SETTING) or "").strip().upper()
    if not raw:
        return None
    if raw not in LEVELS:
        names = ", ".join(LEVELS)
        raise SettingsError(f"{LEVEL_SETTING} must be one of {names}, not {raw!r}.")
    return int(LEVELS[raw])


def _format_setting(env: Mapping[str, str], *, default: bool) -> bool:
    """True for JSON lines."""
    raw = (env.get(FORMAT_SETTING) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("json", "console"):
        raise SettingsError(f"{FORMAT_SETTING} must be json or console, not {raw!r}.")
    return raw == "json"


def _hold_back(quiet: frozenset[str]) -> None:
    """Quiet loggers at WARNING; the others of the kind back to the root's level (a process
    configured twice, the CLI's way, must not keep the first call's choice)."""
    for name in LIBRARY_LOGGERS | MIGRATION_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if name in quiet else logging.NOTSET)


class LiveLine:
    """The terminal line a progress bar redraws in place, shared by everything that writes to
    the terminal in this process: a line written while the bar shows would be glued to it.

    `set_aside` clears the bar's line, lets the caller write whole lines, then draws the
    bar again below them. A lock keeps the bar (the CLI's thread) and log lines (the embedded
    worker's thread) from writing at the same time.
    """

    CLEAR = "\r\x1b[K"
    """Back to the line's start, then erase to its end (ECMA-48 EL)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stream: TextIO | None = None
        self._text = ""

    def draw(self, stream: TextIO, text: str) -> None:
        """Show `text` on the line, in place of what was there (unless it is there)."""
        with self._lock:
            if stream is self._stream and text == self._text:
                return
            stream.write(self.CLEAR + text)
            stream.flush()
            self._stream, self._text = stream, text

    def finish(self) -> None:
        """Leave the line as it is and move below it: the bar is done."""
        with self._lock:
            if self._stream is not None:
                self._stream.write("\n")
                self._stream.flush()
            self._stream, self._text = None, ""

    @contextmanager
    def set_aside(self) -> Iterator[None]:
        with self._lock:
            stream = self._stream
            if stream is not None:
                stream.write(self.CLEAR)
                stream.flush()
            try:
                yield
            finally:
                if stream is not None:
                    stream.write(self._text)
                    stream.flush()


LIVE_LINE = LiveLine()
"""This process's progress-bar line (one terminal, one bar at a time)."""


class _BesideTheBar(logging.StreamHandler[TextIO]):
    """Writes each record on a line of its own, the progress bar set aside meanwhile."""

    def emit(self, record: logging.LogRecord) -> None:
        if not self._on_terminal():
            super().emit(record)
            return
        with LIVE_LINE.set_aside():
            super().emit(record)

    def _on_terminal(self) -> bool:
        """False for a closed stream too: `emit` then reports it as logging reports any
        failed write, instead of raising into the code that logged."""
        try:
            return bool(self.stream.isatty())
        except (ValueError, OSError):
            return False


class _DropEvents(logging.Filter):
    """Drops our events named in `events` (structlog hands the handler its event dict)."""

    def __init__(self, events: frozenset[str]) -> None:
        super().__init__()
        self.events = events

    def filter(self, record: logging.LogRecord) -> bool:
        event = record.msg.get("event") if isinstance(record.msg, dict) else None
        return event not in self.events
