"""A job's message: which actor runs it and on which queue, by the job's kind, and the one
way it is sent.

The actor names and queues are stated here only: `worker.actors` declares its actors from
`ROUTES`, and everything that sends a job's message (a submit, the API, a fair-share
deferral, a retry, a hand-back, the reaper) goes through the job context's `send` (a
`JobSender`, built once per process from the broker by `worker.runtime.job_sender`), which
looks the actor up here. A message carries the job id only; the job row says the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from schemas.jobs import JobKind


@dataclass(frozen=True)
class Route:
    """Where the message of a job of `kind` goes: `actor_name` on `queue`."""

    kind: str
    actor_name: str
    queue: str


EXPORT = Route(JobKind.EXPORT.value, "export_roster", "exports")
IMPORT = Route(JobKind.IMPORT.value, "import_roster", "imports")
REVERT = Route(JobKind.REVERT.value, "revert_import", "imports")
"""A revert writes the roster as an import does, so it waits in the imports' queue (a
worker serving imports serves reverts, with no queue to add to its `--queues`)."""
ROUTES: dict[str, Route] = {route.kind: route for route in (EXPORT, IMPORT, REVERT)}
ACTORS: dict[str, str] = {kind: route.actor_name for kind, route in ROUTES.items()}
"""Kind → actor name."""
ACTOR_NAMES = frozenset(ACTORS.values())


class JobSender(Protocol):
    """`send(kind, job_id, delay_ms=0)`: put the job's message on the broker, for its kind's
    actor, now or after `delay_ms` (a new message either way, never a dramatiq retry)."""

    def __call__(self, kind: str, job_id: str, delay_ms: int = 0) -> None: ...


ActorSend = Callable[[str, str], None]
"""`send(actor_name, job_id)`: how the reaper names the message it sends."""


def route(kind: str) -> Route:
    """The route of a job of `kind` (KeyError for a kind that has no actor)."""
    return ROUTES[kind]


def kind_of(actor_name: str) -> str:
    """The kind of job `actor_name` runs, for callers that name the actor."""
    for found in ROUTES.values():
        if found.actor_name == actor_name:
            return found.kind
    raise KeyError(f"no job is run by an actor named {actor_name!r}")


def by_actor_name(send: JobSender) -> ActorSend:
    """`send` for a caller that names the actor rather than the kind (the reaper)."""

    def send_to(actor_name: str, job_id: str) -> None:
        send(kind_of(actor_name), job_id)

    return send_to


def no_broker(kind: str, job_id: str, delay_ms: int = 0) -> None:
    """The sender of a context that was given no broker (a script, a test)."""
    raise RuntimeError("this process has no broker to send the job's message on")
