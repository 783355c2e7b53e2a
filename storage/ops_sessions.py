"""Queries of the ops_sessions table: the browsers signed in to the operations dashboard.

A session is live while it has neither expired nor been revoked. The record is in the
database, not in a process's memory, so signing out through one API replica ends the
session on every replica. The cookie carries a random session id (see `api.ops_auth`); the
table keeps only its SHA-256, so a backup or a read-only login to the database opens no
session. Rows are deleted once expired, at the next sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from storage.models import OpsSession, utcnow


@dataclass(frozen=True)
class OpenedSession:
    """A session just opened: `session_id` goes into the cookie and is stored nowhere."""

    session_id: str
    expires_at: dt.datetime


def session_key(session_id: str) -> str:
    """The stored form of a session id (a random id needs no salt or slow hash)."""
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def open_session(
    session: Session, *, lifetime_s: int, now: dt.datetime | None = None
) -> OpenedSession:
    """Record a new session of `lifetime_s` seconds, and forget the expired ones."""
    moment = now or utcnow()
    forget_expired(session, now=moment)
    opened = OpenedSession(secrets.token_urlsafe(32), moment + dt.timedelta(seconds=lifetime_s))
    session.add(
        OpsSession(
            id=session_key(opened.session_id),
            created_at=moment,
            expires_at=opened.expires_at,
            revoked_at=None,
        )
    )
    return opened


def is_live(session: Session, session_id: str, *, now: dt.datetime | None = None) -> bool:
    """Whether the session exists, has not expired and has not been revoked."""
    statement = select(OpsSession.id).where(
        OpsSession.id == session_key(session_id),
        OpsSession.revoked_at.is_(None),
        OpsSession.expires_at > (now or utcnow()),
    )
    return session.scalar(statement) is not None


def revoke(session: Session, session_id: str, *, now: dt.datetime | None = None) -> None:
    """End one session (signing out); its cookie is refused from now on."""
    statement = (
        update(OpsSession)
        .where(OpsSession.id == session_key(session_id), OpsSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)


def revoke_all(session: Session, *, now: dt.datetime | None = None) -> int:
    """End every live session ("Sign out everyone"): how many there were."""
    moment = now or utcnow()
    statement = (
        update(OpsSession)
        .where(OpsSession.revoked_at.is_(None), OpsSession.expires_at > moment)
        .values(revoked_at=moment)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(session.execute(statement))


def forget_expired(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete the sessions past their expiry (revoked or not): how many."""
    statement = (
        delete(OpsSession)
        .where(OpsSession.expires_at <= (now or utcnow()))
        .execution_options(synchronize_session=False)
    )
    return _rowcount(session.execute(statement))


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount
