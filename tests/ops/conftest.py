"""Fixtures of the operations tests: a job context on the test's database (SQLite and
Postgres) with folder storage, the shared small roster, and a Redis broker in a namespace of
the test's own with the service's two queues declared."""

from __future__ import annotations

from pathlib import Path

import pytest
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from storage.db import unit_of_work
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.processes import REDIS_URL


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def redis_broker(redis_namespace: str) -> RedisBroker:
    broker = RedisBroker(url=REDIS_URL, namespace=redis_namespace)  # type: ignore[no-untyped-call]
    for queue in ("exports", "imports"):
        broker.declare_queue(queue)
    return broker
