"""A second Postgres database, migrated like the first: the twin roster that an
uninterrupted run is made on, to compare with the roster of the interrupted one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.db import make_engine
from tests.databases import migrated_database, truncate_all


@pytest.fixture(scope="session")
def twin_database_url() -> Iterator[str]:
    with migrated_database("twin") as url:
        yield url


@pytest.fixture
def twin_postgres_url(twin_database_url: str) -> Iterator[str]:
    """Like `postgres_url`: emptied (ids restarting from 1) after each test, so a district
    seeded the same way in both gets the same Database IDs in both."""
    yield twin_database_url
    engine = make_engine(twin_database_url)
    truncate_all(engine)
    engine.dispose()
