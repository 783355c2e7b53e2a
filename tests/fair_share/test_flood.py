"""End to end on Redis and Postgres with real `rosterjobs worker` processes: one district
floods the queue with large exports, then each of 19 other districts sends one. With two
jobs of a district at most running at once (the default), the other districts' jobs start
while the flood is still draining, instead of waiting behind it."""

from __future__ import annotations

from pathlib import Path

from storage.db import make_engine, session_factory
from storage.seed import seed_district
from tests.load.traffic import (
    most_running_at_once,
    portal,
    runs,
    seed_districts,
    wait_for_workers,
    wait_until_finished,
    worker_env,
)
from tests.processes import worker_process

FLOOD = 20
FLOOD_STUDENTS = 4000
LIMIT = 2


def test_a_district_flooding_the_queue_lets_every_other_district_start_before_the_flood_drains(
    postgres_url: str, tmp_path: Path, redis_namespace: str
) -> None:
    # given 20 districts, the flooding one large, and two workers; the flooding district
    # sends its exports first
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    flooder = seed_district(engine, name="Flood County", students=FLOOD_STUDENTS)
    others = seed_districts(postgres_url, 19, students=30)
    objects = tmp_path / "objects"
    env = worker_env(postgres_url, redis_namespace, objects)
    with (
        portal(postgres_url, redis_namespace, objects) as sender,
        worker_process(env, tmp_path, processes=2, threads=2),
    ):
        wait_for_workers(sessions, 2)
        flood = [sender.export(flooder) for _ in range(FLOOD)]

        # when the other districts each send one, while the flood is being worked through
        # by two worker processes of two threads each
        singles = [sender.export(district) for district in others]
        wait_until_finished(sessions, flood + singles, timeout=240)

    # then every job ran once, the flood never held more than its share of the workers,
    # and every other district's export started before the flood had drained
    flood_runs, single_runs = runs(sessions, flood), runs(sessions, singles)
    everything = flood_runs + single_runs
    assert {(run.status, run.attempts, run.started_events) for run in everything} == {
        ("completed", 1, 1)
    }
    assert most_running_at_once(flood_runs) <= LIMIT
    drained = max(run.finished_at for run in flood_runs)
    late = [run.id for run in single_runs if run.started_at >= drained]
    assert late == []
    assert sum(run.deferred_events for run in flood_runs) > 0
    assert max(run.deferred_events for run in everything) == 1
    first = min(run.queued_at for run in everything)
    print(
        f"flood drained {(drained - first).total_seconds():.1f} s after the first enqueue; "
        f"the last other district started after "
        f"{(max(run.started_at for run in single_runs) - first).total_seconds():.1f} s; "
        f"at most {most_running_at_once(flood_runs)} flood jobs ran at once; "
        f"{sum(1 for run in flood_runs if run.deferred_events)} of {FLOOD} flood jobs waited"
    )
    engine.dispose()
