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

Everything but 422 answers `{"detail": "one sentence"}` (`Problem`). A 422 lists
`{"loc", "msg", "type"}` per field and never echoes the value it refuses: a value JSON or
UTF-8 cannot write (infinity, NaN, an unpaired surrogate) would turn the answer into a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.links import LinkRefused
from api.models import Problem
from jobs.errors import RequestRefused
from jobs.requests import NOT_UTF8
from storage.objects import StorageUnavailable

log = structlog.get_logger("rosterjobs.api")

_DESCRIPTIONS = {
    400: "The body cannot be read: not UTF-8 text, not JSON (the sentence says where), "
    "or an empty upload.",
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
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_refused)
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
        detail = [{"loc": loc, "msg": _writable(str(exc)), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)
    return JSONResponse({"detail": _writable(str(exc))}, status_code=403)


async def _link_refused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api.service_unavailable", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        {"detail": "A service the API needs did not answer; try again in a moment."},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """422 with each problem's place, message and type; 400 for JSON that does not parse,
    which FastAPI reports as a validation error although nothing could be validated."""
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    unparsed = _json_syntax_error(problems, exc.body)
    if unparsed is not None:
        return JSONResponse({"detail": unparsed}, status_code=400)
    return JSONResponse({"detail": [_field_problem(p) for p in problems]}, status_code=422)


# Pydantic's words where they do not say what to fix: a JSON escape such as "\\ud800" alone.
_MESSAGES = {"string_unicode": f"The value {NOT_UTF8}."}


def _field_problem(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem as the answer shows it: never its `input` (the refused value) nor its
    `ctx`; only text UTF-8 can write (a key of the body may hold a lone surrogate)."""
    loc = [part if isinstance(part, int) else _writable(str(part)) for part in problem["loc"]]
    message = _MESSAGES.get(problem["type"]) or str(problem["msg"])
    return {
        "loc": loc,
        "msg": _writable(message.removeprefix("Value error, ")),
        "type": problem["type"],
    }


def _writable(text: str) -> str:
    """`text` with what UTF-8 cannot encode (unpaired surrogates) spelled as `\\udXXX`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# What Python's JSON reader says, in the words of the answer.
_JSON_SYNTAX = {
    "Expecting value": "expected a value",
    "Expecting property name enclosed in double quotes": "expected a name in double quotes",
    "Expecting ',' delimiter": "expected ',' or a closing bracket",
    "Expecting ':' delimiter": "expected ':' after a name",
    "Unterminated string starting at": "a string that never ends starts",
    "Invalid control character at": "a line break or control character inside a string",
    "Invalid \\escape": "an invalid backslash escape",
    "Invalid \\uXXXX escape": "an invalid \\u escape",
    "Extra data": "more text after the JSON value",
}


def _json_syntax_error(problems: Sequence[Any], document: Any) -> str | None:
    """The sentence for a body that is not JSON, with the line and column where reading
    stopped; None when the body was JSON. FastAPI's problem carries the character offset
    in `loc` and the reader's message in `ctx`, and the decoded text as the error's body."""
    for problem in problems:
        if problem.get("type") == "json_invalid" and isinstance(document, str):
            offset = problem["loc"][-1]
            reason = str(problem.get("ctx", {}).get("error", "")).rstrip(": ")
            return _not_json(document, offset if isinstance(offset, int) else 0, reason)
    return None


def _not_json(document: str, offset: int, reason: str) -> str:
    line = document.count("\n", 0, offset) + 1
    column = offset - document.rfind("\n", 0, offset)
    said = _JSON_SYNTAX.get(reason) or reason[:1].lower() + reason[1:] or "unreadable text"
    return f"The body is not valid JSON: {_writable(said)} at line {line}, column {column}."


# FastAPI's sentence when a JSON body cannot even be decoded (the cause is chained).
_UNDECODED_BODY = "There was an error parsing the body"


async def _http_refused(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, with a sentence of ours when it could not
    decode a JSON body: bytes that are not UTF-8, or arrays nested past Python's limit."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNDECODED_BODY:
        return JSONResponse({"detail": _undecoded(exc.__cause__)}, status_code=400)
    return await http_exception_handler(request, exc)


def _undecoded(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "The body is not UTF-8 text."
    if isinstance(cause, RecursionError):
        return "The body nests arrays or objects too deeply to read."
    return "The body cannot be read as JSON text."
