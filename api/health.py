"""Health probes for load balancers and Kubernetes; no credential, nothing secret in them.

- `GET /healthz` (liveness): 200 `{"status": "ok"}` whenever the process answers at all;
  it asks nothing else, so a database outage never gets the API restarted.
- `GET /readyz` (readiness): the database (`SELECT 1`), the broker (Redis `PING`; the
  in-process broker is always ready) and object storage (`store.check()`) are asked at
  once, each given `CHECK_TIMEOUT_S`, so a dead service cannot hang the probe. 200
  `{"status": "ready", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}`, or
  503 with each failed part marked `unavailable` or `timeout` in `checks` and named in
  `detail`. Why a part failed goes to the log (`api.not_ready`), never into the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis
import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, text

from api.deps import RuntimeDep

log = structlog.get_logger("rosterjobs.api")

CHECK_TIMEOUT_S = 1.5
REDIS_TIMEOUT_S = 1.0

router = APIRouter(include_in_schema=False)
"""Left out of the OpenAPI document: probes are for the platform, not for the portal."""


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database, the broker and storage answer")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: _ping_database(runtime.engine),
        "broker": lambda: _ping_broker(runtime.settings.broker_url),
        "storage": runtime.jobs.store.check,
    }
    answers = await asyncio.gather(*(_probe(name, check) for name, check in checks.items()))
    states = dict(answers)
    failed = [name for name, state in states.items() if state != "ok"]
    if failed:
        body: dict[str, Any] = {
            "status": "unavailable",
            "detail": f"Not ready: {', '.join(failed)} did not answer.",
            "checks": states,
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "checks": states})


async def _probe(name: str, check: Callable[[], None]) -> tuple[str, str]:
    """Run one check in a thread, within CHECK_TIMEOUT_S (a check still hung then is left
    to finish on its own)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(check), CHECK_TIMEOUT_S)
    except TimeoutError:
        log.warning("api.not_ready", part=name, error="timeout")
        return name, "timeout"
    except Exception as err:
        log.warning("api.not_ready", part=name, error=type(err).__name__)
        return name, "unavailable"
    return name, "ok"


def _ping_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _ping_broker(broker_url: str | None) -> None:
    """PING over a connection of its own with short timeouts (the broker's client waits
    and retries far longer than a probe may)."""
    if not broker_url:
        return  # the in-process broker lives in this process
    client = redis.Redis.from_url(
        broker_url,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()
