"""Who may use `/ops`: whoever holds the operations token (`ROSTERJOBS_OPS_TOKEN`).

Two ways to show it:

- `Authorization: Bearer <ops token>` on every request (scripts, `curl`); such a caller
  needs no CSRF token, because a browser never adds that header on its own;
- the login form (`/ops/login`), which opens a session (a row of `ops_sessions`, see
  `storage.ops_sessions`) and sets its cookie: `<expires>.<session id>.<signature>`,
  HttpOnly, SameSite=Strict, path `/ops`, Secure over HTTPS, valid for `SESSION_SECONDS`.
  The signature is an HMAC-SHA256 under a key derived from both the secret key and the ops
  token, so rotating either one ends every session. A cookie counts only while its session
  is live in the database: signing out ends it at once, on every API replica, and "Sign out
  everyone" ends them all. Each form of a signed-in page carries a CSRF token, an HMAC of
  the session id, checked on every POST.

Wrong tokens are slowed down per client address (`api.token_guesses`: after 5 within a
minute, 429 with `Retry-After`). Without an ops token configured the dashboard is switched
off and answers 404 throughout. Tokens and signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, quote

import structlog
from fastapi import Depends, HTTPException, Request

from api.deps import get_runtime
from api.token_guesses import TokenGuesses
from storage import ops_sessions
from storage.ops_sessions import OpenedSession

log = structlog.get_logger("rosterjobs.api")

COOKIE = "rosterjobs_ops"
SESSION_SECONDS = 8 * 60 * 60
FORM_MAX_BYTES = 8 * 1024
TOO_MANY_GUESSES = "Too many wrong operations tokens came from your address; try again in {} s."

_GUESSES_MADE = threading.Lock()


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

    def cookie(self, opened: OpenedSession) -> str:
        """The cookie value of a session just opened for a caller who showed the token."""
        payload = f"{int(opened.expires_at.timestamp())}.{opened.session_id}"
        return f"{payload}.{self._sign('session', payload)}"

    def session_id(self, cookie: str, now: float | None = None) -> str | None:
        """The session id of a cookie we signed that has not expired; None otherwise. Only
        the database says whether that session is still live (`live_session_id`)."""
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


def token_guesses(request: Request) -> TokenGuesses:
    """The app's record of wrong tokens, made on its first use: one per app, so one per
    API process (see `api.token_guesses` for what that means with several replicas)."""
    state = request.app.state
    with _GUESSES_MADE:
        if not hasattr(state, "ops_token_guesses"):
            state.ops_token_guesses = TokenGuesses()
    guesses: TokenGuesses = state.ops_token_guesses
    return guesses


def client_address(request: Request) -> str:
    """The address guesses are counted by: the peer as uvicorn reports it (behind a proxy,
    the forwarded client only from the addresses `FORWARDED_ALLOW_IPS` trusts)."""
    return request.client.host if request.client else "unknown"


def guess_wait_seconds(request: Request) -> int:
    """0 when this client may offer a token; else the seconds it must wait (logged)."""
    wait = token_guesses(request).wait_seconds(client_address(request))
    if wait:
        log.warning("ops.token_guesses_refused", path=request.url.path, retry_after=wait)
    return wait


def too_many_guesses(wait_s: int) -> HTTPException:
    return HTTPException(429, TOO_MANY_GUESSES.format(wait_s), {"Retry-After": str(wait_s)})


def offered_token_matches(request: Request, auth: OpsAuth, offered: str) -> bool:
    """Whether `offered` is the ops token, a wrong one counted against the client's address;
    429 instead, without looking at the token, while that address must wait."""
    wait = guess_wait_seconds(request)
    if wait:
        raise too_many_guesses(wait)
    if auth.token_matches(offered):
        return True
    token_guesses(request).failed(client_address(request))
    return False


def live_session_id(request: Request, auth: OpsAuth) -> str | None:
    """The session id of the request's cookie, if we signed it and its session is live."""
    session_id = auth.session_id(request.cookies.get(COOKIE, ""))
    if session_id is None:
        return None
    with get_runtime(request).jobs.sessions() as session:
        return session_id if ops_sessions.is_live(session, session_id) else None


def _caller(request: Request, auth: OpsAuth) -> OpsCaller | None:
    """The caller when a credential was shown; None when none was. 401 for a wrong bearer."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if offered_token_matches(request, auth, credentials.strip()):
            return OpsCaller(auth)
        raise HTTPException(
            401, "The operations token is not right.", {"WWW-Authenticate": "Bearer"}
        )
    session_id = live_session_id(request, auth)
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
