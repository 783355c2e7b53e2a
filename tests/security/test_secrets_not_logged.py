"""A fault is logged with its traceback, but never with what its frames held: a 500 of the
API and an import that breaks after reading its rows leave no secret key, ops token, bearer
token or imported password in the log, as JSON lines or on the console. And no repr of the
settings (a debugger, a dataclass in a log line) shows a secret.

Logging is set up as the processes set it up (`worker.logs.configure_logging`), and the API
is served by uvicorn as `rosterjobs api` serves it, since uvicorn is what logs a 500.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from tests.api.helpers import SECRET, api_settings_for, token
from tests.factories import SmallDistrict
from tests.security.walk import admin, imported, student_file
from worker.logs import configure_logging
from worker.runtime import Runtime
from worker.settings import Settings

OPS_TOKEN = "ops-token-for-tests-0123456789-abcdef"
PASSWORD = "hunter2-sekret"
DATABASE_PASSWORD = "db-pass-Zk81"
BROKER_PASSWORD = "redis-pass-Qm42"


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    """The API tests' settings with an ops token, and two attempts per job: the first one's
    fault is what dramatiq logs with its traceback, the second fails the job for good."""
    return api_settings_for(database_url, tmp_path, ops_token=OPS_TOKEN, max_attempts=2)


@pytest.fixture(params=[True, False], ids=["json", "console"])
def production_logs(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[io.StringIO]:
    """Logging as a process configures it, JSON lines or console lines, with the stderr it
    writes to caught here. The test session's own set-up comes back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stderr = io.StringIO()
    with monkeypatch.context() as patched:
        patched.setattr(sys, "stderr", stderr)
        configure_logging(json=request.param)
    yield stderr
    root.handlers[:] = handlers
    root.setLevel(level)


def failing(message: str) -> Callable[..., Any]:
    """A stand-in for a function that meets a fault nobody planned for."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(message)

    return fail


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` under uvicorn in a thread, as `rosterjobs api` runs it (`log_config=None`, so
    uvicorn's records, a 500's traceback among them, go through our logging): its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def status_of(url: str, headers: dict[str, str]) -> int:
    """The status a plain HTTP client gets for `url`."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30):
            return 200
    except urllib.error.HTTPError as err:
        return err.code


def assert_no_secret(logged: str, *secrets: str) -> None:
    assert logged, "nothing was logged: the check would be empty"
    for secret in (SECRET, OPS_TOKEN, *secrets):
        assert secret not in logged


def test_a_500_logs_its_traceback_but_not_the_secret_key_the_ops_token_or_the_bearer_token(
    runtime: Runtime,
    roster: SmallDistrict,
    monkeypatch: pytest.MonkeyPatch,
    production_logs: io.StringIO,
) -> None:
    # given a route that meets an unexpected fault, with the runtime (and its settings) in
    # its frame, served as `rosterjobs api` serves it
    monkeypatch.setattr("api.routes.jobs.page_of_jobs", failing("the job list broke"))
    bearer = token(roster.district_admin)

    # when an educator lists their jobs
    with served(create_app(runtime)) as base:
        status = status_of(f"{base}/v1/jobs", {"Authorization": f"Bearer {bearer}"})
    logged = production_logs.getvalue()

    # then operations see the fault, and nothing that would let anyone in
    assert status == 500
    assert "RuntimeError" in logged and "the job list broke" in logged
    assert "list_jobs" in logged, "the traceback names the route's frame"
    # not even the token's start (its claims: the educator's username), which is all of it a
    # traceback's locals would show, as they cut strings at 80 characters
    assert_no_secret(logged, bearer[:64])


