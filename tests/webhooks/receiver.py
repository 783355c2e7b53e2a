"""The portal's side of the webhooks: a real HTTP server on loopback that verifies every
request with the `standardwebhooks` package (written by others, so the signature is
checked by what a receiver would really run) and records what it got.

It answers from a script: each request takes the next answer (a status code, or `HANG`:
no answer at all until the receiver closes), and `200` once the script is used up. An
event counts as received when its request verified and was answered with a 2xx. Tests wait
on what they assert (`wait_for_events`, `wait_for_requests`), never on a sleep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HANG = -1
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64
PREVIOUS_SECRET = "whsec_" + "c2VjcmV0LXRoYXQtd2FzLXVzZWQtYmVmb3JlIQ=="


@dataclass(frozen=True)
class Request:
    webhook_id: str
    headers: dict[str, str]
    event: dict[str, Any] | None
    """The verified body; None when the signature did not verify."""
    answered: int | None = None
    path: str = ""


@dataclass
class Receiver:
    secret: str = SECRET
    script: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    events: list[Request] = field(default_factory=list)
    url: str = ""
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _closing: threading.Event = field(default_factory=threading.Event)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", 0)))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._changed:
            answer = self.script.pop(0) if self.script else 200
        event = _verified(self.secret, body, headers)
        request = Request(headers.get("webhook-id", ""), headers, event, None, handler.path)
        if answer == HANG:
            self._record(request, accepted=False)
            self._closing.wait()
            return
        if event is None:
            answer = 401
        handler.send_response(answer)
        if 300 <= answer < 400:  # somewhere a sender that follows redirects would go
            handler.send_header("location", "/elsewhere")
        handler.send_header("content-length", "0")
        handler.end_headers()
        answered = Request(request.webhook_id, headers, event, answer, handler.path)
        self._record(answered, accepted=200 <= answer < 300)

    def _record(self, request: Request, *, accepted: bool) -> None:
        with self._changed:
            self.requests.append(request)
            if accepted:
                self.events.append(request)
            self._changed.notify_all()

    def wait_for_events(self, count: int, timeout: float = 60) -> list[Request]:
        self._wait(lambda: len(self.events) >= count, timeout, "events")
        return self.events

    def wait_for_requests(self, count: int, timeout: float = 60) -> list[Request]:
        self._wait(lambda: len(self.requests) >= count, timeout, "requests")
        return self.requests

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                assert left > 0, f"{what}: {len(self.requests)} requests, {len(self.events)} events"
                self._changed.wait(left)

    def release(self) -> None:
        """Let go of the requests left hanging: their connections close unanswered."""
        self._closing.set()

    def event_ids(self) -> list[str]:
        return [request.webhook_id for request in self.events]


def _verified(secret: str, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
    try:
        event: dict[str, Any] = Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return None
    return event


@contextmanager
def receiving(
    script: Sequence[int] = (), *, secret: str = SECRET, path: str = "/hooks/rosterjobs"
) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (its `url` set), closed at the end."""
    receiver = Receiver(secret=secret, script=list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()


def body_of(request: Request) -> dict[str, Any]:
    assert request.event is not None, "the request did not verify"
    return request.event


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
