"""Queue figures and dead letters, on the real Redis broker and on the in-process one."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from tests.ops.helpers import eventually, message
from worker.queues import QueueStats, dead_letters, queue_stats, requeue_dead_letter


class FailsOnce:
    """`export_roster` as a job that fails on its first run and succeeds on the next."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def __call__(self, job_id: str) -> None:
        self.runs.append(job_id)
        if len(self.runs) == 1:
            raise RuntimeError("the first run fails")


@pytest.fixture(params=["redis", "stub"])
def failing_worker(request: pytest.FixtureRequest) -> Iterator[tuple[dramatiq.Broker, FailsOnce]]:
    """A broker whose `export_roster` fails once, without retries, and a worker running it."""
    if request.param == "redis":
        broker: dramatiq.Broker = request.getfixturevalue("redis_broker")
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    actor = FailsOnce()
    dramatiq.actor(
        actor, broker=broker, actor_name="export_roster", queue_name="exports", max_retries=0
    )
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    yield broker, actor
    worker.stop()


def test_redis_queue_figures_count_waiting_delayed_and_dead_messages(
    redis_broker: RedisBroker, redis_namespace: str
) -> None:
    # given two waiting exports (the first sent 30 s ago), one retry waiting out its
    # backoff, and one dead letter put in the dead-letter set by hand
    redis_broker.enqueue(message("job-a", sent_s_ago=30))
    redis_broker.enqueue(message("job-b"))
    redis_broker.enqueue(message("job-c"), delay=60_000)
    dead = message("job-d")
    redis_broker.client.zadd(f"{redis_namespace}:exports.XQ", {"dead-1": time.time() * 1000})
    redis_broker.client.hset(f"{redis_namespace}:exports.XQ.msgs", "dead-1", dead.encode())

    # when
    stats = {queue.name: queue for queue in queue_stats(redis_broker)}

    # then
    exports = stats["exports"]
    assert (exports.depth, exports.delayed, exports.dead) == (2, 1, 1)
    assert exports.oldest_age_s is not None and 30 <= exports.oldest_age_s < 60
    assert stats["imports"] == QueueStats("imports", 0, 0, 0, None)
    (letter,) = dead_letters(redis_broker)
    assert (letter.queue, letter.message_id, letter.actor, letter.job_id) == (
        "exports",
        "dead-1",
        "export_roster",
        "job-d",
    )


def test_the_in_process_queue_figures_count_waiting_and_delayed_messages_and_their_age() -> None:
    # given a broker no worker consumes, with two waiting exports and a delayed one
    broker = StubBroker()
    broker.declare_queue("exports")
    broker.enqueue(message("job-a", sent_s_ago=30))
    broker.enqueue(message("job-b"))
    broker.enqueue(message("job-c"), delay=60_000)

    # when
    (exports,) = queue_stats(broker)

    # then
    assert (exports.name, exports.depth, exports.delayed, exports.dead) == ("exports", 2, 1, 0)
    assert exports.oldest_age_s is not None and 30 <= exports.oldest_age_s < 60


def test_a_dead_lettered_message_is_listed_with_its_job_and_requeued_for_a_worker_to_run(
    failing_worker: tuple[dramatiq.Broker, FailsOnce],
) -> None:
    # given a job whose message failed without retries
    broker, actor = failing_worker
    broker.get_actor("export_roster").send("job-42")
    eventually(lambda: len(dead_letters(broker)) == 1)
    (letter,) = dead_letters(broker)

    # when an operator requeues it, twice in a row
    first = requeue_dead_letter(broker, letter.queue, letter.message_id)
    second = requeue_dead_letter(broker, letter.queue, letter.message_id)

    # then
    assert (letter.queue, letter.actor, letter.job_id) == ("exports", "export_roster", "job-42")
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - letter.failed_at < dt.timedelta(minutes=1)
    assert (first, second) == (True, False)
    eventually(lambda: actor.runs == ["job-42", "job-42"])
    assert dead_letters(broker) == []
    eventually(lambda: queue_stats(broker)[0] == QueueStats("exports", 0, 0, 0, None))
