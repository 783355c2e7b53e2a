"""Job states, kinds and the job object the CLI and the HTTP API show."""

from __future__ import annotations

from enum import Enum


class JobStatus(Enum):
    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """A finished job is never run again, whatever the broker delivers."""
        return self in FINISHED


FINISHED = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }
)


class JobKind(Enum):
    EXPORT = "export"
    IMPORT = "import"
    REVERT = "revert"
    """Undoes an import from its change history (`jobs.revert`)."""
