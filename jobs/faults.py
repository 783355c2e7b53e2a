"""Which service a fault came from, so a failed job's message names it.

The message is what the job's `error` shows to whoever asked for it: the service first
("Object storage did not answer"), then the error's type and the first line of its text,
with any URL cut down to its scheme and host (a bucket's object keys and presigned query
strings stay in the logs). Only the first line is kept: SQLAlchemy adds the statement and
its parameters, which may hold roster data, on the lines after.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError, OperationalError

from jobs.errors import TransientJobError

DATABASE = "The database did not answer"
STORAGE = "Object storage did not answer"
BROKER = "The broker (Redis) did not answer"
UNEXPECTED = "Unexpected error"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)


def as_transient(err: BaseException) -> TransientJobError:
    """A retryable job error whose message names the service that did not answer."""
    if isinstance(err, TransientJobError):
        return err
    return TransientJobError(f"{_service_of(err)}: {type(err).__name__}: {_first_line(err)}")


def _service_of(err: BaseException) -> str:
    if isinstance(err, OperationalError | DBAPIError):
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
