"""Thin dramatiq actors: a job id in, one pipeline call, the outcome in the job record.

Their names and queues are the routes of `jobs.messages`, where every sender looks them up.
What leaves an actor is retried only as `worker.runtime.job_retries` says.
Import this module only after `worker.runtime.start` has set the broker.
"""

from __future__ import annotations

import dramatiq

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import run_job
from jobs.messages import EXPORT, IMPORT, REVERT
from jobs.revert import run_revert
from worker.context import current

EXPORTS = EXPORT.queue
IMPORTS = IMPORT.queue


@dramatiq.actor(queue_name=EXPORT.queue, actor_name=EXPORT.actor_name)
def export_roster(job_id: str) -> None:
    """Export a roster to CSV in object storage (see `jobs.export`)."""
    run_job(current(), job_id, run_export)


@dramatiq.actor(queue_name=IMPORT.queue, actor_name=IMPORT.actor_name)
def import_roster(job_id: str) -> None:
    """Import an uploaded CSV into the roster (see `jobs.imports`)."""
    run_job(current(), job_id, run_import)


@dramatiq.actor(queue_name=REVERT.queue, actor_name=REVERT.actor_name)
def revert_import(job_id: str) -> None:
    """Revert an import from its change history (see `jobs.revert`)."""
    run_job(current(), job_id, run_revert)
