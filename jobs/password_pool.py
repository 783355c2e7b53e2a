"""Password hashing spread over processes, for files that set many passwords.

A scrypt hash costs about 50 ms of one core (`jobs.passwords`), so a file of 10,000 new
students would spend minutes hashing on one core while the others idle. A `PasswordPool`
hashes and verifies a batch's passwords in a `ProcessPoolExecutor` sized to the cores,
started the first time a batch has enough of them (a few go faster in the process) and
shut down when the job ends. Results mean exactly what the single-process ones mean: each
hash gets its own salt, and a stored hash verifies its password.

The workers are started with `spawn`, not `fork`: the job runs in a thread of a worker
process holding database connections and locks that a forked child must not inherit. A
password travels to a worker process and back through a pipe, never through a file or a log.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from types import TracebackType

from jobs.passwords import hash_password, verify_password

IN_PROCESS_BELOW = 4
"""Fewer passwords than this are hashed in the job's own process: starting workers costs more."""


def _verify(pair: tuple[str, str | None]) -> bool:
    return verify_password(*pair)


class PasswordPool:
    """`hash_all` and `verify_all` of a job, in worker processes when a batch has many.

    Use it as a context manager (or call `close`), so its processes end with the job.
    """

    def __init__(self, *, processes: int | None = None, in_process_below: int = IN_PROCESS_BELOW):
        self._processes = processes or os.cpu_count() or 1
        self._in_process_below = in_process_below
        self._executor: Executor | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    def hash_all(self, passwords: Sequence[str]) -> list[str]:
        """A hash of each password, in order, each with a fresh salt."""
        if len(passwords) < self._in_process_below or self._processes < 2:
            return [hash_password(password) for password in passwords]
        return list(self._pool().map(hash_password, passwords, chunksize=self._chunk(passwords)))

    def verify_all(self, pairs: Sequence[tuple[str, str | None]]) -> list[bool]:
        """Whether each stored hash is a hash of its password, in order."""
        if len(pairs) < self._in_process_below or self._processes < 2:
            return [verify_password(password, stored) for password, stored in pairs]
        return list(self._pool().map(_verify, pairs, chunksize=self._chunk(pairs)))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> PasswordPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _pool(self) -> Executor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self._processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def _chunk(self, items: Sequence[object]) -> int:
        return max(1, len(items) // (self._processes * 4))
