"""Which service a fault came from, so a failed job's message names it."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from jobs.errors import TransientJobError


def as_transient(err: BaseException) -> TransientJobError:
    """A retryable job error whose message names the service that did not answer."""
    if isinstance(err, TransientJobError):
        return err
    return TransientJobError(f"{_service_of(err)}: {type(err).__name__}: {_first_line(err)}")


def _service_of(err: BaseException) -> str:
    if isinstance(err, OperationalError | DBAPIError):
        return "The database did not answer"
    module = type(err).__module__
    if module.startswith(("botocore", "boto3", "storage.objects", "storage.s3")):
        return "Object storage did not answer"
    if module.startswith("redis"):
        return "The broker (Redis) did not answer"
    return "Unexpected error"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else "no details"
