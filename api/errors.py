"""How the API refuses: one status per kind of problem, one JSON shape.

| status | when |
| --- | --- |
| 400 | a body that cannot be read (not UTF-8 JSON), an empty upload |
| 401 | no token, or a malformed, expired or forged one, or an educator the roster lacks |
| 403 | outside the educator's scope (the reason says what), or a bad/expired signed link |
| 404 | no such job, or one of another district (the same answer for both) |
| 409 | the job is not in a state that allows it (already started, already finished) |
| 413 | an upload over the import size limit |
| 422 | request validation, with field-level messages (`detail` is a list) |
| 503 | the database, storage or broker did not answer: try again |

Everything but 422 answers `{"detail": "one sentence"}` (`Problem`).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError

from api.links import LinkRefused
from api.models import Problem
from jobs.errors import RequestRefused
from storage.objects import StorageUnavailable

log = structlog.get_logger("rosterjobs.api")

_DESCRIPTIONS = {
    400: "The body cannot be read (not JSON text; an empty upload).",
    401: "No token, or a malformed, expired or forged one, or an unknown educator.",
    403: "Outside the educator's scope, or a signed link that is not valid.",
    404: "No such job (also for another district's job).",
    409: "The job is not in a state that allows this.",
    413: "The upload is larger than the import size limit.",
    503: "A service the API needs did not answer; try again later.",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the refusals a route can answer."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


def refused(status: int, detail: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers=headers)


def not_found() -> HTTPException:
    return refused(404, "No such job.")


Loc = tuple[str | int, ...]


def field_errors(*problems: tuple[Loc, str]) -> RequestValidationError:
    """A 422 in the same shape as pydantic's, for checks that need the roster."""
    return RequestValidationError(
        [{"loc": loc, "msg": message, "type": "value_error"} for loc, message in problems]
    )


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestRefused, _request_refused)
    app.add_exception_handler(LinkRefused, _link_refused)
    app.add_exception_handler(StorageUnavailable, _unavailable)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(InterfaceError, _unavailable)


async def _request_refused(request: Request, exc: Exception) -> JSONResponse:
    """A field at fault makes the request invalid (422, shaped like pydantic's errors);
    without one, it is outside the educator's reach (403)."""
    field = getattr(exc, "field", None)
    if field:
        loc = ["body", *field.split(".")]
        detail = [{"loc": loc, "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _link_refused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api.service_unavailable", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        {"detail": "A service the API needs did not answer; try again in a moment."},
        status_code=503,
        headers={"Retry-After": "5"},
    )
