"""Which faults are transient, and which service a fault came from, so a job's message
names it.

A transient fault is a service that did not answer: the database (SQLAlchemy's or the
driver's `OperationalError`/`InterfaceError`, a pool timeout), the broker (Redis connection
errors and timeouts), object storage (`StorageUnavailable`, botocore's connection errors),
a dropped connection or a timeout of any of them, or a pipeline's own `TransientJobError`.
Running the job again later may succeed, so `jobs.lifecycle` retries it with backoff until
its attempts run out. Anything else that is not a `JobError` (a TypeError, a KeyError, an
IntegrityError…) is a defect of the code or the data it met: running it again would meet it
again, so the lifecycle fails the job at once as an internal error (`is_transient`).

The message is what the job's `error` shows to whoever asked for it: the service first
("Object storage did not answer"), then the error's type and the first line of its text,
with any URL cut down to its scheme and host (a bucket's object keys and presigned query
strings stay in the logs). Only the first line is kept: SQLAlchemy adds the statement and
its parameters, which may hold roster data, on the lines after.
"""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlsplit

import psycopg
import redis
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError
from sqlalchemy import exc as sa_exc

from jobs.errors import TransientJobError
from storage.objects import StorageUnavailable

DATABASE = "The database did not answer"
STORAGE = "Object storage did not answer"
BROKER = "The broker (Redis) did not answer"
UNEXPECTED = "Unexpected error"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)

TRANSIENT: tuple[type[BaseException], ...] = (
    TransientJobError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    StorageUnavailable,
    BotocoreConnectionError,
    HTTPClientError,
    ConnectionError,
    TimeoutError,
)
"""A service that did not answer (see the module's docstring)."""


def is_transient(err: BaseException) -> bool:
    """Whether running the job again later may get past `err`."""
    return isinstance(err, TRANSIENT)


def as_transient(err: BaseException) -> TransientJobError:
    """A retryable job error whose message names the service that did not answer."""
    if isinstance(err, TransientJobError):
        return err
    return TransientJobError(f"{_service_of(err)}: {type(err).__name__}: {_first_line(err)}")


def _service_of(err: BaseException) -> str:
    if isinstance(err, sa_exc.DBAPIError):
        return DATABASE
    module = type(err).__module__
    if module.startswith(("psycopg", "sqlite3")):
        return DATABASE
    if module.startswith(("botocore", "boto3", "storage.objects", "storage.s3")):
        return STORAGE
    if module.startswith(("redis", "dramatiq")):
        return BROKER
    return UNEXPECTED


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return _URL.sub(_host_only, text[0])[:300] if text else "no details"


def _host_only(match: re.Match[str]) -> str:
    parts = urlsplit(match.group(0))
    host = parts.netloc.rpartition("@")[2]  # never credentials either
    return f"{parts.scheme}://{host}/…"
