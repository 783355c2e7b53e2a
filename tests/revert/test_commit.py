"""Committing a dry run, on SQLite and Postgres: the same upload applied for real gives the
roster a direct import of that file gives, and is stored once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import JobConflict
from jobs.lifecycle import JobContext
from storage.db import make_engine, session_factory, unit_of_work
from storage.objects import FolderStore
from tests import factories
from tests.crash.conftest import twin_database_url, twin_postgres_url
from tests.factories import SmallDistrict
from tests.importing import run_import_of
from tests.revert.helpers import commit, exports
from tests.revert.test_revert import edited_students

__all__ = ["twin_database_url", "twin_postgres_url"]


@pytest.fixture
def twin_sessions(
    database_url: str, sqlite_template: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[sessionmaker[Session]]:
    """A second database of the same kind, migrated and empty: the twin roster's."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "twin.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = str(request.getfixturevalue("twin_postgres_url"))
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def test_a_committed_dry_run_leaves_the_roster_a_direct_import_gives_its_twin(
    ctx: JobContext,
    roster: SmallDistrict,
    twin_sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    # given the same district twice, and a teacher's edited file
    with unit_of_work(twin_sessions) as session:
        twin = factories.small_district(session)
    twin_ctx = JobContext(
        sessions=twin_sessions, store=FolderStore(tmp_path / "twin"), batch_rows=2
    )
    data = edited_students(ctx, roster)
    assert data == edited_students(twin_ctx, twin)
    before = exports(ctx, roster)

    # when one verifies the file and then commits it, the other imports it at once
    dry_run = run_import_of(ctx, roster, data, dry_run=True)
    assert exports(ctx, roster) == before
    committed = commit(ctx, dry_run.job.id, roster.district_admin.username)
    direct = run_import_of(twin_ctx, twin, data)

    # then
    assert committed.status == direct.job.status == "completed", committed.error
    assert committed.counts == direct.job.counts == dry_run.job.counts
    assert committed.input_key == dry_run.job.input_key
    assert exports(ctx, roster) == exports(twin_ctx, twin)
    assert len(list((tmp_path / "objects" / "imports").rglob("upload-*"))) == 1
    with pytest.raises(JobConflict, match="already been committed"):
        commit(ctx, dry_run.job.id, roster.district_admin.username)
