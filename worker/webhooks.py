"""The webhook sender of a worker process: a thread that sends the outbox's due deliveries.

`WebhookSending` is a dramatiq middleware, added by `worker.runtime.start` when
`ROSTERJOBS_WEBHOOK_URL` is set. When a dramatiq `Worker` boots in this process (each
`rosterjobs worker` process, or the embedded worker thread of the in-process broker), it
starts one daemon thread that runs `jobs.notify.deliver_due` every `POLL_SECONDS`, and at
once after each job message this process has processed (its final state is committed by
then). Jobs never wait for it: a slow or hanging receiver holds this thread only, for at
most `ROSTERJOBS_WEBHOOK_TIMEOUT_SECONDS` per attempt.

Several processes may send: each delivery is claimed under a lease (`storage.
webhook_deliveries.claim_due`), so one process sends it, and if that process dies before
recording the attempt, another sends it once the lease ends.

At shutdown the thread makes a last pass over what is due (so `rosterjobs export` on the
embedded defaults tells the portal before it exits), starting attempts for at most one
timeout; what is left stays in the outbox for the next worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from dramatiq.middleware import Middleware

from jobs.lifecycle import JobContext
from jobs.notify import Sender, deliver_due
from jobs.notify_http import WebhookTarget
from worker import context

log = structlog.get_logger("rosterjobs.webhooks")

POLL_SECONDS = 1.0


class WebhookSending(Middleware):
    """Starts and stops this process's webhook sender with its dramatiq worker."""

    def __init__(
        self,
        target: WebhookTarget,
        *,
        job_context: Callable[[], JobContext] = context.current,
        poll_s: float = POLL_SECONDS,
    ) -> None:
        self.target, self.job_context, self.poll_s = target, job_context, poll_s
        self._thread: WebhookThread | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._thread = WebhookThread(self.sender, poll_s=self.poll_s)
        self._thread.start()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if self._thread is not None:
            self._thread.wake()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self._thread is not None:
            self._thread.stop(timeout_s=self.target.timeout_s)
            self._thread = None

    def sender(self) -> Sender:
        """Built afresh each pass: the job context installed now (tests install theirs)."""
        jobs = self.job_context()
        return Sender(jobs.sessions, jobs.store, self.target, link_ttl=jobs.link_ttl)


class WebhookThread(threading.Thread):
    """Sends due deliveries until stopped. A failed pass (the database down) is logged and
    tried again at the next one; it never ends the thread."""

    def __init__(self, sender: Callable[[], Sender], *, poll_s: float = POLL_SECONDS) -> None:
        super().__init__(name="rosterjobs-webhooks", daemon=True)
        self.sender, self.poll_s = sender, poll_s
        self._stopping = threading.Event()
        self._woken = threading.Event()
        self._last_pass_until = 0.0

    def run(self) -> None:
        while not self._stopping.is_set():
            self._woken.clear()
            self._pass(lambda: not self._stopping.is_set())
            self._woken.wait(self.poll_s)
        # the last pass: what became due just before the stop (the job an embedded CLI
        # command just ran), until the stop's deadline
        self._pass(lambda: time.monotonic() < self._last_pass_until)

    def _pass(self, keep_going: Callable[[], bool]) -> None:
        try:
            deliver_due(self.sender(), keep_going=keep_going)
        except Exception as err:
            log.warning("webhook.pass_failed", error=type(err).__name__)

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._woken.set()

    def stop(self, *, timeout_s: float) -> None:
        """Stop after a last pass over what is due, starting attempts for `timeout_s` (each
        is cut off after `timeout_s` too); waits for the thread at most twice that."""
        self._last_pass_until = time.monotonic() + timeout_s
        self._stopping.set()
        self._woken.set()
        self.join(timeout=2 * timeout_s + 1)
