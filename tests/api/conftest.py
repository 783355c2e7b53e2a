"""Fixtures of the HTTP API tests: the app on a real database (SQLite and Postgres), folder
storage in the test's tmp dir, and the in-process broker with its one worker thread.

dramatiq binds actors to the broker of the first `worker.runtime.start` in a process, so
the session starts once and every test's `Runtime` shares that broker; each test installs
its own job context (database, storage) for the worker thread, and waits at teardown until
the queues are empty, so no job of one test runs in the next.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from storage.db import unit_of_work
from storage.objects import FolderStore, ObjectStore
from tests import factories
from tests.api.helpers import SECRET, api_settings_for, make_runtime
from tests.factories import SmallDistrict
from worker.runtime import Runtime, start
from worker.settings import Settings

QUEUES = ("exports", "imports")


@pytest.fixture(scope="session")
def api_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base = tmp_path_factory.mktemp("api-runtime")
    start(
        Settings(
            database_url=f"sqlite:///{base / 'unused.db'}",
            storage_url=str(base / "objects"),
            secret_key=SECRET,
            base_dir=base,
            # The root conftest's setting, which a Settings built here would not read: the
            # embedded worker's reaper must not take the stale jobs a test plants (the
            # default, every 20 s, took one between its planting and the page showing it).
            reap_seconds=float(os.environ["ROSTERJOBS_REAP_SECONDS"]),
        ),
        json_logs=True,
    )
    import worker.actors

    yield worker.actors.export_roster.broker
    # the embedded worker stops at exit, after pytest closed the stream logging writes to
    logging.getLogger("dramatiq").setLevel(logging.WARNING)


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings_for(database_url, tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return FolderStore(tmp_path / "objects")


@pytest.fixture
def runtime(
    api_settings: Settings, engine: Engine, store: ObjectStore, api_broker: Any
) -> Iterator[Runtime]:
    runtime = make_runtime(api_settings, engine, store, api_broker)
    yield runtime
    drain(api_broker)


def drain(broker: Any) -> None:
    """Wait until every message sent during the test has been processed."""
    for queue in QUEUES:
        if queue in broker.queues:
            broker.join(queue, timeout=60_000, fail_fast=False)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def other_roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    """A second district, whose jobs must stay invisible to the first."""
    with unit_of_work(sessions) as session:
        return factories.small_district(session, "Hillcrest Consolidated")
