"""Helpers of the fault tests: a private redis-server the test may crash and restart, a
worker's environment with short retry timings, and waiting on a job's record."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from storage.models import Job
from tests.processes import free_port

QUICK_RETRIES = {
    "ROSTERJOBS_HEARTBEAT_SECONDS": "0.5",
    "ROSTERJOBS_REAP_SECONDS": "0.5",
    "ROSTERJOBS_STALE_AFTER_SECONDS": "4",
    "ROSTERJOBS_RETRY_MIN_BACKOFF_MS": "200",
    "ROSTERJOBS_RETRY_MAX_BACKOFF_MS": "1000",
    # as deployed: a worker fetches no more messages than it has threads
    "dramatiq_queue_prefetch": "1",
}
"""Beats, reaps and retries within seconds, so that a fault test ends in seconds too."""


class PrivateRedis:
    """A redis-server of the test's own on a free port, which it may crash and restart.

    `persistent` is the runbook's Redis (`appendonly yes`, fsync every second); otherwise
    nothing is kept (`--save "" --appendonly no`) and a restart forgets every message.
    """

    def __init__(self, folder: Path, *, persistent: bool) -> None:
        self.folder, self.persistent = folder, persistent
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        if not self.persistent:
            persistence = ["--appendonly", "no"]
        persistence += ["--maxmemory-policy", "noeviction"]
        address = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            ["redis-server", *address, "--save", "", *persistence],
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not self._answers():
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)

    def crash(self) -> None:
        """SIGKILL: what a node failure or an OOM kill does to Redis."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.crash()


def running_with_progress(job: Job) -> bool:
    return job.status == "running" and job.processed > 0


def finished(job: Job) -> bool:
    return job.finished_at is not None
