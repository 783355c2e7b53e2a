"""Dashboard sessions are records in the database: signing out ends one for good, "Sign out
everyone" ends them all, on every API process, and an expired one is over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from api.ops_auth import COOKIE, SESSION_SECONDS, OpsAuth
from storage import ops_sessions
from storage.db import unit_of_work
from storage.models import OpsSession
from tests.api.helpers import SECRET
from tests.ops_pages.helpers import OPS_TOKEN, csrf_of, sign_in
from worker.runtime import Runtime


@pytest.fixture
def other_replica(runtime: Runtime) -> Iterator[TestClient]:
    """Another API process on the same database (an app of its own), another browser."""
    with TestClient(create_app(runtime)) as other:
        yield other


def cookie_of(client: TestClient) -> str:
    value = client.cookies.get(COOKIE)
    assert value, "the client holds no session cookie"
    return value


def opens_the_dashboard(client: TestClient, cookie: str) -> bool:
    """Whether `cookie` alone, in a fresh jar, opens `/ops` (else: sent to the login form)."""
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie, path="/ops")
    try:
        return client.get("/ops", follow_redirects=False).status_code == 200
    finally:
        client.cookies.clear()


def test_a_signed_out_cookie_is_refused_afterwards_even_if_a_copy_was_kept(
    ops: TestClient,
) -> None:
    # given a copy of the session cookie, taken before signing out
    kept = cookie_of(ops)
    csrf = csrf_of(ops.get("/ops").text)

    # when
    ops.post("/ops/logout", data={"csrf": csrf}, follow_redirects=False)

    # then
    assert not opens_the_dashboard(ops, kept)


def test_signing_out_through_one_replica_ends_the_session_on_another(
    ops: TestClient, other_replica: TestClient
) -> None:
    # given the session's cookie works on both replicas
    cookie = cookie_of(ops)
    assert opens_the_dashboard(other_replica, cookie)
    ops.cookies.set(COOKIE, cookie, path="/ops")
    csrf = csrf_of(ops.get("/ops").text)

    # when
    ops.post("/ops/logout", data={"csrf": csrf}, follow_redirects=False)

    # then
    assert not opens_the_dashboard(other_replica, cookie)


def test_signing_out_everyone_ends_another_browsers_session_and_ones_own(
    ops: TestClient, other_replica: TestClient
) -> None:
    # given another browser signed in (through another replica)
    sign_in(other_replica)
    theirs, mine = cookie_of(other_replica), cookie_of(ops)
    page = ops.get("/ops").text
    assert 'action="/ops/logout-everyone"' in page

    # when
    response = ops.post(
        "/ops/logout-everyone", data={"csrf": csrf_of(page)}, follow_redirects=False
    )

    # then
    assert response.status_code == 303
    assert response.headers["location"] == "/ops/login"
    assert not opens_the_dashboard(other_replica, theirs)
    assert not opens_the_dashboard(ops, mine)


def test_signing_out_everyone_needs_the_pages_csrf_token(
    ops: TestClient, other_replica: TestClient
) -> None:
    # given
    sign_in(other_replica)
    theirs = cookie_of(other_replica)

    # when a form from elsewhere posts with the operator's cookie
    response = ops.post("/ops/logout-everyone", data={"csrf": "forged"}, follow_redirects=False)

    # then nobody is signed out
    assert response.status_code == 403
    assert opens_the_dashboard(other_replica, theirs)


def test_signing_in_again_after_signing_out_everyone_opens_a_new_session(
    ops: TestClient,
) -> None:
    # given
    csrf = csrf_of(ops.get("/ops").text)
    ops.post("/ops/logout-everyone", data={"csrf": csrf}, follow_redirects=False)

    # when
    response = sign_in(ops)

    # then
    assert response.status_code == 303
    assert ops.get("/ops", follow_redirects=False).status_code == 200


def test_an_expired_session_is_refused(client: TestClient, sessions: sessionmaker[Session]) -> None:
    # given a session opened a moment more than its lifetime ago, never signed out
    opened_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=SESSION_SECONDS + 1)
    with unit_of_work(sessions) as session:
        opened = ops_sessions.open_session(session, lifetime_s=SESSION_SECONDS, now=opened_at)
    cookie = OpsAuth(ops_token=OPS_TOKEN, secret_key=SECRET).cookie(opened)

    # when / then
    assert not opens_the_dashboard(client, cookie)


def test_the_database_expiry_holds_even_when_the_cookie_claims_more_time(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    # given a session whose record has expired, in a cookie signed with a later expiry
    # (as a server with a wrong clock might have signed it)
    with unit_of_work(sessions) as session:
        opened = ops_sessions.open_session(session, lifetime_s=SESSION_SECONDS)
        session.get_one(OpsSession, ops_sessions.session_key(opened.session_id)).expires_at = (
            dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    cookie = OpsAuth(ops_token=OPS_TOKEN, secret_key=SECRET).cookie(opened)

    # when / then
    assert not opens_the_dashboard(client, cookie)


def test_the_database_keeps_no_usable_session_id(
    ops: TestClient, sessions: sessionmaker[Session]
) -> None:
    # given a signed-in browser, whose cookie is `<expires>.<session id>.<signature>`
    session_id = cookie_of(ops).split(".")[1]

    # when
    with sessions() as session:
        stored = session.scalars(select(OpsSession.id)).all()

    # then
    assert stored == [ops_sessions.session_key(session_id)]
    assert session_id not in stored


def test_expired_sessions_are_forgotten_at_the_next_sign_in(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    # given a session that expired a day ago
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=1, seconds=SESSION_SECONDS)
    with unit_of_work(sessions) as session:
        old = ops_sessions.open_session(session, lifetime_s=SESSION_SECONDS, now=long_ago)

    # when
    sign_in(client)

    # then
    with sessions() as session:
        ids = session.scalars(select(OpsSession.id)).all()
    assert len(ids) == 1
    assert ops_sessions.session_key(old.session_id) not in ids
