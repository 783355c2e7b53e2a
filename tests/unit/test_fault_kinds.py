"""Which errors a job is retried after (`jobs.faults.is_transient`): a service that did not
answer is retried with backoff; a defect of the code is not, since it would meet it again.
And what the broker's Retries retries (`worker.runtime.job_retries`): only what the job
lifecycle asks for, bounded by the job's attempts, or a fault the lifecycle could not record."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
import redis
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from jobs.errors import TransientJobError
from jobs.faults import is_transient
from storage.objects import StorageUnavailable
from worker.runtime import job_retries


@pytest.mark.parametrize(
    "fault",
    [
        OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection")),
        InterfaceError("SELECT 1", {}, psycopg.InterfaceError("connection already closed")),
        psycopg.OperationalError("connection refused"),
        sqlite3.OperationalError("database is locked"),
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        StorageUnavailable(),
        EndpointConnectionError(endpoint_url="https://s3.example.org"),
        ReadTimeoutError(endpoint_url="https://s3.example.org"),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
        TransientJobError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_service_that_did_not_answer_is_transient(fault: Exception) -> None:
    assert is_transient(fault)


@pytest.mark.parametrize(
    "defect",
    [
        TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'"),
        AttributeError("'NoneType' object has no attribute 'id'"),
        NameError("name 'rows' is not defined"),
        AssertionError(),
        KeyError("created"),
        ValueError("invalid literal for int()"),
        IntegrityError("INSERT", {}, psycopg.IntegrityError("duplicate key")),
        RuntimeError("this process has no broker to send the job's message on"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_defect_of_the_code_is_not_transient(defect: Exception) -> None:
    assert not is_transient(defect)


def test_the_broker_retries_whatever_the_lifecycle_asks_and_an_unrecorded_fault_a_few_times() -> (
    None
):
    # given the Retries of a worker whose jobs get three attempts
    retry_when = job_retries((2_000, 300_000), max_attempts=3).retry_when
    assert retry_when is not None

    # then a retry the lifecycle asked for (the job had attempts left) is always made;
    # a database fault the lifecycle could not record, three times; a defect, never
    assert retry_when(40, TransientJobError())
    database_down = OperationalError("SELECT", {}, psycopg.OperationalError("refused"))
    assert [retry_when(n, database_down) for n in range(5)] == [True, True, True, False, False]
    assert not retry_when(0, TypeError("a defect"))