def test_an_import_that_breaks_after_reading_its_rows_logs_its_fault_but_no_password(
    client: TestClient,
    roster: SmallDistrict,
    monkeypatch: pytest.MonkeyPatch,
    production_logs: io.StringIO,
) -> None:
    # given a file that sets a password, and an import that breaks once its rows are parsed
    # and checked (on both paths: the general one and Postgres's fast one)
    for path in ("jobs.imports.apply_batch", "jobs.import_overlap.apply_batch"):
        monkeypatch.setattr(path, failing("the batch could not be applied"))
    data = student_file([f",Nia,Okafor,nokafor,{PASSWORD},000999,4,North Elementary"])
    headers = admin(roster)

    # when it is imported
    job = imported(client, headers, "students", data)
    logged = production_logs.getvalue()

    # then the job failed, its fault was logged with its traceback, and no secret was
    assert job["status"] == "failed", job
    assert "RuntimeError" in logged and "the batch could not be applied" in logged
    assert "run_job" in logged, "the traceback names the job's frames"
    assert_no_secret(logged, PASSWORD, headers["Authorization"].removeprefix("Bearer "))


def with_secrets(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "ops_token": OPS_TOKEN,
        "database_url": f"postgresql+psycopg://roster:{DATABASE_PASSWORD}@db.internal:5432/roster",
        "broker_url": f"redis://:{BROKER_PASSWORD}@cache.internal:6379/0",
    }
    return Settings(**(values | overrides))


def test_the_settings_repr_shows_which_services_but_no_secret_or_password() -> None:
    # given settings built directly, holding every kind of secret
    settings = with_secrets()

    # when they are shown, as a traceback or a debugger would show them
    shown = repr(settings)

    # then the secrets are masked, and the services still named
    for secret in (SECRET, OPS_TOKEN, DATABASE_PASSWORD, BROKER_PASSWORD):
        assert secret not in shown
    assert "secret_key='***'" in shown and "ops_token='***'" in shown
    assert "postgresql+psycopg://roster:***@db.internal:5432/roster" in shown
    assert "redis://:***@cache.internal:6379/0" in shown


def test_settings_read_from_the_environment_mask_their_secrets_too(tmp_path: Path) -> None:
    # given the environment of a production process
    environ = {
        "ROSTERJOBS_SECRET_KEY": SECRET,
        "ROSTERJOBS_OPS_TOKEN": OPS_TOKEN,
        "ROSTERJOBS_DATABASE_URL": f"postgresql://roster:{DATABASE_PASSWORD}@db/roster",
        "ROSTERJOBS_BROKER_URL": f"redis://default:{BROKER_PASSWORD}@cache:6379/0",
    }

    # when the settings are read, and one is changed as a test would change it
    settings = Settings.from_env(environ, cwd=tmp_path)
    shown = repr(settings) + repr(replace(settings, link_ttl=60))

    # then
    for secret in (SECRET, OPS_TOKEN, DATABASE_PASSWORD, BROKER_PASSWORD):
        assert secret not in shown
    assert "postgresql://roster:***@db/roster" in shown
    assert "redis://default:***@cache:6379/0" in shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://db/roster?user=app&password=Zk81-pw&sslmode=require",
            "postgresql://db/roster?user=app&password=***&sslmode=require",
        ),
        ("postgresql://app:Zk@81/pw@db:5432/roster", "postgresql://app:***@db:5432/roster"),
        ("sqlite:///var/rosterjobs.db", "sqlite:///var/rosterjobs.db"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
    ],
    ids=["password parameter", "unescaped @ and / in the password", "sqlite", "no password"],
)
def test_a_database_url_shows_all_but_its_password(url: str, expected: str) -> None:
    # given a database URL in one of the forms SQLAlchemy and psycopg accept

    # when the settings holding it are shown
    shown = repr(with_secrets(database_url=url))

    # then
    assert "Zk" not in shown
    assert f"database_url={expected!r}" in shown


def test_masked_settings_still_give_every_caller_the_real_values() -> None:
    # given
    settings = with_secrets()

    # when the values are used as the service uses them
    used = (settings.secret_key, f"{settings.ops_token}", str(settings.database_url))

    # then they are the secrets themselves, only their repr is masked
    assert used == (
        SECRET,
        OPS_TOKEN,
        f"postgresql+psycopg://roster:{DATABASE_PASSWORD}@db.internal:5432/roster",
    )
    assert settings.secret_key.encode() == SECRET.encode()
    assert Settings(secret_key="").secret_key == "" and Settings().ops_token is None
