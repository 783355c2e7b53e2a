"""Waiting for a job from the command line, with a progress bar on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from jobs.lifecycle import JobContext
from schemas.jobs import JobStatus
from storage import job_records

BAR_WIDTH = 30


def wait_for_job(
    ctx: JobContext,
    job_id: str,
    *,
    show_progress: bool = True,
    poll_seconds: float = 0.2,
    out: TextIO | None = None,
) -> str:
    """Poll the job record until the job finishes; answers its final status."""
    stream = out or sys.stderr
    draw = show_progress and stream.isatty()
    while True:
        with ctx.sessions() as session:
            job = job_records.get(session, job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            status, processed, total = JobStatus(job.status), job.processed, job.total
        if draw:
            stream.write("\r" + progress_line(status.value, processed, total))
            stream.flush()
        if status.finished:
            if draw:
                stream.write("\n")
            return status.value
        time.sleep(poll_seconds)


def progress_line(status: str, processed: int, total: int | None) -> str:
    if not total:
        return f"{status}: {processed} rows"
    share = min(processed / total, 1.0)
    filled = int(share * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return f"[{bar}] {share:6.1%} {processed}/{total} rows {status}"
