"""`FaultProxy`: a TCP proxy on 127.0.0.1 in front of a real service, whose faults a test
switches on and off while a worker process talks to the service through it.

A connection that is failed is failed in one of two ways (`Fault`):

- `DROP`: accepted, then closed without an answer (the client sees its connection reset or
  closed: botocore's `ConnectionClosedError`, psycopg's "server closed the connection");
- `ANSWER_503`: for HTTP, the request is read and answered `503 Service Unavailable` with
  S3's `ServiceUnavailable` error body, then the connection is closed.

What fails: every new connection (`fail_all`, until `heal`), the next `n` new connections
(`fail_next`), or, once `count` more bytes went one way, the connections open at that moment
and the next `n` (`fail_after_bytes`: a fault in the middle of an upload or a download).
Failing closes the connections already open, so a pooled keep-alive connection does not
slip past a fault.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

CHUNK = 64 * 1024
HEAD_LIMIT = 64 * 1024
S3_UNAVAILABLE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class Fault(enum.Enum):
    DROP = "drop"
    ANSWER_503 = "503"


class Way(enum.Enum):
    UP = "to the service"
    DOWN = "to the client"


@dataclass(frozen=True)
class _Trigger:
    bytes_left: int
    then_fail: int
    fault: Fault
    way: Way


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `upstream` until told to fail."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._fail_forever: Fault | None = None
        self._fail_count = 0
        self._fail_fault = Fault.DROP
        self._trigger: _Trigger | None = None
        self.failed_connections = 0
        self.forwarded_connections = 0
        self._running = True
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- what the test switches -------------------------------------------------------

    def fail_all(self, fault: Fault = Fault.DROP) -> None:
        """Every connection fails from now on, until `heal`; open ones are closed."""
        with self._lock:
            self._fail_forever = fault
        self._close_open()

    def fail_next(self, count: int, fault: Fault = Fault.DROP) -> None:
        """The next `count` new connections fail; open ones are closed."""
        with self._lock:
            self._fail_count, self._fail_fault = count, fault
        self._close_open()

    def fail_after_bytes(self, count: int, way: Way, *, then_fail: int, fault: Fault) -> None:
        """Once `count` more bytes went `way`, break the open connections (in the middle of
        a request or an answer) and fail the next `then_fail` new ones."""
        with self._lock:
            self._trigger = _Trigger(count, then_fail, fault, way)

    def heal(self) -> None:
        with self._lock:
            self._fail_forever, self._fail_count, self._trigger = None, 0, None

    @property
    def triggered(self) -> bool:
        """Whether a `fail_after_bytes` fault has fired (or none was set)."""
        with self._lock:
            return self._trigger is None

    def close(self) -> None:
        self._running = False
        _quiet(self._listener.shutdown, socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._close_open()
        self._thread.join(timeout=5)

    # --- the proxy itself -------------------------------------------------------------

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            fault = self._fault_for_new_connection()
            target = self._refuse if fault else self._forward
            args = (client, fault) if fault else (client,)
            threading.Thread(target=target, args=args, daemon=True).start()

    def _fault_for_new_connection(self) -> Fault | None:
        with self._lock:
            if self._fail_forever is not None:
                self.failed_connections += 1
                return self._fail_forever
            if self._fail_count > 0:
                self._fail_count -= 1
                self.failed_connections += 1
                return self._fail_fault
            self.forwarded_connections += 1
            return None

    def _refuse(self, client: socket.socket, fault: Fault) -> None:
        with client:
            if fault is Fault.ANSWER_503:
                _read_request(client)
                client.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
                    + f"Content-Length: {len(S3_UNAVAILABLE)}\r\n".encode()
                    + b"Connection: close\r\n\r\n"
                    + S3_UNAVAILABLE
                )
                _quiet(client.shutdown, socket.SHUT_WR)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client, Way.DOWN), daemon=True).start()
        self._pump(client, upstream, Way.UP)

    def _pump(self, source: socket.socket, target: socket.socket, way: Way) -> None:
        try:
            while data := source.recv(CHUNK):
                if self._count(len(data), way):
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                _quiet(sock.shutdown, socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._open.difference_update((source, target))

    def _count(self, size: int, way: Way) -> bool:
        """Count bytes going `way`; True when they fired the armed fault."""
        with self._lock:
            trigger = self._trigger
            if trigger is None or trigger.way is not way:
                return False
            if trigger.bytes_left > size:
                left = trigger.bytes_left - size
                self._trigger = _Trigger(left, trigger.then_fail, trigger.fault, way)
                return False
            self._trigger = None
            self._fail_count, self._fail_fault = trigger.then_fail, trigger.fault
        self._close_open()
        return True

    def _close_open(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _quiet(sock.shutdown, socket.SHUT_RDWR)
            sock.close()


def _read_request(client: socket.socket) -> None:
    """Read an HTTP request's head, and its body unless the client waits for `100 Continue`
    (it then takes the 503 as the answer and sends no body)."""
    client.settimeout(5)
    head = b""
    try:
        while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
            chunk = client.recv(CHUNK)
            if not chunk:
                return
            head += chunk
        headers, _, body = head.partition(b"\r\n\r\n")
        lowered = headers.lower()
        if b"expect: 100-continue" in lowered:
            return
        length = _content_length(lowered)
        while len(body) < length and (chunk := client.recv(CHUNK)):
            body += chunk
    except OSError:
        return


def _content_length(headers: bytes) -> int:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            return int(value.strip() or 0)
    return 0


def _quiet(call: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(OSError):
        call(*args)
