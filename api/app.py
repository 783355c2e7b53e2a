"""The ASGI app of the portal's HTTP API (`/v1`, JSON, OpenAPI at `/openapi.json`).

`create_app` takes the `Runtime` built once at the process edge: a test's, or the one
`app_from_env` has `worker.commands.api_runtime` build from the environment, the factory
uvicorn calls by name for `rosterjobs api` (`uvicorn api.app:app_from_env --factory` serves
the same app). Nothing in `api/` reads the environment itself, and nothing in `worker/`
imports `api/`. With the in-process broker, jobs run in a worker thread of the API process
itself (`ensure_embedded_worker`).
"""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import health, metrics
from api.errors import install_handlers
from api.links import LinkSigner
from api.routes import columns, files, follow_ups, jobs, ops, submit
from worker.commands import api_runtime
from worker.runtime import Runtime, ensure_embedded_worker

log = structlog.get_logger("rosterjobs.api")

DESCRIPTION = """\
Roster export and import jobs for the learning portal.

Authenticate with `Authorization: Bearer <token>`: a JWT (HS256) signed with the service's
secret key, with the claims `district` (id), `sub` (the educator's username) and `exp`.
The educator's role and reach come from the roster.

Exports: `POST /v1/exports`, then poll `GET /v1/jobs/{id}` and download `result_url`.
Imports: `POST /v1/imports`, send the file to its `upload` target, poll
`GET /v1/jobs/{id}`, then download `result_url` and `error_report_url`.
Download and upload links need no token; they expire after the configured link lifetime.
"""


def app_from_env() -> FastAPI:
    """The app of `rosterjobs api`, for uvicorn to build (`factory=True`) in the serving
    process: the runtime from the environment, logging as that command sets it."""
    return create_app(api_runtime())


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="rosterjobs",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        # No /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN, without
        # a Content Security Policy. /openapi.json stays; open it in a viewer of your own.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.signer = LinkSigner(runtime.settings.secret_key, runtime.settings.link_ttl)
    install_handlers(app)
    app.add_middleware(RequestLog)
    for module in (submit, jobs, follow_ups, columns, files):
        app.include_router(module.router)
    ops.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if runtime.settings.embedded_broker:
        ensure_embedded_worker(runtime)
    return app


class RequestLog:
    """One `api.request` line per request: method, path (never the query string, where
    signed links keep their signature), status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "api.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
