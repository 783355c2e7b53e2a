"""Signed, expiring links served by the API itself, for folder storage.

S3 hands out presigned URLs; a folder cannot, so the API signs its own:

- download: `GET /v1/files/{key}?expires=E&filename=F&signature=S`
- upload:   `PUT /v1/uploads/{job_id}?expires=E&signature=S`

`S` is the hex HMAC-SHA256, under a key derived from the service's secret, of
`METHOD \\n resource \\n E \\n F` (the resource is the object key, or `uploads/{job_id}`;
F is empty for uploads). `E` is a Unix time. A link is its own credential, like a presigned
URL: no bearer token is needed to follow it, so it must stay short-lived (the link TTL).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from jobs.views import LinkMaker


class LinkRefused(Exception):
    """The link is not valid: its signature does not match, or it has expired."""


@dataclass(frozen=True)
class LinkSigner:
    """Signs and checks the API's own links with a key derived from the secret key.

    The derived key keeps link signatures apart from the portal's tokens, which are signed
    with the secret key itself.
    """

    secret_key: str
    ttl_seconds: int

    @property
    def _key(self) -> bytes:
        return hmac.new(self.secret_key.encode(), b"rosterjobs-links-v1", hashlib.sha256).digest()

    def signature(self, method: str, resource: str, expires: int, filename: str = "") -> str:
        message = f"{method}\n{resource}\n{expires}\n{filename}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def expiry(self, now: float | None = None) -> int:
        return int(now if now is not None else time.time()) + self.ttl_seconds

    def verify(
        self,
        method: str,
        resource: str,
        *,
        expires: int,
        signature: str,
        filename: str = "",
        now: float | None = None,
    ) -> None:
        """Raise LinkRefused unless `signature` is right and `expires` has not passed."""
        expected = self.signature(method, resource, expires, filename)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise LinkRefused("This link is not valid: its signature does not match.")
        if expires < (now if now is not None else time.time()):
            raise LinkRefused("This link has expired; ask for a fresh one.")

    def download_url(self, base_url: str, key: str, filename: str) -> str:
        expires = self.expiry()
        query = urlencode(
            {
                "expires": expires,
                "filename": filename,
                "signature": self.signature("GET", key, expires, filename),
            }
        )
        return f"{base_url.rstrip('/')}/v1/files/{quote(key)}?{query}"

    def upload_url(self, base_url: str, job_id: str) -> tuple[str, int]:
        """The signed PUT URL of an import's upload, and its expiry (Unix time)."""
        expires = self.expiry()
        signature = self.signature("PUT", upload_resource(job_id), expires)
        query = urlencode({"expires": expires, "signature": signature})
        return f"{base_url.rstrip('/')}/v1/uploads/{quote(job_id)}?{query}", expires

    def download_links(self, base_url: str) -> LinkMaker:
        return lambda key, filename: self.download_url(base_url, key, filename)


def upload_resource(job_id: str) -> str:
    return f"uploads/{job_id}"
