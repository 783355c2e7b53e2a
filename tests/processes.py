"""Running `rosterjobs` as real processes: the CLI, and workers on the real Redis broker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Job

REDIS_URL = os.environ.get("ROSTERJOBS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROSTERJOBS = str(Path(sys.executable).with_name("rosterjobs"))


def service_env(database_url: str, storage_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROSTERJOBS_")}
    env |= {
        "ROSTERJOBS_DATABASE_URL": database_url,
        "ROSTERJOBS_STORAGE_URL": storage_url,
        "ROSTERJOBS_SECRET_KEY": "test-secret-key-not-for-production",
    }
    return env | extra


def run_cli(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROSTERJOBS, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_json(env: dict[str, str], *args: str, cwd: Path) -> Any:
    done = run_cli(env, *args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A broker namespace of this test's own, removed afterwards."""
    namespace = f"rosterjobs-test-{uuid.uuid4().hex[:8]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)


@contextmanager
def worker_process(
    env: dict[str, str], cwd: Path, *, processes: int = 1, threads: int = 1
) -> Iterator[subprocess.Popen[bytes]]:
    """A `rosterjobs worker` process group, stopped (SIGTERM, then SIGKILL) at the end."""
    args = ("worker", "--processes", str(processes), "--threads", str(threads))
    with rosterjobs_process(env, cwd, *args) as process:
        yield process


@contextmanager
def rosterjobs_process(
    env: dict[str, str], cwd: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`rosterjobs ARGS` as a process group of its own, its output in `cwd`, stopped at the end."""
    log = (cwd / f"{args[0]}-{uuid.uuid4().hex[:6]}.log").open("wb")
    process = subprocess.Popen(
        [ROSTERJOBS, *args],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop(process)
        log.close()


@contextmanager
def api_process(env: dict[str, str], cwd: Path, *, ready: str = "/openapi.json") -> Iterator[str]:
    """`rosterjobs api` on a free port, once `ready` answers: its base URL."""
    port = free_port()
    with rosterjobs_process(env, cwd, "api", "--port", str(port)) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + ready, process)
        yield base


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- the portal's side of the HTTP API, over real HTTP ---------------------------------


FINISHED = {"completed", "completed_with_errors", "failed", "cancelled"}


def embedded_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("ROSTERJOBS_")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Portal:
    """What the portal does over HTTP: JSON calls with its token, plain uploads/downloads."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def wait(self, job_id: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while (job := self.call("GET", f"/v1/jobs/{job_id}"))["status"] not in FINISHED:
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        return job


def fetch(url: str, *, method: str = "GET", data: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "rosterjobs api exited"
        try:
            fetch(url)
            return
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.1)


def post_form(url: str, fields: dict[str, str], filename: str, data: bytes) -> int:
    """Upload as a browser form would: every field, then the file last."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url,
        data=b"".join(parts),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def wait_for(
    sessions: sessionmaker[Session],
    job_id: str,
    ready: Callable[[Job], bool],
    *,
    timeout: float = 120,
    every: float = 0.02,
) -> Job:
    """The job's record once `ready` holds for it; fails, saying where the job is, after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if ready(job):
                return job
        assert time.monotonic() < deadline, (job.status, job.processed, job.error)
        time.sleep(every)
