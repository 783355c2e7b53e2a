"""The portal's bearer token as the portal signs it: a JWT (HS256) under the service's secret
key, with the claims `district` (id), `sub` (the educator's username), `iat` and `exp`.

Signing lives here, beside the scope a token resolves to, because two edges need it and
neither may lean on the other: `rosterjobs token` (in `worker/`) prints one for a developer,
and the tests sign theirs. Checking a token is the API's alone (`api.auth.decode_token`).
"""

from __future__ import annotations

import time

import jwt

ALGORITHM = "HS256"


def issue_token(
    secret_key: str,
    *,
    district_id: int,
    username: str,
    ttl_seconds: int,
    now: float | None = None,
) -> str:
    """A token as the portal would sign it, valid for `ttl_seconds` from `now`."""
    issued = int(now if now is not None else time.time())
    claims = {"district": district_id, "sub": username, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)
