"""Signing in to the dashboard with the ops token, and out again (see `api.ops_auth`)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.ops_auth import (
    COOKIE,
    SESSION_SECONDS,
    FormDep,
    OpsAuthDep,
    PageCaller,
    ops_auth,
    safe_next,
)
from api.routes.ops_render import redirect, render

log = structlog.get_logger("rosterjobs.api")

router = APIRouter(prefix="/ops", include_in_schema=False, dependencies=[Depends(ops_auth)])


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next_page: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> HTMLResponse:
    return render(request, None, "login.html", next=safe_next(next_page), refused=False)


@router.post("/login", response_model=None)
def log_in(request: Request, auth: OpsAuthDep, form: FormDep) -> Response:
    """The token right: a session cookie and on to the page asked for; wrong: 401 and the
    form again (the same answer however it is wrong)."""
    target = safe_next(form.get("next"))
    if not auth.token_matches(form.get("token", "")):
        log.warning("ops.login_refused")
        return render(request, None, "login.html", status=401, next=target, refused=True)
    response = redirect(target)
    response.set_cookie(
        COOKIE,
        auth.new_session(),
        max_age=SESSION_SECONDS,
        path="/ops",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    log.info("ops.login")
    return response


@router.post("/logout")
def log_out(caller: PageCaller, form: FormDep) -> Response:
    caller.check_csrf(form)
    response = redirect("/ops/login")
    response.delete_cookie(COOKIE, path="/ops", httponly=True, samesite="strict")
    return response
