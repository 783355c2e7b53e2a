"""Who is calling: the portal's bearer token, checked, then the educator's scope.

The portal signs a JWT (HS256) with the service's secret key, with the claims `district`
(the district's id), `sub` (the educator's username) and `exp` (required: a whole Unix
time, at most `ROSTERJOBS_MAX_TOKEN_SECONDS` away, so that a leaked token soon stops
working). The token says only who is asking; what they may do (district admin, school
admin, teacher) comes from the roster, every request, so a change in the roster applies at
once. Signing a token (`schemas.tokens.issue_token`) is not the API's: the CLI does it too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import RuntimeDep
from api.errors import refused
from api.models import MAX_DATABASE_ID, clean_text
from jobs.errors import RequestRefused
from jobs.requests import resolve_scope
from schemas.scope import Scope
from schemas.tokens import ALGORITHM

CLOCK_LEEWAY_SECONDS = 10
MAX_USERNAME = 254

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A JWT (HS256) signed with the service's secret key, with the claims "
    "`district` (id), `sub` (the educator's username) and `exp`.",
)


class TokenRefused(Exception):
    """The token cannot be used."""


@dataclass(frozen=True)
class TokenClaims:
    district_id: int
    username: str


def decode_token(
    token: str, secret_key: str, *, max_seconds: int, now: float | None = None
) -> TokenClaims:
    """Check the signature, the expiry and the claims; raise TokenRefused saying why.

    A token whose `exp` is more than `max_seconds` away is refused like an expired one.
    """
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            # `exp` is checked by `_check_expiry`: PyJWT would take 1.5e9 or "1500000000"
            options={"require": ["exp", "sub", "district"], "verify_exp": False},
            leeway=CLOCK_LEEWAY_SECONDS,
        )
    except jwt.InvalidSignatureError as err:
        raise TokenRefused("The token's signature does not match.") from err
    except jwt.MissingRequiredClaimError as err:
        raise TokenRefused(f"The token has no {err.claim!r} claim.") from err
    except jwt.InvalidTokenError as err:
        raise TokenRefused("The token is malformed.") from err
    _check_expiry(claims["exp"], time.time() if now is None else now, max_seconds)
    return TokenClaims(_district_id(claims.get("district")), _username(claims.get("sub")))


def _check_expiry(exp: Any, now: float, max_seconds: int) -> None:
    """`exp` must be a whole Unix time, not yet past and at most `max_seconds` away (both
    give the portal's clock `CLOCK_LEEWAY_SECONDS` of slack)."""
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise TokenRefused("The token's 'exp' claim must be a whole number of seconds.")
    if exp <= now - CLOCK_LEEWAY_SECONDS:
        raise TokenRefused("The token has expired.")
    if exp > now + max_seconds + CLOCK_LEEWAY_SECONDS:
        raise TokenRefused(
            f"The token's 'exp' claim is more than {max_seconds} seconds away; "
            "ask for a shorter-lived token."
        )


def _district_id(value: Any) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DATABASE_ID:
        raise TokenRefused("The token's 'district' claim must be a district id.")
    return value


def _username(value: Any) -> str:
    try:
        if isinstance(value, str) and 0 < len(value) <= MAX_USERNAME:
            return clean_text(value)
    except ValueError:
        pass
    raise TokenRefused("The token's 'sub' claim must be the educator's username.")


def unauthorized(detail: str, *, invalid: bool = True) -> HTTPException:
    challenge = 'Bearer realm="rosterjobs"'
    if invalid:
        challenge += ', error="invalid_token"'
    return refused(401, detail, headers={"WWW-Authenticate": challenge})


def current_scope(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Scope:
    """The calling educator's scope, or 401."""
    if credentials is None:
        raise unauthorized("Send the header 'Authorization: Bearer <token>'.", invalid=False)
    try:
        claims = decode_token(
            credentials.credentials,
            runtime.settings.secret_key,
            max_seconds=runtime.settings.max_token_seconds,
        )
    except TokenRefused as err:
        raise unauthorized(str(err)) from err
    with runtime.jobs.sessions() as session:
        try:
            return resolve_scope(session, str(claims.district_id), claims.username)
        except RequestRefused as err:
            raise unauthorized("The token names no educator of its district.") from err


ScopeDep = Annotated[Scope, Depends(current_scope)]
