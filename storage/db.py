"""Database engines, sessions and migrations.

`make_engine` is called once at a process edge (CLI, worker set-up, API start-up) with the
configured URL; nothing here reads the environment. A Postgres engine checks each pooled
connection before use (`pool_pre_ping`), so after a server restart or a killed backend the
next transaction gets a fresh connection; the one in flight fails, and its job is retried.
SQLite runs in WAL mode so that a job's progress can be committed on one connection while
another streams rows for an export.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
POSTGRES_CONNECT = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}
"""libpq options unless the URL sets them: a server that does not answer fails a connect
within 10 s, and a connection whose server vanished (a host gone, a partition) is given up
within about a minute, idle (keepalives) or mid-query (`tcp_user_timeout`, ms), instead of
a worker waiting on it for ever."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; a relative SQLite path is relative to the working folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, echo=echo)
    connect_args = {
        name: value for name, value in POSTGRES_CONNECT.items() if name not in parsed.query
    }
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args=connect_args,
    )


def _sqlite_engine(url: str, database: str | None, *, echo: bool) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only ("École" stays "École"); names are not ASCII.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    return engine


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    with sessions() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the `rosterjobs db upgrade` command)."""
    command.upgrade(alembic_config(engine), revision)
