"""Who gets into `/ops`: the ops token as a bearer token or through the login form; no
token configured, no dashboard."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from api.ops_auth import COOKIE, SESSION_SECONDS, OpsAuth
from storage import ops_sessions
from storage.db import unit_of_work
from storage.ops_sessions import OpenedSession
from tests.api.helpers import SECRET
from tests.ops_pages.helpers import OPS_TOKEN, csrf_of, sign_in
from worker.runtime import Runtime
from worker.settings import Settings, SettingsError

ROTATED_TOKEN = "a-new-ops-token-after-rotation-0123456789"
PAGES = ["/ops", "/ops/queues", "/ops/workers", "/ops/jobs/00000000-0000-4000-8000-000000000000"]


@pytest.fixture
def switched_off(runtime: Runtime) -> Iterator[TestClient]:
    settings = dataclasses.replace(runtime.settings, ops_token=None)
    with TestClient(create_app(dataclasses.replace(runtime, settings=settings))) as client:
        yield client


@pytest.mark.parametrize("path", [*PAGES, "/ops/login", "/ops/jobs.json", "/ops/static/ops.css"])
def test_without_an_ops_token_configured_the_dashboard_does_not_exist(
    switched_off: TestClient, path: str
) -> None:
    # when
    response = switched_off.get(path, headers={"Authorization": f"Bearer {OPS_TOKEN}"})

    # then
    assert response.status_code == 404


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_credentials_sends_the_browser_to_the_login_form(
    client: TestClient, path: str
) -> None:
    # when
    response = client.get(path + "?status=failed", follow_redirects=False)

    # then
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ops/login?next=%2Fops")
    assert "status%3Dfailed" in response.headers["location"]


def test_the_live_figures_without_credentials_are_a_401(client: TestClient) -> None:
    # when
    response = client.get("/ops/jobs.json?ids=")

    # then
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_ops_token_as_a_bearer_token_opens_every_page(client: TestClient) -> None:
    # given
    headers = {"Authorization": f"Bearer {OPS_TOKEN}"}

    # when
    answers = [client.get(path, headers=headers) for path in PAGES[:3]]

    # then
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert "Sign out" not in answers[0].text  # a bearer caller has no session to end


def test_a_wrong_bearer_token_is_a_401_and_not_a_redirect(client: TestClient) -> None:
    # when
    response = client.get(
        "/ops", headers={"Authorization": "Bearer not-the-token"}, follow_redirects=False
    )

    # then
    assert response.status_code == 401


def test_signing_in_sets_a_strict_httponly_session_cookie_and_goes_back_to_the_page(
    client: TestClient,
) -> None:
    # when
    response = client.post(
        "/ops/login",
        data={"token": OPS_TOKEN, "next": "/ops/queues"},
        follow_redirects=False,
    )

    # then
    assert response.status_code == 303
    assert response.headers["location"] == "/ops/queues"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/ops", f"Max-Age={SESSION_SECONDS}"):
        assert attribute.lower() in cookie.lower()
    assert client.get("/ops/queues").status_code == 200


def test_a_wrong_token_in_the_login_form_is_refused_and_sets_no_cookie(
    client: TestClient,
) -> None:
    # when
    response = sign_in(client, "almost-" + OPS_TOKEN)

    # then
    assert response.status_code == 401
    assert "That token is not right." in response.text
    assert "set-cookie" not in response.headers
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_the_login_form_only_sends_back_to_a_dashboard_page(client: TestClient) -> None:
    # when
    response = client.post(
        "/ops/login",
        data={"token": OPS_TOKEN, "next": "https://elsewhere.example/ops"},
        follow_redirects=False,
    )

    # then
    assert response.headers["location"] == "/ops"


def test_a_forged_expired_or_unrecorded_session_cookie_is_not_a_session(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    # given a session recorded in the database, and cookies made around it
    auth = OpsAuth(ops_token=OPS_TOKEN, secret_key=SECRET)
    with unit_of_work(sessions) as session:
        opened = ops_sessions.open_session(session, lifetime_s=SESSION_SECONDS)
    good = auth.cookie(opened)
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    expired = auth.cookie(OpenedSession(opened.session_id, past))
    other_secret = OpsAuth(ops_token=OPS_TOKEN, secret_key="another").cookie(opened)
    rotated = OpsAuth(ops_token=ROTATED_TOKEN, secret_key=SECRET).cookie(opened)
    unrecorded = auth.cookie(OpenedSession("a-session-id-never-opened", opened.expires_at))

    # when
    answers = {}
    for name, value in {
        "good": good,
        "forged": forged,
        "expired": expired,
        "other_secret": other_secret,
        "rotated": rotated,
        "unrecorded": unrecorded,
    }.items():
        client.cookies.set(COOKIE, value, path="/ops")
        answers[name] = client.get("/ops", follow_redirects=False).status_code
        client.cookies.clear()

    # then
    assert answers == {
        "good": 200,
        "forged": 303,
        "expired": 303,
        "other_secret": 303,
        "rotated": 303,
        "unrecorded": 303,
    }


def test_signing_out_ends_the_session(ops: TestClient) -> None:
    # given
    csrf = csrf_of(ops.get("/ops").text)

    # when
    response = ops.post("/ops/logout", data={"csrf": csrf}, follow_redirects=False)

    # then
    assert response.status_code == 303
    assert response.headers["location"] == "/ops/login"
    assert ops.get("/ops", follow_redirects=False).status_code == 303


def test_pages_forbid_framing_caching_and_scripts_from_elsewhere(ops: TestClient) -> None:
    # when
    response = ops.get("/ops")

    # then
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert ops.get("/ops/static/ops.js").status_code == 200


def test_the_ops_token_is_read_from_the_environment_and_a_short_one_is_refused(
    tmp_path: Path,
) -> None:
    # given
    base = {"ROSTERJOBS_SECRET_KEY": SECRET}

    # when
    unset = Settings.from_env(base, cwd=tmp_path).ops_token
    set_ = Settings.from_env(base | {"ROSTERJOBS_OPS_TOKEN": OPS_TOKEN}, cwd=tmp_path).ops_token

    # then
    assert (unset, set_) == (None, OPS_TOKEN)
    with pytest.raises(SettingsError, match="at least 32 characters"):
        Settings.from_env(base | {"ROSTERJOBS_OPS_TOKEN": "letmein"}, cwd=tmp_path)
