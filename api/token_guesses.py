"""Slowing down guesses of the operations token (`/ops/login`, `/ops` bearer, `/metrics`).

After `limit` wrong tokens from one client address within `window_s` seconds, that address
is refused (429) until the oldest of those failures is `window_s` old; then it has one more
try, and so on: at most `limit` wrong guesses a minute. A right token does not count, and
neither does an attempt refused by the limit.

The record is in this process's memory, so each API process counts on its own: with several
replicas (or uvicorn workers) an address gets `limit` guesses a minute from each of them.
That is still a few hundred a day against a random token of 32 characters or more, which is
the real defence; the limit makes a guessing run slow and visible (`ops.token_guesses_refused`
in the logs). The record holds at most `max_addresses` addresses, dropping the one whose last
failure is oldest when full, so a flood of addresses cannot exhaust the memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

GUESSES_PER_WINDOW = 5
WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000


class TokenGuesses:
    """Recent wrong tokens by client address; safe to share between request threads."""

    def __init__(
        self,
        *,
        limit: int = GUESSES_PER_WINDOW,
        window_s: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.max_addresses = limit, window_s, max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> int:
        """0 when `address` may try a token; otherwise the whole seconds until it may."""
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window_s - now))

    def failed(self, address: str) -> None:
        """Count a wrong token from `address`."""
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if not failures and len(self._failures) >= self.max_addresses:
                self._failures.popitem(last=False)
            failures.append(now)
            self._failures[address] = failures
            self._failures.move_to_end(address)

    def addresses(self) -> int:
        """How many addresses the record holds (bounded by `max_addresses`)."""
        with self._lock:
            return len(self._failures)

    def _recent(self, address: str, now: float) -> deque[float]:
        """The failures of `address` still inside the window; an address with none left is
        removed from the record."""
        failures = self._failures.get(address, deque(maxlen=self.limit))
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
        return failures
