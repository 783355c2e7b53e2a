"""The operations dashboard: server-rendered pages under `/ops`, behind the ops token
(see `api.ops_auth`; switched off, 404, when `ROSTERJOBS_OPS_TOKEN` is not set).

| route | shows or does |
| --- | --- |
| `GET /ops` | every job, newest first, filtered; the last 24 hours at a glance |
| `GET /ops/jobs.json?ids=…` | live figures of those jobs, polled by the page every 2 s |
| `GET /ops/jobs/{id}` | one job: timeline, options, counts, errors, links; cancel, retry |
| `GET /ops/queues` | queue depths, delayed and dead messages; requeue a dead letter |
| `GET /ops/workers` | worker processes seen recently; stuck jobs |
| `GET/POST /ops/login`, `POST /ops/logout` | the session cookie |
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.deps import RuntimeDep
from api.job_access import JOB_ID, decode_cursor, encode_cursor
from api.ops_auth import ApiCaller, PageCaller, ops_auth
from api.routes import ops_job, ops_login, ops_system
from api.routes.ops_render import STATIC, render
from api.routes.ops_views import all_districts, is_stuck, job_rows, live_figures
from schemas.columns import Entity
from schemas.jobs import JobKind, JobStatus
from storage import job_records
from storage.job_records import JobFilter

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])

PAGE_SIZE = 50
LIVE_IDS_MAX = 100

Text = Annotated[str | None, Query(max_length=100)]


def install(app: FastAPI) -> None:
    """Everything `/ops` needs, in the one call `create_app` makes."""
    for routes in (router, ops_job.router, ops_system.router, ops_login.router):
        app.include_router(routes)
    if app.state.runtime.settings.ops_token:
        app.mount("/ops/static", StaticFiles(directory=STATIC), name="ops-static")


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
        entities=[entity.value for entity in Entity],
        older=older,
        newest=newest,
    )


def job_filter(chosen: dict[str, str]) -> JobFilter:
    """The table's filter from the form's fields (an empty field leaves it open); 400 for a
    value that is not one of the choices."""
    allowed = {
        "status": {status.value for status in JobStatus},
        "kind": {kind.value for kind in JobKind},
        "entity": {entity.value for entity in Entity},
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
