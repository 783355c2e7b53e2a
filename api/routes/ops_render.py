"""Rendering the dashboard's pages: Jinja2 templates with autoescape, the filters they use,
the headers every page carries, and a refusal as a page for the browsers that prefer one.

Pages load only their own stylesheet and script (`/ops/static`), so the Content Security
Policy forbids everything else, inline scripts and styles included. Pages are never cached:
they show live state and carry the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.ops_auth import OpsCaller

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def when(moment: dt.datetime | None) -> str:
    moment = utc(moment)
    return "" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def minute(moment: dt.datetime | None) -> str:
    moment = utc(moment)
    return "" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def iso(moment: dt.datetime | None) -> str:
    moment = utc(moment)
    return "" if moment is None else moment.isoformat()


def seconds(value: float | None) -> str:
    """A duration as people read it: `850 ms`, `42 s`, `3 min 05 s`, `2 h 04 min`."""
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    whole = int(value)
    if whole < 60:
        return f"{value:.1f} s" if value < 10 else f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min" + (f" {whole % 60:02d} s" if whole % 60 else "")
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def age(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    moment = utc(moment)
    if moment is None:
        return ""
    return seconds(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()) + " ago"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f} %"


def number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 10 or float(value).is_integer() else f"{value:,.1f}"


def readable(value: Any) -> str:
    """A job's option or warning as a person writes it, never as JSON: `yes`, `a, b`,
    `name 3 · other 4`."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(readable(item) for item in value)
    if isinstance(value, Mapping):
        return " · ".join(f"{name} {readable(item)}" for name, item in value.items())
    return str(value)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, minute=minute, iso=iso, seconds=seconds, age=age)
    env.filters.update(percent=percent, number=number, readable=readable)
    return env


ENVIRONMENT = _environment()


def render(
    request: Request, caller: OpsCaller | None, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    html = ENVIRONMENT.get_template(name).render(
        request=request,
        path=request.url.path,
        csrf=caller.csrf if caller else "",
        authenticated=caller is not None,
        signed_in=caller is not None and caller.session_id is not None,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


NO_SUCH_PAGE = "There is no such page on the dashboard."


def error_page(
    request: Request, caller: OpsCaller | None, status: int, detail: object
) -> HTMLResponse:
    """A refusal as a page of the dashboard: what went wrong, in the route's own sentence,
    and the way back to the jobs. A bare 404 (no route) carries only its status phrase."""
    phrase = HTTPStatus(status).phrase
    sentence = NO_SUCH_PAGE if status == 404 and detail == phrase else str(detail)
    heading = phrase.capitalize()
    return render(request, caller, "error.html", status, heading=heading, detail=sentence)


def prefers_html(accept: str) -> bool:
    """Whether an `Accept` header names HTML at least as keenly as JSON, as a browser's
    navigation does. `curl` and scripts (`*/*`) and the page's own script
    (`application/json`) do not, so they keep the JSON answer."""
    wanted = _qualities(accept)
    html = wanted.get("text/html", 0.0)
    return html > 0 and html >= wanted.get("application/json", 0.0)


def _qualities(accept: str) -> dict[str, float]:
    """`text/html,*/*;q=0.8` → `{"text/html": 1.0, "*/*": 0.8}`; an unreadable q is 0."""
    qualities: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                quality = _quality(value)
        qualities[media.lower()] = quality
    return qualities


def _quality(text: str) -> float:
    try:
        return min(1.0, max(0.0, float(text)))
    except ValueError:
        return 0.0


def redirect(location: str) -> RedirectResponse:
    """After a POST: back to a page, with GET (303)."""
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})
