"""The operations dashboard: server-rendered pages under `/ops`, behind the ops token
(see `api.ops_auth`; switched off, 404, when `ROSTERJOBS_OPS_TOKEN` is not set).

| route | shows or does |
| --- | --- |
| `GET /ops` | every job, newest first, filtered; the last 24 hours at a glance |
| `GET /ops/jobs.json?ids=…` | live figures of those jobs, polled by the page every 2 s |
| `GET /ops/jobs/{id}` | one job: timeline, options, counts, errors, links; cancel, retry |
| `GET /ops/queues` | queue depths, delayed and dead messages; requeue a dead letter |
| `GET /ops/workers` | worker processes seen recently; stuck jobs |
| `GET/POST /ops/login`, `POST /ops/logout` | the session cookie and its server-side record |
| `POST /ops/logout-everyone` | ends every browser's session |

A refusal of a `/ops` address (no such job, a bad filter, an expired form) is a page in the
dashboard's layout for a browser, and the usual `{"detail": …}` JSON for a caller that asks
for `application/json` or anything (`*/*`) (see `refusal_pages`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import RuntimeDep
from api.job_access import JOB_ID, decode_cursor, encode_cursor
from api.ops_auth import ApiCaller, OpsCaller, PageCaller, live_session_id, ops_auth
from api.routes import ops_job, ops_login, ops_revert, ops_system
from api.routes.ops_render import STATIC, error_page, prefers_html, render
from api.routes.ops_views import all_districts, is_stuck, job_rows, live_figures
from schemas.columns import Entity
from schemas.jobs import JobKind, JobStatus
from schemas.oneroster import ONEROSTER
from storage import job_records
from storage.job_records import JobFilter

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])

PAGE_SIZE = 50
LIVE_IDS_MAX = 100

Text = Annotated[str | None, Query(max_length=100)]
Refusal = Callable[[Request, Exception], Response | Awaitable[Response]]


def install(app: FastAPI) -> None:
    """Everything `/ops` needs, in the one call `create_app` makes (after the API's own
    error handlers, which the dashboard's pages hand on to for everything but a browser)."""
    for routes in (router, ops_job.router, ops_revert.router, ops_system.router, ops_login.router):
        app.include_router(routes)
    if app.state.runtime.settings.ops_token:
        app.mount("/ops/static", StaticFiles(directory=STATIC), name="ops-static")
        answer_json = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
        app.add_exception_handler(StarletteHTTPException, refusal_pages(answer_json))


def refusal_pages(answer_json: Refusal) -> Refusal:
    """A refusal (4xx, 5xx) of a `/ops` address, asked for by a browser, as a page in the
    dashboard's layout; every other refusal, and redirects, as `answer_json` answers them."""

    async def refuse(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code < 400 or not _dashboard_page_for_browser(request):
            answer = answer_json(request, exc)
            return await answer if isawaitable(answer) else answer
        caller = await run_in_threadpool(_signed_in, request)
        page = error_page(request, caller, exc.status_code, exc.detail)
        page.headers.update(exc.headers or {})
        return page

    return refuse


def _dashboard_page_for_browser(request: Request) -> bool:
    path = request.url.path
    on_dashboard = path == "/ops" or path.startswith("/ops/")
    return on_dashboard and prefers_html(request.headers.get("accept", ""))


def _signed_in(request: Request) -> OpsCaller | None:
    """The operator behind a browser's session cookie, so the page keeps its navigation;
    None without a live session, or when the database cannot say (the refusal is still
    shown, not turned into a 500). A bearer token is not looked at again: a wrong one was
    counted once already, when it was refused."""
    auth = ops_auth(request)
    try:
        session_id = live_session_id(request, auth)
    except SQLAlchemyError:
        return None
    return OpsCaller(auth, session_id) if session_id else None


@router.get("", response_class=HTMLResponse)
def jobs_page(
    *,
    request: Request,
    caller: PageCaller,
    runtime: RuntimeDep,
    status: Text = None,
    kind: Text = None,
    entity: Text = None,
    district: Text = None,
    since: Text = None,
    until: Text = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> HTMLResponse:
    chosen = {
        "status": status or "",
        "kind": kind or "",
        "entity": entity or "",
        "district": district or "",
        "since": since or "",
        "until": until or "",
    }
    narrowed = job_filter(chosen)
    after = decode_cursor(cursor) if cursor else None
    with runtime.jobs.sessions() as session:
        found = job_records.page_of_all_jobs(session, narrowed, limit=PAGE_SIZE + 1, after=after)
        rows = job_rows(session, found[:PAGE_SIZE], runtime.jobs.stale_after_s)
        day = job_records.summary_since(session, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        districts = all_districts(session)
    kept = {name: value for name, value in chosen.items() if value}
    older = None
    if len(found) > PAGE_SIZE:
        older = "/ops?" + urlencode({**kept, "cursor": encode_cursor(found[PAGE_SIZE - 1])})
    newest = ("/ops?" + urlencode(kept)).rstrip("?") if cursor else None
    return render(
        request,
        caller,
        "jobs.html",
        rows=rows,
        day=day,
        chosen=chosen,
        districts=districts,
        statuses=[status.value for status in JobStatus],
        kinds=[kind.value for kind in JobKind],
        entities=[*(entity.value for entity in Entity), ONEROSTER],
        older=older,
        newest=newest,
    )


def job_filter(chosen: dict[str, str]) -> JobFilter:
    """The table's filter from the form's fields (an empty field leaves it open); 400 for a
    value that is not one of the choices."""
    allowed = {
        "status": {status.value for status in JobStatus},
        "kind": {kind.value for kind in JobKind},
        "entity": {*(entity.value for entity in Entity), ONEROSTER},
    }
    for name, values in allowed.items():
        if chosen[name] and chosen[name] not in values:
            raise HTTPException(400, f"Unknown {name}: {chosen[name]!r}.")
    district = chosen["district"]
    if district and not district.isdigit():
        raise HTTPException(400, "The district is given by its id.")
    return JobFilter(
        status=chosen["status"] or None,
        kind=chosen["kind"] or None,
        entity=chosen["entity"] or None,
        district_id=int(district) if district else None,
        created_since=_moment(chosen["since"], "since"),
        created_until=_moment(chosen["until"], "until"),
    )


def _moment(text: str, name: str) -> dt.datetime | None:
    """A date or date and time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise HTTPException(400, f"{name!r} is not a date and time: {text!r}.") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@router.get("/jobs.json")
def live_jobs(
    caller: ApiCaller,
    runtime: RuntimeDep,
    ids: Annotated[str, Query(max_length=LIVE_IDS_MAX * 37)] = "",
) -> JSONResponse:
    """The live figures of up to 100 jobs (comma-separated ids); unknown ids are left out."""
    wanted = [job_id for job_id in ids.split(",") if job_id]
    if len(wanted) > LIVE_IDS_MAX or not all(JOB_ID.fullmatch(job_id) for job_id in wanted):
        raise HTTPException(400, f"Up to {LIVE_IDS_MAX} job ids, comma-separated.")
    with runtime.jobs.sessions() as session:
        jobs = job_records.jobs_by_ids(session, wanted)
        stale_after_s = runtime.jobs.stale_after_s
        figures = [live_figures(job, is_stuck(job, stale_after_s)) for job in jobs]
    return JSONResponse({"jobs": figures}, headers={"Cache-Control": "no-store"})
