"""Who may use `/ops`: whoever holds the operations token (`ROSTERJOBS_OPS_TOKEN`).

Two ways to show it:

- `Authorization: Bearer <ops token>` on every request (scripts, `curl`); such a caller
  needs no CSRF token, because a browser never adds that header on its own;
- the login form (`/ops/login`), which sets a session cookie:
  `<expires>.<session id>.<signature>`, HttpOnly, SameSite=Strict, path `/ops`, Secure over
  HTTPS, valid for `SESSION_SECONDS`. The signature is an HMAC-SHA256 under a key derived
  from both the secret key and the ops token, so rotating either one ends every session.
  Each form of a signed-in page carries a CSRF token, an HMAC of the session id, checked on
  every POST.

Without an ops token configured the dashboard is switched off and answers 404 throughout.
Tokens and signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, HTTPException, Request

from api.deps import get_runtime

COOKIE = "rosterjobs_ops"
SESSION_SECONDS = 8 * 60 * 60
FORM_MAX_BYTES = 8 * 1024


@dataclass(frozen=True)
class OpsAuth:
    """Checks the ops token, and signs and checks the session cookie and CSRF tokens."""

    ops_token: str
    secret_key: str

    @property
    def _key(self) -> bytes:
        token_digest = hashlib.sha256(self.ops_token.encode()).digest()
        return hmac.new(
            self.secret_key.encode(), b"rosterjobs-ops-v1\n" + token_digest, hashlib.sha256
        ).digest()

    def _sign(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}\n{text}".encode(), hashlib.sha256).hexdigest()

    def token_matches(self, offered: str) -> bool:
        """Digests of equal length are compared, so the time taken tells nothing."""
        offered_digest = hashlib.sha256(offered.encode("utf-8", "replace")).digest()
        return hmac.compare_digest(offered_digest, hashlib.sha256(self.ops_token.encode()).digest())

    def new_session(self, now: float | None = None) -> str:
        """A fresh cookie value for a caller who has just shown the token."""
        expires = int(now if now is not None else time.time()) + SESSION_SECONDS
        session_id = secrets.token_urlsafe(18)
        payload = f"{expires}.{session_id}"
        return f"{payload}.{self._sign('session', payload)}"

    def session_id(self, cookie: str, now: float | None = None) -> str | None:
        """The session id of a cookie we signed that has not expired; None otherwise."""
        expires, _, rest = cookie.partition(".")
        session_id, _, signature = rest.partition(".")
        if not (expires.isdigit() and session_id and signature):
            return None
        expected = self._sign("session", f"{expires}.{session_id}")
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return None
        if int(expires) < (now if now is not None else time.time()):
            return None
        return session_id

    def csrf_token(self, session_id: str) -> str:
        return self._sign("csrf", session_id)

    def csrf_matches(self, session_id: str, offered: str) -> bool:
        expected = self.csrf_token(session_id)
        return hmac.compare_digest(expected.encode(), offered.encode("utf-8", "replace"))


@dataclass(frozen=True)
class OpsCaller:
    """A caller who showed the ops token; `session_id` is None for a bearer caller."""

    auth: OpsAuth
    session_id: str | None = None

    @property
    def csrf(self) -> str:
        """The CSRF token the page's forms send back (empty for a bearer caller)."""
        return self.auth.csrf_token(self.session_id) if self.session_id else ""

    def check_csrf(self, form: dict[str, str]) -> None:
        """403 unless a cookie caller's form carries its session's CSRF token."""
        if self.session_id is None:
            return
        if not self.auth.csrf_matches(self.session_id, form.get("csrf", "")):
            raise HTTPException(403, "This form has expired or did not come from this page.")


def ops_auth(request: Request) -> OpsAuth:
    """The dashboard's credentials; 404 when no ops token is configured (switched off)."""
    settings = get_runtime(request).settings
    if not settings.ops_token:
        raise HTTPException(404, "Not Found")
    return OpsAuth(ops_token=settings.ops_token, secret_key=settings.secret_key)


OpsAuthDep = Annotated[OpsAuth, Depends(ops_auth)]


def _caller(request: Request, auth: OpsAuth) -> OpsCaller | None:
    """The caller when a credential was shown; None when none was. 401 for a wrong bearer."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if auth.token_matches(credentials.strip()):
            return OpsCaller(auth)
        raise HTTPException(
            401, "The operations token is not right.", {"WWW-Authenticate": "Bearer"}
        )
    session_id = auth.session_id(request.cookies.get(COOKIE, ""))
    return OpsCaller(auth, session_id) if session_id else None


def page_caller(request: Request, auth: OpsAuthDep) -> OpsCaller:
    """For pages: without a credential, a redirect to the login form (and back after)."""
    caller = _caller(request, auth)
    if caller is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/ops/login?next={quote(back, safe='')}"
        raise HTTPException(303, "Sign in first.", {"Location": location})
    return caller


def api_caller(request: Request, auth: OpsAuthDep) -> OpsCaller:
    """For the JSON endpoint the page's script polls: 401 without a credential."""
    caller = _caller(request, auth)
    if caller is None:
        raise HTTPException(401, "Sign in first.", {"WWW-Authenticate": "Bearer"})
    return caller


PageCaller = Annotated[OpsCaller, Depends(page_caller)]
ApiCaller = Annotated[OpsCaller, Depends(api_caller)]


async def read_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body, at most `FORM_MAX_BYTES`, one value per
    name (the dashboard's forms have a handful of short fields)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            raise HTTPException(413, "This form is too large.")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as err:
        raise HTTPException(400, "This form cannot be read.") from err
    return {name: values[0] for name, values in fields.items()}


FormDep = Annotated[dict[str, str], Depends(read_form)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path of the dashboard, never another site."""
    if target and target.startswith("/ops") and not target.startswith("//"):
        return target
    return "/ops"
