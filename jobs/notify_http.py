"""Sending one signed webhook request: the Standard Webhooks signature and a bounded POST.

Signature (https://www.standardwebhooks.com): the key is the base64 after `whsec_`; the
signed content is `{webhook-id}.{webhook-timestamp}.{body}`; `webhook-signature` is
`v1,<base64 HMAC-SHA256>`, one per secret, separated by spaces, so a receiver that knows
either the new or the previous secret accepts the request while a secret is rotated.

The POST follows no redirect (a 3xx is an answer like any other non-2xx), reads at most a
few kilobytes of the answer, and is cut off `timeout_s` after it started whatever the
receiver does (a receiver that never answers, or trickles its answer a byte at a time),
so a sender thread is never held longer than that.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
"""The specification's bounds for a secret's length, in bytes after base64."""
ANSWER_MAX_BYTES = 4096
USER_AGENT = "rosterjobs-webhooks/1"
RETRY_SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""Seconds between attempts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts)."""
LEASE_MARGIN_S = 5.0
"""A claimed delivery is another sender's again after twice the timeout and this margin:
an attempt is cut off at the timeout, and the margin covers recording it."""


@dataclass(frozen=True)
class WebhookTarget:
    """Where and how the portal is told: `ROSTERJOBS_WEBHOOK_*` (`worker.settings`).

    `secrets` are `whsec_…` strings, the current one first; every request is signed with
    each of them (a previous secret is kept during a rotation). Never in a repr."""

    url: str
    secrets: tuple[str, ...] = field(repr=False)
    timeout_s: float = 10.0
    retry_schedule_s: tuple[float, ...] = RETRY_SCHEDULE_S

    @property
    def lease_s(self) -> float:
        return 2 * self.timeout_s + LEASE_MARGIN_S


class SecretRefused(ValueError):
    """The webhook secret is not `whsec_` followed by base64 of 24 to 64 bytes."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret; SecretRefused (never naming the secret) if it is
    not one."""
    encoded = secret.strip()
    if not encoded.startswith(SECRET_PREFIX):
        raise SecretRefused()
    try:
        key = base64.b64decode(encoded.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as err:
        raise SecretRefused() from err
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        raise SecretRefused()
    return key


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,<signature>` for each secret, separated by spaces."""
    content = f"{message_id}.{timestamp}.".encode() + body
    signatures = (
        base64.b64encode(hmac.new(secret_key(s), content, hashlib.sha256).digest()).decode()
        for s in secrets
    )
    return " ".join(f"v1,{signature}" for signature in signatures)


def signed_headers(
    secrets: Sequence[str], message_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, message_id, timestamp, body),
    }


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine: `localhost`, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Answer:
    """How one attempt went: the receiver's status code, or an error when none came."""

    status_code: int | None
    error: str | None
    duration_ms: int


def post(url: str, headers: dict[str, str], body: bytes, *, timeout_s: float) -> Answer:
    """POST `body` to `url`, cut off after `timeout_s`; never raises for the receiver's or
    the network's faults (they are the Answer's `error`)."""
    parts = urlsplit(url)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname or "", parts.port, timeout=timeout_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    watchdog = threading.Timer(timeout_s, _cut_off, (connection,))
    started = time.monotonic()
    watchdog.start()
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(ANSWER_MAX_BYTES)
        return Answer(response.status, None, _ms_since(started))
    except (OSError, http.client.HTTPException) as err:
        timed_out = time.monotonic() - started >= timeout_s or isinstance(err, TimeoutError)
        error = f"no answer within {timeout_s:g} s" if timed_out else _describe(err)
        return Answer(None, error, _ms_since(started))
    finally:
        watchdog.cancel()
        connection.close()


def _cut_off(connection: http.client.HTTPConnection) -> None:
    """The deadline passed: unblock whatever the sending thread waits on."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _describe(err: BaseException) -> str:
    detail = getattr(err, "strerror", None) or str(err)
    return f"{type(err).__name__}: {detail}" if detail else type(err).__name__


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
