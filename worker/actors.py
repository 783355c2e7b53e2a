"""Thin dramatiq actors: a job id in, one pipeline call, the outcome in the job record.

Import this module only after `worker.runtime.start` has set the broker.
"""

from __future__ import annotations

import dramatiq

from jobs.export import run_export
from jobs.imports import run_import
from jobs.lifecycle import run_job
from worker.context import current

EXPORTS = "exports"
IMPORTS = "imports"


@dramatiq.actor(queue_name=EXPORTS, actor_name="export_roster")
def export_roster(job_id: str) -> None:
    """Export a roster to CSV in object storage (see `jobs.export`)."""
    run_job(current(), job_id, run_export)


@dramatiq.actor(queue_name=IMPORTS, actor_name="import_roster")
def import_roster(job_id: str) -> None:
    """Import an uploaded CSV into the roster (see `jobs.imports`)."""
    run_job(current(), job_id, run_import)
