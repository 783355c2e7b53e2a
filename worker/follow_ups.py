"""`rosterjobs jobs commit` and `jobs revert`: a new job made from a finished one, for the
educator named by `--as` (who must be able to see that job), then sent and, with `--wait`
or the in-process broker, waited for, as `rosterjobs import` does."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sqlalchemy.orm import Session

from jobs.commit import NoSuchJob, requester_of, source_job, submit_commit
from jobs.errors import JobConflict, RequestRefused
from jobs.messages import REVERT
from jobs.revert_requests import submit_revert
from schemas.scope import Scope
from storage.db import unit_of_work
from storage.models import Job
from worker import submit
from worker.commands import CommandError, _no_job, _refuse_unstorable, _run_and_report, runtime
from worker.runtime import Runtime

FollowUp = Callable[[Session, Job, Scope], Job]
"""Makes a commit or a revert of a locked job for a requester (`jobs.commit`)."""


def jobs_commit(args: argparse.Namespace) -> int:
    """Commit a finished dry run: its upload imported for real, as a new job."""
    rt = runtime(args)
    job_id = _follow_up(rt, args, submit_commit)
    return _run_and_report(rt, submit.IMPORT_ACTOR, job_id, args)


def jobs_revert(args: argparse.Namespace) -> int:
    """Revert a finished import (or, with --dry-run, report what a revert would do)."""
    rt = runtime(args)
    days = rt.settings.import_history_days

    def make(session: Session, source: Job, scope: Scope) -> Job:
        return submit_revert(session, source, scope, dry_run=args.dry_run, history_days=days)

    job_id = _follow_up(rt, args, make)
    return _run_and_report(rt, REVERT.actor_name, job_id, args)


def _follow_up(rt: Runtime, args: argparse.Namespace, make: FollowUp) -> str:
    """Record the job `make` makes from the job named (locked) for `--as`; a refusal is the
    command's one-line error (exit 2)."""
    _refuse_unstorable("The job id", args.job_id)
    try:
        with unit_of_work(rt.jobs.sessions) as session:
            source = source_job(session, args.job_id)
            scope = requester_of(session, source, args.username)
            return make(session, source, scope).id
    except NoSuchJob as err:
        raise CommandError(_no_job(args.job_id)) from err
    except (RequestRefused, JobConflict) as err:
        raise CommandError(err.message) from err
