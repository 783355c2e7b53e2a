"""Fixtures of the fault tests: a private Redis (never the shared one: these tests crash
it), a seeded district on the session's Postgres database, and a small roster for the tests
that run in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from tests import factories
from tests.factories import SmallDistrict
from tests.faults.services import PrivateRedis


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """The Redis the runbook asks for: append-only file, fsync every second."""
    server = PrivateRedis(tmp_path / "redis", persistent=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def forgetful_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis without persistence: a restart forgets every message."""
    server = PrivateRedis(tmp_path / "redis", persistent=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)
