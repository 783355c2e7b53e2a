"""The job context of this worker process, installed once at start-up.

Actors take their resources from here rather than from globals spread over modules, so an
actor stays a thin shell around one pipeline call.
"""

from __future__ import annotations

from jobs.lifecycle import JobContext

_installed: list[JobContext] = []


def install(jobs: JobContext) -> None:
    _installed[:] = [jobs]


def current() -> JobContext:
    if not _installed:
        raise RuntimeError("the worker was not started (worker.runtime.start)")
    return _installed[0]
