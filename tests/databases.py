"""Database fixtures: a real SQLite file and a real Postgres database per test session.

Each test gets an empty roster: SQLite by copying a migrated template file, Postgres by
truncating every table after the test. A missing Postgres server is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, session_factory, upgrade
from storage.models import Base
from worker.runtime import stop_embedded_workers

POSTGRES_ADMIN_URL = os.environ.get(
    "ROSTERJOBS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "rosterjobs.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@contextmanager
def migrated_database(label: str) -> Iterator[str]:
    """A new, migrated database on the test server, dropped at the end: its URL."""
    name = f"rosterjobs_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A migrated database of its own on the running Postgres server, dropped at the end."""
    with migrated_database("test") as url:
        yield url
        # an embedded worker started by a test beats into this database until stopped
        stop_embedded_workers()


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def postgres_url(postgres_database_url: str) -> Iterator[str]:
    yield postgres_database_url
    engine = make_engine(postgres_database_url)
    truncate_all(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite (embedded) and once on Postgres (production)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on Postgres alone, for what only the production database shows."""
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_sessions(pg_engine: Engine) -> sessionmaker[Session]:
    return session_factory(pg_engine)
