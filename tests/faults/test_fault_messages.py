"""What a job's error says when a service did not answer: the service, by name, and no
object key, query string, credential or SQL parameter."""

from __future__ import annotations

import psycopg
import pytest
import redis
from botocore.exceptions import ConnectionClosedError
from sqlalchemy.exc import OperationalError

from jobs.faults import as_transient
from storage.objects import StorageUnavailable


def test_a_storage_fault_names_object_storage_and_keeps_only_the_endpoints_host() -> None:
    # given what botocore raises when S3 drops the connection of an upload
    cause = ConnectionClosedError(
        endpoint_url="https://bucket.s3.example.org:443/district-files/exports/1/ab/students.csv"
        "?uploads&X-Amz-Credential=AKIAEXAMPLE"
    )

    # when
    message = as_transient(cause).message

    # then
    assert message.startswith("Object storage did not answer: ConnectionClosedError: ")
    assert "https://bucket.s3.example.org:443/…" in message
    assert "students.csv" not in message and "AKIA" not in message


def test_a_database_fault_keeps_the_first_line_and_never_the_statements_parameters() -> None:
    # given what SQLAlchemy raises when Postgres terminated the backend mid-batch
    cause = OperationalError(
        "UPDATE students SET last_name=%(last_name)s WHERE students.id = %(id)s",
        {"last_name": "Martínez-Hale", "id": 9},
        psycopg.OperationalError("terminating connection due to administrator command"),
    )

    # when
    message = as_transient(cause).message

    # then
    assert message == (
        "The database did not answer: OperationalError: (psycopg.OperationalError) "
        "terminating connection due to administrator command"
    )


@pytest.mark.parametrize(
    ("cause", "service"),
    [
        (psycopg.OperationalError("connection refused"), "The database did not answer"),
        (StorageUnavailable(), "Object storage did not answer"),
        (redis.ConnectionError("Connection refused"), "The broker (Redis) did not answer"),
        (KeyError("surprise"), "Unexpected error"),
    ],
)
def test_each_service_is_named_by_the_fault_it_raises(cause: Exception, service: str) -> None:
    assert as_transient(cause).message.startswith(f"{service}: {type(cause).__name__}: ")
