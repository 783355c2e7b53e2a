"""History retention, on SQLite and Postgres: the reaper prunes the row results and change
history of imports finished longer ago than `ROSTERJOBS_IMPORT_HISTORY_DAYS`, a few rows per
transaction; such an import keeps its counts and files, and its revert is refused."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from jobs.errors import JobConflict
from jobs.lifecycle import JobContext
from jobs.reaper import prune_old_history
from storage.db import unit_of_work
from storage.models import ImportChange, ImportRowResult, Job, utcnow
from tests.factories import SmallDistrict
from tests.importing import run_import_of
from tests.revert.helpers import ask_revert
from tests.revert.test_revert import edited_students

PRUNED = "The import's change history is kept for 90 days after it finished and has been pruned"


def _finished_days_ago(ctx: JobContext, job_id: str, days: int) -> None:
    with unit_of_work(ctx.sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(finished_at=utcnow() - dt.timedelta(days=days))
        )


def _history(ctx: JobContext, job_id: str) -> tuple[int, int]:
    with ctx.sessions() as session:
        changes = session.scalar(
            select(func.count()).select_from(ImportChange).where(ImportChange.job_id == job_id)
        )
        results = session.scalar(
            select(func.count())
            .select_from(ImportRowResult)
            .where(ImportRowResult.job_id == job_id)
        )
    return changes or 0, results or 0


def test_old_history_is_pruned_a_few_rows_at_a_time_and_its_revert_refused(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an import finished 91 days ago and one finished 89 days ago
    data = edited_students(ctx, roster)
    old = run_import_of(ctx, roster, data).job
    recent = run_import_of(ctx, roster, data).job
    _finished_days_ago(ctx, old.id, 91)
    _finished_days_ago(ctx, recent.id, 89)
    changes, results = _history(ctx, old.id)
    assert changes > 6 and results == 5
    recent_history = _history(ctx, recent.id)

    # when the reaper runs with room for three transactions of two rows each
    deleted = prune_old_history(ctx.sessions, history_days=90, rows=2, max_batches=3)

    # then it deleted that much and no more, and the import is not marked pruned yet
    assert deleted == 6
    assert _history(ctx, old.id) == (changes - 6, results)
    with ctx.sessions() as session:
        assert session.get(Job, old.id).history_pruned_at is None  # type: ignore[union-attr]

    # when it runs until nothing is left
    while prune_old_history(ctx.sessions, history_days=90, rows=2, max_batches=3):
        pass

    # then the old import has no history but keeps its counts and files; the recent one
    # keeps everything; reverting the old one is refused with the reason
    assert _history(ctx, old.id) == (0, 0)
    assert _history(ctx, recent.id) == recent_history
    with ctx.sessions() as session:
        pruned = session.get(Job, old.id)
        assert pruned is not None and pruned.history_pruned_at is not None
        assert pruned.counts == old.counts and pruned.result_key == old.result_key
    with pytest.raises(JobConflict, match=PRUNED):
        ask_revert(ctx, old.id, roster.district_admin.username)


def test_an_import_past_its_history_days_is_refused_even_before_the_reaper_ran(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    old = run_import_of(ctx, roster, edited_students(ctx, roster)).job
    _finished_days_ago(ctx, old.id, 8)

    # when / then: with a week's retention
    with pytest.raises(JobConflict, match="kept for 7 days"):
        ask_revert(replace(ctx, import_history_days=7), old.id, roster.district_admin.username)
