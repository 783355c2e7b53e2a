"""Queues and dead letters as operations see them, on Redis and on the in-process broker.

Redis holds, under the broker's namespace `ns` (dramatiq's `dispatch.lua`):

| key | type | holds |
| --- | --- | --- |
| `ns:<queue>` | list | ids of the messages waiting to be fetched, oldest first |
| `ns:<queue>.msgs` | hash | id → message, for the waiting and the running ones |
| `ns:<queue>.DQ`, `.DQ.msgs` | list, hash | the delay queue: retries waiting out their backoff |
| `ns:<queue>.XQ` | sorted set | dead-lettered ids, scored by when they died (ms) |
| `ns:<queue>.XQ.msgs` | hash | id → dead message |

The in-process `StubBroker` keeps a `queue.Queue` of encoded messages per queue name and
the dead messages in `dead_letters_by_queue`.

`depth` counts messages no worker has fetched yet (a fetched one is running or about to);
`delayed` the retries waiting out their backoff; `oldest_age_s` is the age of the oldest
waiting message, from its `message_timestamp` (when it was first sent), read from the first
`OLDEST_SCAN` waiting messages. A dead letter's `message_id` is the id the broker files it
under (Redis: the per-enqueue id; in process: dramatiq's message id): pass it back to
`requeue_dead_letter` as it is.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from dramatiq import Broker, Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, q_name

OLDEST_SCAN = 100
RESET_OPTIONS = frozenset({"retries", "traceback", "requeue_timestamp", "eta", "redis_message_id"})
"""Options a requeued dead letter starts without: it gets fresh dramatiq retries."""


@dataclass(frozen=True)
class QueueStats:
    name: str
    depth: int
    delayed: int
    dead: int
    oldest_age_s: float | None


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    actor: str
    job_id: str | None
    failed_at: dt.datetime


def queue_names(broker: Broker) -> list[str]:
    """The queues this process declared (its actors'), without their delay queues."""
    return sorted(name for name in broker.get_declared_queues() if not name.endswith(".DQ"))


def queue_stats(broker: Broker) -> list[QueueStats]:
    """Depth, delayed, dead and oldest waiting message of each queue, by name."""
    if isinstance(broker, StubBroker):
        return [_stub_stats(broker, name) for name in queue_names(broker)]
    return _redis_stats(_redis(broker))


def dead_letters(broker: Broker, *, limit: int = 100) -> list[DeadLetter]:
    """Dead-lettered messages of every queue, the most recent first, at most `limit`."""
    if isinstance(broker, StubBroker):
        found = [
            _stub_letter(name, proxy)
            for name in queue_names(broker)
            for proxy in list(broker.dead_letters_by_queue.get(name, ()))
        ]
    else:
        found = _redis_letters(_redis(broker), limit)
    return sorted(found, key=lambda letter: letter.failed_at, reverse=True)[:limit]


def requeue_dead_letter(broker: Broker, queue: str, message_id: str) -> bool:
    """Take the dead letter out of `queue`'s dead letters and send it again, with fresh
    retries, so a worker runs it; False when there is no such dead letter (already
    requeued, or expired). Two calls at once requeue it once."""
    if isinstance(broker, StubBroker):
        message = _take_stub_letter(broker, queue, message_id)
    else:
        message = _take_redis_letter(_redis(broker), queue, message_id)
    if message is None:
        return False
    broker.enqueue(_fresh(message))
    return True


# --- Redis ------------------------------------------------------------------------------


def _redis(broker: Broker) -> RedisBroker:
    if not isinstance(broker, RedisBroker):
        raise TypeError(f"queues of a {type(broker).__name__} are not supported")
    return broker


def _redis_stats(broker: RedisBroker) -> list[QueueStats]:
    client: Any = broker.client  # redis-py's reply types are unions of every protocol's
    names = queue_names(broker)
    keys = [f"{broker.namespace}:{name}" for name in names]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
            pipe.hlen(f"{key}.DQ.msgs")
            pipe.zcard(f"{key}.XQ")
            pipe.lrange(key, 0, OLDEST_SCAN - 1)
        replies = pipe.execute()
    stats = []
    for index, (name, key) in enumerate(zip(names, keys, strict=True)):
        depth, delayed, dead, head = replies[4 * index : 4 * index + 4]
        payloads = client.hmget(f"{key}.msgs", head) if head else []
        stats.append(QueueStats(name, int(depth), int(delayed), int(dead), _oldest(payloads)))
    return stats


def _redis_letters(broker: RedisBroker, limit: int) -> list[DeadLetter]:
    client: Any = broker.client
    found = []
    for name in queue_names(broker):
        key = f"{broker.namespace}:{name}.XQ"
        scored = client.zrevrange(key, 0, limit - 1, withscores=True)
        if not scored:
            continue
        payloads = client.hmget(f"{key}.msgs", [member for member, _ in scored])
        for (member, score), payload in zip(scored, payloads, strict=True):
            if payload is not None:
                letter_id = member.decode() if isinstance(member, bytes) else str(member)
                found.append(_letter(name, letter_id, Message.decode(payload), score))
    return found


def _take_redis_letter(broker: RedisBroker, queue: str, message_id: str) -> Message[Any] | None:
    client: Any = broker.client
    key = f"{broker.namespace}:{q_name(queue)}.XQ"
    payload = client.hget(f"{key}.msgs", message_id)
    # ZREM answers 1 to one caller only: that caller requeues it
    if not client.zrem(key, message_id):
        return None
    client.hdel(f"{key}.msgs", message_id)
    return None if payload is None else Message.decode(payload)


# --- the in-process broker ---------------------------------------------------------------


def _stub_stats(broker: StubBroker, name: str) -> QueueStats:
    waiting, delayed = broker.queues[name], broker.queues[dq_name(name)]
    with waiting.mutex:
        depth = len(waiting.queue)
        head = list(islice(waiting.queue, OLDEST_SCAN))
    # a delayed message is fetched at once and held until due, then acknowledged
    with delayed.mutex:
        not_due = delayed.unfinished_tasks
    dead = len(broker.dead_letters_by_queue.get(name, ()))
    return QueueStats(name, depth, not_due, dead, _oldest(head))


def _stub_letter(name: str, proxy: Any) -> DeadLetter:
    """dramatiq's Retries stamps `requeue_timestamp` at each failure, the last one included;
    a message failed without it (no retries) is dated by when it was sent."""
    failed_ms = proxy.options.get("requeue_timestamp", proxy.message_timestamp)
    return _letter(name, proxy.message_id, proxy, failed_ms)


def _take_stub_letter(broker: StubBroker, queue: str, message_id: str) -> Message[Any] | None:
    letters = broker.dead_letters_by_queue.get(q_name(queue), [])
    for proxy in list(letters):
        if proxy.message_id == message_id:
            try:
                letters.remove(proxy)
            except ValueError:  # another caller took it first
                return None
            message: Message[Any] = proxy._message
            return message
    return None


# --- both -------------------------------------------------------------------------------


def _letter(queue: str, message_id: str, message: Any, failed_ms: float) -> DeadLetter:
    return DeadLetter(
        queue=queue,
        message_id=message_id,
        actor=message.actor_name,
        job_id=str(message.args[0]) if message.args else None,
        failed_at=dt.datetime.fromtimestamp(failed_ms / 1000, dt.UTC),
    )


def _oldest(payloads: Iterable[bytes | None]) -> float | None:
    stamps = [Message.decode(data).message_timestamp for data in payloads if data is not None]
    if not stamps:
        return None
    return max(0.0, time.time() - min(stamps) / 1000)


def _fresh(message: Message[Any]) -> Message[Any]:
    """The message as a new send: canonical queue, fresh retries, sent now."""
    options = {key: value for key, value in message.options.items() if key not in RESET_OPTIONS}
    return Message(
        queue_name=q_name(message.queue_name),
        actor_name=message.actor_name,
        args=message.args,
        kwargs=message.kwargs,
        options=options,
        message_id=message.message_id,
    )
