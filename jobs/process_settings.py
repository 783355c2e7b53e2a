"""Interpreter settings a long import changes for the whole process while it runs.

Both are process-wide (a worker runs several jobs in threads), so each is held by a
`WhileAnyRuns`: set when the first job that wants it starts, put back to what the process
had when the last one ends, whatever the jobs' order.

- `quick_thread_switches`: the GIL is handed over after 0.5 ms instead of 5 ms while an
  import's batches overlap (`jobs.import_overlap`), so its writer thread is not kept waiting
  after each database answer.
- `rare_collections`: the cyclic garbage collector runs after 50,000 new objects instead of
  700 while an import runs (`jobs.imports`). An import keeps a batch or two of rows alive at
  a time (its drafts, stored records and decisions, some 20 objects a row), so at 700 the
  collector ran thousands of times per 100,000 rows, promoted every batch to the oldest
  generation and then walked all of it again: 4.3 s of the 16.4 s of Python the 100,000-row
  update import used (`python scripts/profile_import.py`; `gc.callbacks` counted 3,752, 341
  and 31 collections of the three generations, of 88 ms each for the oldest). That run left
  5,600 objects in cycles in all, which the collector still finds, later.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")

SWITCH_INTERVAL_S = 0.0005
"""How long a thread holds the GIL before another may take it, while batches overlap.

The writer thread waits on the database a dozen times a batch; each time its answer is in,
it needs the GIL back from the main thread, which is parsing and checking. With Python's
default of 5 ms every round trip waits that long: measured on the 100,000-row update file,
the writes took twice as long and the import 27.7 s instead of 15.1 s."""

IMPORT_GC_THRESHOLDS = (50_000, 20, 100)
"""`gc.set_threshold` while an import runs (Python's default is 700, 10, 10)."""


class WhileAnyRuns(Generic[T]):
    """A process-wide setting held at `value` while any caller is inside `__call__()`."""

    def __init__(self, read: Callable[[], T], write: Callable[[T], None], value: T) -> None:
        self.value = value
        self._read, self._write = read, write
        self._lock = threading.Lock()
        self._holders = 0
        self._before: T | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._before = self._read()
                self._write(self.value)
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._before is not None:
                    self._write(self._before)


def _set_gc_thresholds(thresholds: tuple[int, ...]) -> None:
    gc.set_threshold(*thresholds)


quick_thread_switches = WhileAnyRuns(
    sys.getswitchinterval, sys.setswitchinterval, SWITCH_INTERVAL_S
)
rare_collections: WhileAnyRuns[tuple[int, ...]] = WhileAnyRuns(
    gc.get_threshold, _set_gc_thresholds, IMPORT_GC_THRESHOLDS
)
