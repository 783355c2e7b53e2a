"""The exception root of job problems, split by what the worker should do about them.

Row problems are never exceptions: they are `RowResult` data. A job problem is either
permanent (a bad request or a bad file: the job fails at once with this message, which a
teacher can act on) or transient (a service did not answer: the job is retried with backoff).
An exception's docstring is its default message.
"""

from __future__ import annotations


class JobError(Exception):
    """The job could not be run."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class PermanentJobError(JobError):
    """The job cannot succeed as asked; running it again would not help."""


class RequestRefused(PermanentJobError):
    """The request is not allowed or names something that does not exist.

    `field` names the request field at fault (`columns`, `filters.school`) when the request
    names something that does not exist or does not apply: the request is invalid. Without
    a field, the request is valid but outside the educator's reach: it is forbidden.
    """

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class JobConflict(PermanentJobError):
    """The job is not in a state that allows this.

    A commit of anything but a finished dry run, a revert of anything but a finished
    import that still has its history (`jobs.commit`, `jobs.revert_requests`): the API
    answers 409, the CLI one line.
    """


class TransientJobError(JobError):
    """A service the job needs did not answer; the job will be tried again."""


class JobCancelled(JobError):
    """The job was cancelled."""


class WorkerStopping(JobError):
    """Its worker is stopping; the job goes back to the queue for another worker.

    Raised between batches (`jobs.lifecycle.report_progress`) once the worker process was
    asked to stop (SIGTERM), so the job stops where nothing is half done: neither permanent
    nor transient, it is no failure and costs no attempt.
    """


class FileRefused(PermanentJobError):
    """The file cannot be imported as it is."""
