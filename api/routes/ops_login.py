"""Signing in to the dashboard with the ops token, and out again: one browser, or every
signed-in browser at once (see `api.ops_auth`)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import RuntimeDep
from api.ops_auth import (
    COOKIE,
    SESSION_SECONDS,
    TOO_MANY_GUESSES,
    FormDep,
    OpsAuthDep,
    PageCaller,
    guess_wait_seconds,
    offered_token_matches,
    ops_auth,
    safe_next,
)
from api.routes.ops_render import redirect, render
from storage import ops_sessions
from storage.db import unit_of_work

log = structlog.get_logger("rosterjobs.api")

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next_page: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> HTMLResponse:
    return render(request, None, "login.html", next=safe_next(next_page), notice=None)


@router.post("/login", response_model=None)
def log_in(request: Request, auth: OpsAuthDep, runtime: RuntimeDep, form: FormDep) -> Response:
    """The token right: a new session, its cookie, and on to the page asked for; wrong: 401
    and the form again (the same answer however it is wrong); after too many wrong tokens
    from this address, 429 and the form, without looking at the token."""
    target = safe_next(form.get("next"))
    wait = guess_wait_seconds(request)
    if wait:
        notice = TOO_MANY_GUESSES.format(wait)
        page = render(request, None, "login.html", status=429, next=target, notice=notice)
        page.headers["Retry-After"] = str(wait)
        return page
    if not offered_token_matches(request, auth, form.get("token", "")):
        log.warning("ops.login_refused")
        notice = "That token is not right."
        return render(request, None, "login.html", status=401, next=target, notice=notice)
    with unit_of_work(runtime.jobs.sessions) as session:
        opened = ops_sessions.open_session(session, lifetime_s=SESSION_SECONDS)
    response = redirect(target)
    response.set_cookie(
        COOKIE,
        auth.cookie(opened),
        max_age=SESSION_SECONDS,
        path="/ops",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    log.info("ops.login")
    return response


@router.post("/logout")
def log_out(caller: PageCaller, runtime: RuntimeDep, form: FormDep) -> Response:
    """End this browser's session: its cookie is refused from now on, by every replica,
    even if a copy of it was kept."""
    caller.check_csrf(form)
    if caller.session_id is not None:
        with unit_of_work(runtime.jobs.sessions) as session:
            ops_sessions.revoke(session, caller.session_id)
    log.info("ops.logout")
    return _signed_out()


@router.post("/logout-everyone")
def log_out_everyone(caller: PageCaller, runtime: RuntimeDep, form: FormDep) -> Response:
    """End every session of the dashboard, this one included: for a lost laptop or a
    cookie that may have leaked. Bearer callers (scripts) are not affected; rotate the ops
    token to shut them out."""
    caller.check_csrf(form)
    with unit_of_work(runtime.jobs.sessions) as session:
        ended = ops_sessions.revoke_all(session)
    log.warning("ops.logout_everyone", sessions=ended)
    return _signed_out()


def _signed_out() -> Response:
    """Back to the login form, with the cookie removed from this browser."""
    response = redirect("/ops/login")
    response.delete_cookie(COOKIE, path="/ops", httponly=True, samesite="strict")
    return response
