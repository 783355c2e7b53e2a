"""`/healthz` and `/readyz` as a load balancer and Kubernetes see them: the broker or the
database unreachable (a port nothing listens on, rather than the shared services stopped)
makes the API unready, naming the part; a broker that comes up makes it ready again."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from fastapi.testclient import TestClient
from sqlalchemy import Engine

import api.health
from api import create_app
from jobs.lifecycle import JobContext
from storage.db import make_engine, session_factory
from storage.objects import FolderStore
from tests.api.conftest import api_broker, api_settings, client, runtime, store
from tests.processes import REDIS_URL, free_port
from worker.runtime import Runtime
from worker.settings import Settings

__all__ = ["api_broker", "api_settings", "client", "runtime", "store"]

ALL_OK = {"database": "ok", "broker": "ok", "storage": "ok"}


def redis_runtime(tmp_path: Path, engine: Engine, broker_url: str, objects: Path) -> Runtime:
    """The API's runtime with a Redis broker (so no embedded worker is started)."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        broker_url=broker_url,
        storage_url=str(objects),
        secret_key="test-secret-key-not-for-production",
        base_dir=tmp_path,
    )
    broker = RedisBroker(url=broker_url, namespace="rosterjobs-readyz")  # type: ignore[no-untyped-call]
    ctx = JobContext(sessions=session_factory(engine), store=FolderStore(objects))
    return Runtime(settings, broker, engine, ctx)


def readyz(runtime: Runtime) -> tuple[int, dict[str, object]]:
    with TestClient(create_app(runtime)) as client:
        response = client.get("/readyz")
    return response.status_code, response.json()


@pytest.fixture
def unreachable_database() -> Iterator[Engine]:
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/rosterjobs")
    yield engine
    engine.dispose()


def redis_server(port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A Redis of the test's own on `port`, answering PING when this returns."""
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            return server
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def test_healthz_answers_ok_without_any_credential(client: TestClient) -> None:
    # when
    response = client.get("/healthz")

    # then
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_on_the_embedded_broker(client: TestClient) -> None:
    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": ALL_OK}


def test_readyz_is_ready_when_redis_answers(engine: Engine, tmp_path: Path) -> None:
    # when
    status, body = readyz(redis_runtime(tmp_path, engine, REDIS_URL, tmp_path / "objects"))

    # then
    assert (status, body) == (200, {"status": "ready", "checks": ALL_OK})


def test_readyz_names_the_broker_while_redis_is_unreachable_and_recovers_when_it_is_back(
    engine: Engine, tmp_path: Path
) -> None:
    # given a broker URL whose port nothing listens on yet
    port = free_port()
    runtime = redis_runtime(tmp_path, engine, f"redis://127.0.0.1:{port}/0", tmp_path / "o")

    # when
    down_status, down = readyz(runtime)
    server = redis_server(port, tmp_path)
    try:
        up_status, up = readyz(runtime)
    finally:
        server.terminate()
        server.wait(10)

    # then
    assert down_status == 503
    assert down["detail"] == "Not ready: broker did not answer."
    assert down["checks"] == {"database": "ok", "broker": "unavailable", "storage": "ok"}
    assert (up_status, up["checks"]) == (200, ALL_OK)


def test_readyz_names_the_database_when_it_is_unreachable(
    unreachable_database: Engine, tmp_path: Path
) -> None:
    # given
    runtime = redis_runtime(tmp_path, unreachable_database, REDIS_URL, tmp_path / "objects")

    # when
    status, body = readyz(runtime)

    # then
    assert status == 503
    assert body["detail"] == "Not ready: database did not answer."
    assert body["checks"] == {"database": "unavailable", "broker": "ok", "storage": "ok"}


def test_readyz_names_storage_when_the_object_folder_cannot_be_made(
    engine: Engine, tmp_path: Path
) -> None:
    # given an object folder whose parent is a file
    (tmp_path / "a-file").write_text("not a folder")
    runtime = redis_runtime(tmp_path, engine, REDIS_URL, tmp_path / "a-file" / "objects")

    # when
    status, body = readyz(runtime)

    # then
    assert status == 503
    assert body["checks"] == {"database": "ok", "broker": "ok", "storage": "unavailable"}


class HangingStore(FolderStore):
    """A folder store whose health check answers only after half a second."""

    def check(self) -> None:
        time.sleep(0.5)


def test_a_part_that_hangs_is_reported_as_timed_out_instead_of_holding_the_probe(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given storage that answers after the probe's limit
    monkeypatch.setattr(api.health, "CHECK_TIMEOUT_S", 0.05)
    runtime = redis_runtime(tmp_path, engine, REDIS_URL, tmp_path / "objects")
    hanging = replace(runtime.jobs, store=HangingStore(tmp_path / "objects"))

    # when
    status, body = readyz(replace(runtime, jobs=hanging))

    # then
    assert status == 503
    assert body["checks"] == {"database": "ok", "broker": "ok", "storage": "timeout"}
