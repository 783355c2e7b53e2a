from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from storage.db import unit_of_work
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    """Batches of two, so every test crosses batch boundaries."""
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


# The HTTP API's fixtures (the app on the test's database, the in-process broker)
from tests.api.conftest import (  # noqa: E402
    api_broker,
    api_settings,
    client,
    other_roster,
    runtime,
    store,
)

__all__ = ["api_broker", "api_settings", "client", "other_roster", "runtime", "store"]
